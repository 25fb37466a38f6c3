"""Lifetime cost: training plus inference compute, and what it costs on real GPUs.

Compute is counted in 16-bit-equivalent FLOPs, the cost model of Kumar et al. 2024 (sec. 4.3):
a matmul costs in proportion to its bits, so training costs C = (6/16) N D P (= 6 N D at 16
bits) and serving T tokens costs (2/16) N T P_serve (Sardana et al. 2024's 2 N T, scaled the
same way). With untied precisions a matmul runs at its widest operand: P = max(P_w, P_a, P_kv).

Inference-aware sizing (Sardana et al. 2024, sec. 3 and shared/reference/laws.md sec. 4):
minimize training plus inference compute subject to a target loss. The Lagrange conditions
reduce to one equation in D (:func:`lagrange_tokens`).

GPU cost (Sardana et al. 2024, sec. 4, "real-cost version"): seconds = FLOPs / (peak x MFU),
with the peak of the narrowest format the GPU runs natively at or above the precision.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from precplan.errors import PrecplanError
from precplan.precision import REFERENCE_BITS
from precplan.laws._law import Law
from precplan.numerics import bisect_root

Array = NDArray[np.float64]

TRAIN_FLOPS = 6.0  # FLOPs per parameter per training token (forward + backward; Hoffmann et al. 2022)
INFER_FLOPS = 2.0  # FLOPs per parameter per served token (forward; Sardana et al. 2024)


def cost_bits(weights: ArrayLike, activations: ArrayLike, kv: ArrayLike) -> Array:
    """The bits a training matmul is paid at: its widest operand, max(P_w, P_a, P_kv)."""
    return np.maximum(np.maximum(np.asarray(weights, dtype=float), activations), kv)


def train_coef(bits: ArrayLike) -> Array:
    """Training FLOPs per parameter-token at ``bits``: 6 P / 16 (Kumar et al. 2024, sec. 4.3)."""
    return TRAIN_FLOPS * np.asarray(bits, dtype=float) / REFERENCE_BITS


def infer_coef(bits: ArrayLike) -> Array:
    """Inference FLOPs per parameter-token served at ``bits``: 2 P / 16 (Sardana's 2 N T, bit-scaled)."""
    return INFER_FLOPS * np.asarray(bits, dtype=float) / REFERENCE_BITS


def lagrange_tokens(law: Law, target: ArrayLike, ratio_tokens: ArrayLike) -> Array:
    """Training tokens of the cheapest model reaching ``target`` loss with inference demand.

    Minimizing c_tr N D + c_inf N T subject to E + A' N^-alpha + B D^-beta = L gives
    (Sardana et al. 2024, App. A; laws.md sec. 4, here with r = c_inf / c_tr):

        (B + beta B / alpha) D^-beta + (beta B r T / alpha) D^(-beta-1) + (E - L) = 0

    ``ratio_tokens`` is r T (r = 1/3 at 16 bits). The left side falls monotonically from +inf
    to E - L < 0, so the root is unique; it is found by bisection in log D. NaN where the
    target is out of reach (L <= E or absurdly high)."""
    E, B, alpha, beta = (law.c(k) for k in ("E", "B", "alpha", "beta"))
    L = np.asarray(target, dtype=float)
    rT = np.asarray(ratio_tokens, dtype=float)

    def g(x: Array) -> Array:
        D = np.exp(x)
        return (B + beta * B / alpha) * D**-beta + (beta * B * rT / alpha) * D ** (-beta - 1.0) + (E - L)

    shape = np.broadcast(L, rT, E, B, alpha, beta).shape  # coefficient samples (Law.sampled) broadcast too
    return np.exp(bisect_root(g, np.zeros(shape), np.full(shape, 100.0), iters=90))


# ---------------------------------------------------------------------------- GPUs
# Peak dense FLOP/s by native format width (shared/reference/laws.md sec. 4).
GPUS: dict[str, dict[str, object]] = {
    "h100": {"name": "NVIDIA H100", "peak": {16.0: 9.89e14, 8.0: 1.978e15}, "formats": {16.0: "BF16", 8.0: "FP8"}},
    "a100": {"name": "NVIDIA A100", "peak": {16.0: 3.12e14, 8.0: 6.24e14}, "formats": {16.0: "BF16", 8.0: "INT8"}},
}


@dataclass(frozen=True)
class GpuSpec:
    """Hardware, price and utilization for turning FLOPs into GPU-hours and dollars."""

    gpu: str = "h100"
    price: float | None = None  # dollars per GPU-hour (training and inference)
    mfu: float = 0.5  # training model-FLOPs utilization
    prefill_mfu: float = 0.5
    decode_mfu: float = 0.2
    input_tokens: float = 70.0  # per request (Sardana et al.'s example)
    output_tokens: float = 215.0

    def __post_init__(self) -> None:
        if self.gpu not in GPUS:
            raise PrecplanError(f"--gpu {self.gpu!r}: unknown GPU (valid: {', '.join(GPUS)})")
        for name in ("mfu", "prefill_mfu", "decode_mfu"):
            v = getattr(self, name)
            if not (np.isfinite(v) and 0 < v <= 1):
                raise PrecplanError(f"--{name.replace('_', '-')} must be in (0, 1], got {v:g}")
        if self.price is not None and not (np.isfinite(self.price) and self.price >= 0):
            raise PrecplanError(f"--price must be a non-negative number of dollars per GPU-hour, got {self.price:g}")
        if not (self.input_tokens >= 0 and self.output_tokens >= 0 and self.input_tokens + self.output_tokens > 0):
            raise PrecplanError("--input-tokens and --output-tokens must be non-negative and not both zero")


def peak_rate(gpu: str, bits: ArrayLike) -> tuple[Array, list[str]]:
    """Peak FLOP/s at ``bits``: the narrowest native format at or above it (8 < P < 16 runs at the
    16-bit rate, P < 8 at the 8-bit rate; both noted). Wider than 16 bits is assumed to run at
    the 16-bit rate scaled by 16 / bits (noted)."""
    spec = GPUS[gpu]
    peaks: dict[float, float] = spec["peak"]  # type: ignore[assignment]
    b = np.asarray(bits, dtype=float)
    out = np.full(b.shape, peaks[16.0] * 16.0) / np.maximum(b, 16.0)
    for width in sorted(peaks, reverse=True):
        out = np.where(b <= width, peaks[width], out)
    formats: dict[float, str] = spec["formats"]  # type: ignore[assignment]
    notes = []
    if np.any(b > 16):
        notes.append(f"{spec['name']}: precisions above 16 bits are assumed to run at the BF16 rate x 16 / bits")
    if np.any((b > 8) & (b < 16)):
        notes.append(
            f"{spec['name']} has no native format between 8 and 16 bits: 8-16-bit precisions are costed at its"
            f" {formats[16.0]} rate on the raw 6 N D FLOPs, so their GPU-hours exceed what the 16-bit-equivalent"
            " FLOPs (6/16) N D P imply by 16 / P (the cost model assumes a speed-up no current GPU delivers)"
        )
    if np.any(b < 8):
        notes.append(
            f"{spec['name']} has no native format below 8 bits: sub-8-bit precisions are costed at its"
            f" {formats[8.0]} rate on the raw 6 N D FLOPs, so their GPU-hours exceed what the 16-bit-equivalent"
            " FLOPs (6/16) N D P imply by 8 / P (the cost model assumes a speed-up no current GPU delivers)"
        )
    return out, notes


@dataclass(frozen=True)
class GpuCost:
    """GPU-hours (and dollars when a price is given) of training and lifetime inference."""

    gpu: str
    train_peak_flops: float
    train_gpu_hours: float
    inference_gpu_hours: float
    total_gpu_hours: float
    train_dollars: float | None
    inference_dollars: float | None
    total_dollars: float | None
    notes: list[str] = field(default_factory=list)


def gpu_costs(
    spec: GpuSpec, params: ArrayLike, tokens: ArrayLike, train_bits: ArrayLike, inference_tokens: float, serve_bits: ArrayLike
) -> list[GpuCost]:
    """Sardana et al. 2024, sec. 4 (real cost): hours = 6 N D / (3600 peak MFU_train)
    + 2 N (T_in / (3600 peak MFU_prefill) + T_out / (3600 peak MFU_decode)). Raw FLOPs here,
    not 16-bit-equivalent: the precision enters through the peak rate. Vectorized over plans."""
    N, D = np.atleast_1d(np.asarray(params, dtype=float)), np.atleast_1d(np.asarray(tokens, dtype=float))
    peak_tr, notes = peak_rate(spec.gpu, np.broadcast_to(train_bits, N.shape))
    peak_inf, notes_inf = peak_rate(spec.gpu, np.broadcast_to(serve_bits, N.shape))
    train_h = TRAIN_FLOPS * N * D / (3600.0 * peak_tr * spec.mfu)
    share_in = spec.input_tokens / (spec.input_tokens + spec.output_tokens)
    t_in, t_out = inference_tokens * share_in, inference_tokens * (1.0 - share_in)
    infer_h = INFER_FLOPS * N * (t_in / (3600.0 * peak_inf * spec.prefill_mfu) + t_out / (3600.0 * peak_inf * spec.decode_mfu))
    notes = list(dict.fromkeys(notes + (notes_inf if inference_tokens > 0 else [])))
    price = spec.price
    out = []
    for i in range(N.size):
        tr, inf = float(train_h[i]), float(infer_h[i])
        out.append(
            GpuCost(
                gpu=str(GPUS[spec.gpu]["name"]),
                train_peak_flops=float(peak_tr[i]),
                train_gpu_hours=tr,
                inference_gpu_hours=inf,
                total_gpu_hours=tr + inf,
                train_dollars=None if price is None else tr * price,
                inference_dollars=None if price is None else inf * price,
                total_dollars=None if price is None else (tr + inf) * price,
                notes=notes,
            )
        )
    return out
