"""Lifetime cost: training plus inference compute, and what it costs on real GPUs.

Compute is counted in 16-bit-equivalent FLOPs, the cost model of Kumar et al. 2024 (sec. 4.3):
a matmul costs in proportion to its bits, so training costs C = (6/16) N D P (= 6 N D at 16
bits) and serving T tokens costs (2/16) N T P_serve (Sardana et al. 2024's 2 N T, scaled the
same way). With untied precisions a matmul runs at its widest operand: P = max(P_w, P_a, P_kv).

Inference-aware sizing (Sardana et al. 2024, sec. 3; docs/science.md section 9):
minimize training plus inference compute subject to a target loss. The Lagrange conditions
reduce to one equation in D (:func:`lagrange_tokens`).

GPU cost (Sardana et al. 2024, sec. 4, "real-cost version"), the ``hardware`` cost model
(:class:`GpuSpec`): training seconds = 6 N D / (peak x MFU) with the peak of the narrowest native
format at or above the training precision (a width with no native format runs emulated in the
next wider one); serving prices prefill by compute, 2 N T_in / (peak_serve x MFU_prefill), and
decode by memory traffic: each decode step at batch B reads the served weights once and every
sequence's KV cache, so a token takes (N P_w / 8 / B + KV bytes per sequence) / bandwidth, or
its compute time 2 N / (peak_serve x MFU_prefill) when that is longer (a roofline).

Internally a hardware budget is still "16-bit-equivalent FLOPs": one unit is one FLOP at the
GPU's bf16 rate and the training MFU, so C = GPU-seconds x peak_bf16 x MFU, and a format that
trains s times faster than bf16 costs 16 / s effective bits.

Per-format efficiency (:data:`FORMAT_SPEEDUP`): the MFU is the bf16 run's; a narrower format
trains ``s`` times as fast end to end, s at most its dense-peak ratio to bf16. A dense-peak ratio
of 2 (fp8 on an H100) is not what training gets: the non-GEMM work, the casts and the scales do
not speed up. Defaults come from published end-to-end measurements (fp8: Fishman et al. 2024,
up to ~34%); ``format_speedup`` overrides them (``"fp8=1.3,nvfp4=1.8"``; ``"peak"`` restores the
dense-peak ratios). Hence fp8 on an H100 costs 16 / 1.34 = 11.9 effective bits, not 8.

Model shape (for the KV cache): N = 12 n_layer d_model^2 (Kaplan et al. 2020, eq. 2.1, with
d_attn = d_model, d_ff = 4 d_model) and d_model = 128 n_layer (the aspect ratio of GPT-3 175B,
Brown et al. 2020, Table 2.1: 96 layers, d_model 12288). An ASSUMED shape rule: real models vary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray

from precplan.errors import PrecplanError
from precplan.precision import REFERENCE_BITS
from precplan.numerics import bisect_root
from precplan.hardware import get_gpu, load_catalog

if TYPE_CHECKING:  # pragma: no cover
    from precplan.hardware import Gpu
    from precplan.laws import Law  # annotations only: the shared cost model needs no law package at run time

Array = NDArray[np.float64]

TRAIN_FLOPS = 6.0  # FLOPs per parameter per training token (forward + backward; Hoffmann et al. 2022)
INFER_FLOPS = 2.0  # FLOPs per parameter per served token (forward; Sardana et al. 2024)


def cost_bits(weights: ArrayLike, activations: ArrayLike, kv: ArrayLike) -> Array:
    """The bits a training matmul is paid at: its widest operand, max(P_w, P_a, P_kv)."""
    return np.maximum(np.maximum(np.asarray(weights, dtype=float), activations), kv)


def serve_bits(
    weights: ArrayLike, activations: ArrayLike, kv: ArrayLike,
    post: float | None = None, serve_activations: float | None = None, serve_kv: float | None = None,
) -> Array:
    """The bits a served token is paid at: its widest operand, max(P_serve_w, P_serve_a, P_serve_kv).

    Post-training quantization (``post``) changes the weights only; activations and the KV cache
    stay at their training precision unless ``serve_activations`` / ``serve_kv`` set them."""
    w = np.asarray(weights, dtype=float) if post is None else np.full(np.shape(weights), float(post))
    a = np.asarray(activations, dtype=float) if serve_activations is None else np.full(np.shape(activations), float(serve_activations))
    k = np.asarray(kv, dtype=float) if serve_kv is None else np.full(np.shape(kv), float(serve_kv))
    return cost_bits(w, a, k)


def train_coef(bits: ArrayLike) -> Array:
    """Training FLOPs per parameter-token at ``bits``: 6 P / 16 (Kumar et al. 2024, sec. 4.3)."""
    return TRAIN_FLOPS * np.asarray(bits, dtype=float) / REFERENCE_BITS


def infer_coef(bits: ArrayLike) -> Array:
    """Inference FLOPs per parameter-token served at ``bits``: 2 P / 16 (Sardana's 2 N T, bit-scaled)."""
    return INFER_FLOPS * np.asarray(bits, dtype=float) / REFERENCE_BITS


def lagrange_tokens(law: Law, target: ArrayLike, ratio_tokens: ArrayLike) -> Array:
    """Training tokens of the cheapest model reaching ``target`` loss with inference demand.

    Minimizing c_tr N D + c_inf N T subject to E + A' N^-alpha + B D^-beta = L gives
    (Sardana et al. 2024, App. A; docs/science.md section 9, here with r = c_inf / c_tr):

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


# ---------------------------------------------------------------------------- model shape
ASPECT = 128.0  # d_model / n_layer (GPT-3 175B: 12288 / 96; Brown et al. 2020, Table 2.1)
PARAMS_PER_LAYER_D2 = 12.0  # N = 12 n_layer d_model^2 (Kaplan et al. 2020, eq. 2.1)
SHAPE_RULE = (
    "model shape ASSUMED from N: N = 12 n_layer d_model^2 (Kaplan et al. 2020, eq. 2.1) with d_model = 128 n_layer"
    " (GPT-3 175B's aspect ratio, Brown et al. 2020, Table 2.1)"
)


def model_shape(params: ArrayLike) -> tuple[Array, Array]:
    """(n_layer, d_model) of an N-parameter decoder under the assumed shape rule (real-valued)."""
    N = np.asarray(params, dtype=float)
    layers = np.cbrt(N / (PARAMS_PER_LAYER_D2 * ASPECT**2))
    return layers, ASPECT * layers


def kv_bytes_per_token(params: ArrayLike, kv_bits: ArrayLike, gqa: float = 1.0) -> Array:
    """KV-cache bytes one token of context takes: 2 (K and V) n_layer (d_model / gqa) P_kv / 8."""
    layers, d = model_shape(params)
    return 2.0 * layers * d / gqa * np.asarray(kv_bits, dtype=float) / 8.0


# ---------------------------------------------------------------------------- format efficiency
FP8_GAIN = 1.34
"""End-to-end training throughput of FP8 over BF16: Fishman et al. 2024, "Scaling FP8 training to
trillion-token LLMs" (arXiv:2409.12517, ICLR 2025), abstract: "up to a ~34% throughput
improvement" (Llama2 7B on 256 Intel Gaudi2). Hernandez-Cano et al. 2025, "Towards Fully FP8
GEMM LLM Training at Scale" (arXiv:2505.20524) report up to 43% at 8B with FP8 on every GEMM
(secondary: seen in summaries of the paper, not in its text); the lower, primary figure is used."""

_SAME_RATE = "the fp8 gain, ASSUMED (they run at the fp8 tensor-core rate)"
_FP4 = "ASSUMED 1.34^2, the fp8 gain again over fp8 (no published end-to-end FP4 pretraining throughput was found)"
FORMAT_SPEEDUP: dict[str, tuple[float, str]] = {
    "fp8": (FP8_GAIN, "Fishman et al. 2024, arXiv:2409.12517: up to ~34% over BF16"),
    "mxfp8": (FP8_GAIN, _SAME_RATE), "fp6": (FP8_GAIN, _SAME_RATE), "mxfp6": (FP8_GAIN, _SAME_RATE),
    "fp4": (FP8_GAIN**2, _FP4), "mxfp4": (FP8_GAIN**2, _FP4), "nvfp4": (FP8_GAIN**2, _FP4),
}
"""Default end-to-end training speedup over bf16 per catalog format (value, source), at most the
format's dense-peak ratio to bf16 on the GPU. Formats not listed (bf16, fp16, tf32) train at their
dense-peak ratio (1 for fp16, 0.5 for tf32)."""


def parse_format_speedup(value: "str | Mapping[str, float | str] | None") -> "Mapping[str, float] | str | None":
    """``format_speedup`` as given: ``"fp8=1.3,nvfp4=1.8"``, a mapping, or ``"peak"`` (every format at
    its dense-peak ratio, the cost model before per-format efficiencies). Keys are catalog format
    names (``fp8``, ``mxfp4``, ``nvfp4``...); values are speedups over bf16, > 0."""
    from types import MappingProxyType

    from precplan.hardware import FORMAT_PRECISION

    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() == "peak":
        return "peak"
    if isinstance(value, str):
        items = []
        for part in (t for t in value.split(",") if t.strip()):
            if "=" not in part:
                raise PrecplanError(f"`format_speedup`: {part.strip()!r} is not FORMAT=SPEEDUP (e.g. fp8=1.3,nvfp4=1.8, or peak)")
            k, v = part.split("=", 1)
            items.append((k, v))
    elif isinstance(value, Mapping):
        items = list(value.items())
    else:
        raise PrecplanError(f"`format_speedup`: expected text like fp8=1.3,nvfp4=1.8, a mapping, or peak; got {value!r}")
    if not items:
        raise PrecplanError("`format_speedup`: empty; give FORMAT=SPEEDUP pairs such as fp8=1.3")
    out: dict[str, float] = {}
    for k, v in items:
        key = str(k).strip().lower()
        if key not in FORMAT_PRECISION:
            raise PrecplanError(f"`format_speedup`: unknown format {key!r} (valid: {', '.join(FORMAT_PRECISION)})")
        try:
            x = float(str(v).strip()) if not isinstance(v, (int, float)) or isinstance(v, bool) else float(v)
        except ValueError:
            x = float("nan")
        if isinstance(v, bool) or not (np.isfinite(x) and x > 0):
            raise PrecplanError(f"`format_speedup`: {key}={v!r} must be a positive number (a speedup over bf16, e.g. 1.3)")
        if key in out:
            raise PrecplanError(f"`format_speedup` gives {key} twice")
        out[key] = x
    return MappingProxyType(out)


# ---------------------------------------------------------------------------- GPUs
@dataclass(frozen=True)
class GpuSpec:
    """Hardware, price, utilization and serving setup: the ``hardware`` cost model.

    ``gpu`` is a catalog name (``h100``) or a :class:`precplan.hardware.Gpu`; ``hardware`` a
    catalog file to read it from instead of the bundled one. ``gpus`` is the cluster size (for
    wall-clock days). Serving: requests of ``input_tokens`` + ``output_tokens`` (Sardana et al.'s
    example: 70 + 215), decode at ``batch`` sequences whose KV cache holds ``context`` tokens
    (default: one request's tokens), ``gqa`` query heads per KV head."""

    gpu: "str | Gpu" = "h100"
    price: float | None = None  # dollars per GPU-hour (training and inference)
    mfu: float = 0.5  # training model-FLOPs utilization
    prefill_mfu: float = 0.5
    input_tokens: float = 70.0  # per request (Sardana et al.'s example)
    output_tokens: float = 215.0
    batch: float = 64.0  # decode batch: ASSUMED default
    context: float | None = None  # KV-cache tokens per sequence (default input + output tokens)
    gqa: float = 4.0  # query heads per KV head: grouped-query attention as in Llama 3 8B (32/8, Llama Team 2024, Table 3) and Mistral 7B (32/8, Jiang et al. 2023, Table 1)
    gpus: int | None = None
    hardware: str | None = None
    format_speedup: "Mapping[str, float] | str | None" = None  # per-format speedup over bf16 (FORMAT_SPEEDUP) or "peak"
    device: "Gpu" = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        dev = get_gpu(self.gpu, None if self.hardware is None else load_catalog(self.hardware))
        if dev.count != 1:
            raise PrecplanError(f"`gpu` {dev.count}x{dev.id}: name one kind of card (`gpu` {dev.id}) and give the number of cards with `gpus`")
        object.__setattr__(self, "device", dev)
        object.__setattr__(self, "format_speedup", parse_format_speedup(self.format_speedup))
        if isinstance(self.format_speedup, Mapping):
            for key, x in self.format_speedup.items():
                f = dev.formats.get(key)
                if f is not None and x > f.flops / self.reference_peak * (1 + 1e-9):
                    raise PrecplanError(f"`format_speedup` {key}={x:g} on {dev.id}: more than its dense-peak ratio to bf16,"
                                        f" {f.flops / self.reference_peak:.3g} (a speedup over bf16 at the same MFU)")
        for name in ("mfu", "prefill_mfu"):
            v = getattr(self, name)
            if not (np.isfinite(v) and 0 < v <= 1):
                raise PrecplanError(f"`{name}` must be in (0, 1], got {v:g}")
        if self.price is not None and not (np.isfinite(self.price) and self.price > 0):
            raise PrecplanError(f"`price` must be a positive number of dollars per GPU-hour, got {self.price:g}")
        if not (self.input_tokens >= 0 and self.output_tokens >= 0 and self.input_tokens + self.output_tokens > 0):
            raise PrecplanError("`input_tokens` and `output_tokens` must be non-negative and not both zero")
        for name in ("batch", "gqa") + (("context",) if self.context is not None else ()):
            v = getattr(self, name)
            if not (np.isfinite(v) and v >= 1):
                raise PrecplanError(f"`{name}` must be a number >= 1, got {v:g}")
        if self.gpus is not None and not (isinstance(self.gpus, (int, np.integer)) and self.gpus >= 1):
            raise PrecplanError(f"`gpus` must be a whole number of GPUs >= 1, got {self.gpus!r}")

    # ------------------------------------------------------------------ rates
    @property
    def name(self) -> str:
        return self.device.name

    @property
    def reference_peak(self) -> float:
        """The bf16 (or fp16) dense peak: one 16-bit-equivalent FLOP is one FLOP at this rate."""
        return self.device.reference.flops

    @property
    def units_per_second(self) -> float:
        """16-bit-equivalent FLOPs per GPU-second: peak_bf16 x MFU."""
        return self.reference_peak * self.mfu

    def seconds(self, units: ArrayLike) -> Array:
        """GPU-seconds that ``units`` 16-bit-equivalent FLOPs take."""
        return np.asarray(units, dtype=float) / self.units_per_second

    def units(self, gpu_hours: ArrayLike) -> Array:
        """16-bit-equivalent FLOPs in ``gpu_hours`` GPU-hours."""
        return np.asarray(gpu_hours, dtype=float) * 3600.0 * self.units_per_second

    def budget_units(self, gpu_hours: ArrayLike) -> Array:
        """A GPU-hour budget as the planner's budget: :meth:`units`, a hair (1e-12) under, so that
        floating-point rounding never puts a plan that spends it all over the hours given."""
        return self.units(gpu_hours) * (1.0 - 1e-12)

    def train_peak(self, bits: ArrayLike) -> Array:
        """Peak FLOP/s a training run at ``bits`` gets (the narrowest native format at or above)."""
        return self.device.runs_in(bits, "training")[0]

    def speedup(self, fmt: str) -> float:
        """End-to-end training speedup over bf16 of catalog format ``fmt`` (``fp8``, ``nvfp4``) on
        this GPU: the user's ``format_speedup``, else the published default (:data:`FORMAT_SPEEDUP`),
        at most the dense-peak ratio; formats without a default run at their dense-peak ratio."""
        f = self.device.formats.get(fmt)
        if f is None:
            raise PrecplanError(f"{self.device.id} has no {fmt} in the catalog (its formats: {', '.join(self.device.formats)})")
        ratio = f.flops / self.reference_peak
        if self.format_speedup == "peak":
            return ratio
        given = self.format_speedup.get(fmt) if isinstance(self.format_speedup, Mapping) else None
        if given is not None:
            return float(given)
        default = FORMAT_SPEEDUP.get(fmt)
        return ratio if default is None else min(ratio, default[0])

    def train_speedup(self, bits: ArrayLike) -> Array:
        """:meth:`speedup` of the format each training width runs in (above the widest format, its
        peak scaled by bits as in :meth:`precplan.hardware.Gpu.runs_in`)."""
        peak, index, fmts = self.device.runs_in(bits, "training")
        table = np.array([self.speedup(f.name) / f.flops for f in fmts])
        return peak * table[index]

    def train_rate(self, bits: ArrayLike) -> Array:
        """Model FLOP/s per GPU a training run at ``bits`` achieves: peak_bf16 x MFU x speedup."""
        return self.units_per_second * self.train_speedup(bits)

    def serve_peak(self, bits: ArrayLike) -> Array:
        """Peak FLOP/s serving at ``bits`` gets (native serving formats include integers)."""
        return self.device.runs_in(bits, "serving")[0]

    def train_coef(self, bits: ArrayLike) -> Array:
        """Training cost per parameter-token in 16-bit-equivalent FLOPs: 6 / speedup(bits)."""
        return TRAIN_FLOPS / self.train_speedup(bits)

    @property
    def context_tokens(self) -> float:
        return float(self.input_tokens + self.output_tokens) if self.context is None else float(self.context)

    def infer_terms(self, tokens: float, bits: ArrayLike, weight_bits: ArrayLike, kv_bits: ArrayLike) -> tuple[Array, Array, Array]:
        """GPU-seconds of serving ``tokens`` as three coefficients (c, w, k), per candidate:
        seconds(N) = tokens x (s_in c N + s_out max(c N, w N + k N^(2/3))), s_in/s_out the input
        and output shares. c N = 2 N / (peak_serve x MFU_prefill) is a token's compute (prefill;
        decode when compute-bound); w N = N P_w / 8 / batch / bandwidth its share of one decode
        step's weight read; k N^(2/3) = its KV cache's bytes / bandwidth (KV bytes grow as
        n_layer d_model, i.e. as N^(2/3) under the shape rule)."""
        c = INFER_FLOPS / (self.serve_peak(bits) * self.prefill_mfu)
        w = np.asarray(weight_bits, dtype=float) / 8.0 / self.batch / self.device.bandwidth
        k = kv_bytes_per_token(1.0, kv_bits, self.gqa) * self.context_tokens / self.device.bandwidth
        return c, w, k

    def infer_seconds(self, params: ArrayLike, tokens: float, bits: ArrayLike, weight_bits: ArrayLike, kv_bits: ArrayLike) -> Array:
        """GPU-seconds to serve ``tokens`` (input + output) with an N-parameter model.

        Prefill (the input share of tokens): compute, 2 N / (peak_serve x MFU_prefill) a token.
        Decode (the output share): memory traffic, (N P_w / 8 / batch + KV bytes per sequence) /
        bandwidth a token, or its compute time when longer (roofline)."""
        return self.seconds_of(self.infer_terms(tokens, bits, weight_bits, kv_bits), params, tokens)

    def seconds_of(self, terms: tuple[Array, Array, Array], params: ArrayLike, tokens: float) -> Array:
        """:meth:`infer_seconds` from precomputed :meth:`infer_terms` (fast inside searches)."""
        c, w, k = terms
        N = np.asarray(params, dtype=float)
        share_in = self.input_tokens / (self.input_tokens + self.output_tokens)
        compute = c * N
        return tokens * (share_in * compute + (1.0 - share_in) * np.maximum(compute, w * N + k * np.cbrt(N * N)))

    def infer_units(self, params: ArrayLike, tokens: float, bits: ArrayLike, weight_bits: ArrayLike, kv_bits: ArrayLike) -> Array:
        """:meth:`infer_seconds` in 16-bit-equivalent FLOPs (the planner's unit)."""
        return self.infer_seconds(params, tokens, bits, weight_bits, kv_bits) * self.units_per_second

    def infer_floor(self, bits: ArrayLike) -> Array:
        """A lower bound on :meth:`infer_units` per parameter-token (compute only), for search bounds."""
        return INFER_FLOPS / (self.serve_peak(bits) * self.prefill_mfu) * self.units_per_second

    def notes(self, serving: bool = True) -> list[str]:
        """The cost model in words (serving only when tokens are served)."""
        train = (f"cost model: hardware ({self.name}, {self.device.id} in precplan hardware show): training GPU-seconds ="
                 f" 6 N D / (bf16 dense peak x MFU {self.mfu:g} x the format's speedup over bf16: {self.speedup_words()})")
        if not serving:
            return [train]
        return [
            train + "; serving: prefill by compute (2 N FLOPs a token at the serving format's peak x prefill MFU"
            f" {self.prefill_mfu:g}), decode by memory traffic ((N P_w / 8 / batch {self.batch:g} + the KV cache of"
            f" {self.context_tokens:g} tokens) / {self.device.bandwidth / 1e12:.3g}TB/s a token, or its compute time when longer)"
            f"; requests of {self.input_tokens:g} input + {self.output_tokens:g} output tokens",
        ]


    def speedup_words(self) -> str:
        """The per-format speedups this GPU's training formats get, with their sources, once."""
        if self.format_speedup == "peak":
            return "each format at its dense-peak ratio (`format_speedup` peak)"
        given = self.format_speedup if isinstance(self.format_speedup, Mapping) else {}
        parts, sources = [], {}
        for key in ("fp8", "mxfp8", "fp6", "mxfp6", "fp4", "mxfp4", "nvfp4"):
            if key not in self.device.formats or not self.device.formats[key].native:
                continue
            s = self.speedup(key)
            parts.append(f"{key} {s:.3g}")
            if key in given:
                sources.setdefault("given in `format_speedup`", []).append(key)
            elif key in FORMAT_SPEEDUP and s < self.device.formats[key].flops / self.reference_peak:
                sources.setdefault(FORMAT_SPEEDUP[key][1], []).append(key)
            else:
                sources.setdefault("its dense-peak ratio", []).append(key)
        if not parts:
            return "none narrower than bf16 here"
        why = "; ".join(f"{', '.join(ks)}: {src}" for src, ks in sources.items())
        return f"{', '.join(parts)} ({why}; override with `format_speedup`, e.g. fp8=1.3, or peak)"


@dataclass(frozen=True)
class GpuCost:
    """GPU-hours (and dollars when a price is given) of training and lifetime inference."""

    gpu: str
    train_format: str  # the native format training runs in (fp8-e4m3, bf16, ...)
    emulated: bool  # the training width has no native format: it runs in train_format's
    train_peak_flops: float
    train_gpu_hours: float
    inference_gpu_hours: float
    total_gpu_hours: float
    gpus: int | None
    wall_days: float | None  # training wall-clock days on ``gpus`` GPUs
    serve_format: str
    serve_peak_flops: float
    train_dollars: float | None
    inference_dollars: float | None
    total_dollars: float | None
    notes: list[str] = field(default_factory=list)


def gpu_costs(
    spec: GpuSpec, params: ArrayLike, tokens: ArrayLike, train_bits: ArrayLike, inference_tokens: float,
    serve: ArrayLike, serve_weights: ArrayLike | None = None, serve_kv: ArrayLike | None = None,
) -> list[GpuCost]:
    """GPU-hours and dollars of plans (vectorized): training 6 N D / (3600 x
    :meth:`GpuSpec.train_rate`) at the format the training bits run in; inference :meth:`GpuSpec.infer_seconds` / 3600 (Sardana et al.
    2024, sec. 4's real-cost version, with decode priced by memory traffic). ``serve`` is the
    served token's widest operand; ``serve_weights`` / ``serve_kv`` the served weights' and KV
    cache's bits (default ``serve``)."""
    N, D = np.atleast_1d(np.asarray(params, dtype=float)), np.atleast_1d(np.asarray(tokens, dtype=float))
    tb = np.broadcast_to(np.asarray(train_bits, dtype=float), N.shape)
    sb = np.broadcast_to(np.asarray(serve, dtype=float), N.shape)
    sw = sb if serve_weights is None else np.broadcast_to(np.asarray(serve_weights, dtype=float), N.shape)
    sk = sb if serve_kv is None else np.broadcast_to(np.asarray(serve_kv, dtype=float), N.shape)
    dev = spec.device
    peak_tr, idx_tr, fmts_tr = dev.runs_in(tb, "training")
    peak_s, idx_s, fmts_s = dev.runs_in(sb, "serving")
    train_h = TRAIN_FLOPS * N * D / (3600.0 * spec.train_rate(tb))
    infer_h = spec.infer_seconds(N, inference_tokens, sb, sw, sk) / 3600.0 if inference_tokens > 0 else np.zeros(N.shape)
    notes = []
    widest = fmts_tr[-1]
    if np.any(tb > widest.bits + 1e-9):
        notes.append(f"{dev.name}: precisions above {widest.bits:g} bits are assumed to run at the {widest.name} rate x {widest.bits:g} / bits")
    price = spec.price
    out = []
    for i in range(N.size):
        ft, fs = fmts_tr[int(idx_tr[i])], fmts_s[int(idx_s[i])]
        tr, inf = float(train_h[i]), float(infer_h[i])
        out.append(GpuCost(
            gpu=dev.id, train_format=ft.precision.name, emulated=bool(abs(tb[i] - ft.bits) > 1e-9 and tb[i] < ft.bits),
            train_peak_flops=float(peak_tr[i]), train_gpu_hours=tr, inference_gpu_hours=inf, total_gpu_hours=tr + inf,
            gpus=spec.gpus, wall_days=None if spec.gpus is None else tr / spec.gpus / 24.0,
            serve_format=fs.precision.name if abs(sb[i] - fs.bits) < 1e-9 else f"{sb[i]:g}-bit in {fs.precision.name}",
            serve_peak_flops=float(peak_s[i]),
            train_dollars=None if price is None else tr * price,
            inference_dollars=None if price is None else inf * price,
            total_dollars=None if price is None else (tr + inf) * price,
            notes=list(notes),
        ))
    return out
