"""Memory limits on the planned model: the weights must fit.

Training memory counts the weights at training precision, N P_w / 8 bytes (Kumar et al.
2024, sec. 4.3.1, "memory-matched" runs: FP4 1.76B, FP6 1.17B, FP8 880M, BF16 440M, FP32
220M in the same bytes). Serving memory counts the weights at the precision they are served
in: the inference (post-training-quantization) precision when one is given, else the
training weight precision. With a serving context (``--context``/``--batch``), serving memory
also counts the KV cache: batch x context x 2 n_layer (d_model / gqa) P_kv / 8 bytes, with the
model's shape derived from N by an ASSUMED rule (:data:`precplan.costs.SHAPE_RULE`).
Optimizer state, gradients and activations are not counted (they depend on the training setup,
not on the law).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from precplan.errors import PrecplanError
from precplan.costs import SHAPE_RULE, kv_bytes_per_token
from precplan.numerics import bisect_root
from precplan.units import format_bytes, format_count, parse_bytes

__all__ = [
    "BITS_PER_BYTE", "check_fixed_params_fit", "format_memory", "kv_cache_bytes", "memory_notes", "params_cap",
    "serve_bytes", "weight_bytes",
]

Array = NDArray[np.float64]
BITS_PER_BYTE = 8.0


def weight_bytes(params: ArrayLike, bits: ArrayLike) -> Array:
    """Bytes the weights take: N P / 8."""
    return np.asarray(params, dtype=float) * np.asarray(bits, dtype=float) / BITS_PER_BYTE


def kv_cache_bytes(params: ArrayLike, kv_bits: ArrayLike, kv_memory: tuple[float, float, float]) -> Array:
    """KV-cache bytes at (context, batch, gqa): batch x context x :func:`precplan.costs.kv_bytes_per_token`."""
    context, batch, gqa = kv_memory
    return batch * context * kv_bytes_per_token(params, kv_bits, gqa)


def serve_bytes(params: ArrayLike, serve_weights: ArrayLike, kv_bits: ArrayLike, kv_memory: tuple[float, float, float] | None) -> Array:
    """Serving memory: the served weights, plus the KV cache when a serving context is given."""
    out = weight_bytes(params, serve_weights)
    return out if kv_memory is None else out + kv_cache_bytes(params, kv_bits, kv_memory)


def params_cap(
    weights: ArrayLike, memory: float | None, serve_memory: float | None, post: float | None,
    kv_memory: tuple[float, float, float] | None = None, kv_bits: ArrayLike | None = None,
) -> Array:
    """The largest N the memory limits allow at weight precision ``weights`` (+inf without limits).

    With ``kv_memory`` (context, batch, gqa) the served weights plus the KV cache at ``kv_bits``
    must fit ``serve_memory``; both grow with N, so the cap is found by bisection in log N."""
    w = np.asarray(weights, dtype=float)
    cap = np.full(w.shape, np.inf)
    if memory is not None:
        cap = np.minimum(cap, BITS_PER_BYTE * memory / w)
    if serve_memory is not None:
        serve = w if post is None else np.full(w.shape, float(post))
        weights_only = BITS_PER_BYTE * serve_memory / serve
        if kv_memory is None:
            cap = np.minimum(cap, weights_only)
        else:
            kb = np.broadcast_to(w if kv_bits is None else np.asarray(kv_bits, dtype=float), w.shape)
            u = bisect_root(lambda x: serve_memory - serve_bytes(np.exp(x), serve, kb, kv_memory), np.zeros(w.shape), np.log(weights_only), iters=80)
            cap = np.minimum(cap, np.where(np.isfinite(u), np.exp(u), 0.0))
    return cap


def format_memory(value: float) -> str:
    """A memory size in the units it was most likely given in: decimal (``880MB``) when that is
    exact to 3 digits, else binary (``1.5GiB``) when that is, else decimal rounded."""
    decimal = format_bytes(value)
    if abs(parse_bytes(decimal) - value) <= 1e-9 * value:
        return decimal
    for suffix, scale in (("TiB", 2.0**40), ("GiB", 2.0**30), ("MiB", 2.0**20), ("KiB", 2.0**10)):
        if value >= scale:
            binary = f"{value / scale:.3g}{suffix}"
            if abs(parse_bytes(binary) - value) <= 1e-9 * value:
                return binary
            break
    return decimal


def check_fixed_params_fit(
    params: float, min_bits: float, memory: float | None, serve_memory: float | None, post: float | None,
    kv_memory: tuple[float, float, float] | None = None, kv_bits: float | None = None,
) -> None:
    """A fixed model size that cannot fit at any candidate precision is an error that says the limit."""
    if memory is not None and weight_bytes(params, min_bits) > memory * (1 + 1e-12):
        raise PrecplanError(
            f"`params` {format_count(params)} does not fit `memory` {format_memory(memory)} at any candidate precision:"
            f" its weights need {format_bytes(float(weight_bytes(params, min_bits)))} even at {min_bits:g} bits"
            f" (at most {format_count(BITS_PER_BYTE * memory / min_bits)} parameters fit)"
        )
    if serve_memory is not None and kv_memory is not None:
        bits = min_bits if post is None else post
        need = float(serve_bytes(params, bits, min_bits if kv_bits is None else kv_bits, kv_memory))
        if need > serve_memory * (1 + 1e-12):
            raise PrecplanError(
                f"`params` {format_count(params)} does not fit `serve_memory` {format_memory(serve_memory)}: served at"
                f" {bits:g} bits its weights plus KV cache need {format_bytes(need)}"
            )
    elif serve_memory is not None:
        bits = min_bits if post is None else post
        if weight_bytes(params, bits) > serve_memory * (1 + 1e-12):
            raise PrecplanError(
                f"`params` {format_count(params)} does not fit `serve_memory` {format_memory(serve_memory)}: served at"
                f" {bits:g} bits its weights need {format_bytes(float(weight_bytes(params, bits)))}"
                f" (at most {format_count(BITS_PER_BYTE * serve_memory / bits)} parameters fit)"
            )


def memory_notes(memory: float | None, serve_memory: float | None, post: float | None, kv_memory: tuple[float, float, float] | None = None, card: str | None = None) -> list[str]:
    """What the memory limits count, for the output."""
    notes = []
    if memory is not None:
        notes.append(
            f"`memory` {format_memory(memory)} counts the weights at training precision (N P_w / 8 bytes);"
            " optimizer state, gradients and activations are not counted"
        )
    if serve_memory is not None:
        at = f"{post:g} bits (the inference precision)" if post is not None else "the training weight precision"
        what = f"`serve_memory` {format_memory(serve_memory)}" + (f" ({card})" if card else "")
        if kv_memory is None:
            notes.append(f"{what} counts the weights served at {at}; the KV cache is not counted (give `context` and `batch` to count it)")
        else:
            context, batch, gqa = kv_memory
            notes.append(
                f"{what} counts the weights served at {at} plus the KV cache of {batch:g} sequences x {context:g} tokens"
                f" (GQA ratio {gqa:g}); {SHAPE_RULE}"
            )
    return notes
