"""The problem the solvers answer: what is fixed and what is asked (:class:`Problem`), what a
plan costs under it (training and inference, idealized or on a GPU: :mod:`precplan.costs`),
and the loss a candidate is judged by (:func:`loss_or_inf`); helpers of vectorized searches over
many problems at once (:func:`compact`, :class:`Gather`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from precplan.costs import cost_bits, infer_coef, serve_bits, train_coef
from precplan.laws import Law

if TYPE_CHECKING:  # pragma: no cover
    from precplan.costs import GpuSpec

__all__ = ["Array", "Gather", "Problem", "compact", "loss_or_inf"]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Problem:
    """What is fixed and what is asked. Counts are raw; FLOPs are 16-bit-equivalent."""

    has_budget: bool = False
    params: float | None = None
    tokens: float | None = None
    memory: float | None = None
    serve_memory: float | None = None
    post: float | None = None  # inference precision: adds the PTQ degradation
    inference_tokens: float = 0.0
    target_loss: float | None = None
    serve_activations: float | None = None  # served activations' bits (default: their training bits)
    serve_kv: float | None = None  # served KV cache's bits (default: its training bits)
    hardware: "GpuSpec | None" = None  # None: the idealized cost model (Kumar et al. 2024, sec. 4.3)
    budget_inference: bool = True  # whether a budget covers inference too (False: --gpus/--days, training only)
    kv_memory: tuple[float, float, float] | None = None  # (context, batch, gqa): --serve-memory counts the KV cache

    def costs(self, w: Array, a: Array, kv: Array) -> tuple[Array, Array, Array, Array]:
        """Per candidate: training cost per parameter-token, served token bits, served weight
        bits and served KV bits (in the cost model's 16-bit-equivalent FLOPs)."""
        pc = cost_bits(w, a, kv)
        c_tr = train_coef(pc) if self.hardware is None else self.hardware.train_coef(pc)
        ws = np.asarray(w, dtype=float) if self.post is None else np.full(np.shape(w), float(self.post))
        ks = np.asarray(kv, dtype=float) if self.serve_kv is None else np.full(np.shape(kv), float(self.serve_kv))
        return c_tr, serve_bits(w, a, kv, self.post, self.serve_activations, self.serve_kv), ws, ks

    def infer(self, N: ArrayLike, ps: ArrayLike, ws: ArrayLike, ks: ArrayLike, budget: bool = False) -> Array:
        """Inference cost of serving the lifetime tokens with N parameters (0 for a budget that
        does not cover inference)."""
        T = 0.0 if budget and not self.budget_inference else float(self.inference_tokens)
        N = np.asarray(N, dtype=float)
        if T == 0:
            return np.zeros(np.broadcast(N, ps).shape)
        if self.hardware is None:
            return infer_coef(ps) * N * T
        return self.hardware.infer_units(N, T, ps, ws, ks)

    def infer_fn(self, ps: Array, ws: Array, ks: Array, budget: bool = False):
        """:meth:`infer` as a function of N alone, with the per-candidate constants computed once
        (for searches over N; the arrays may carry a trailing axis the N values broadcast with)."""
        T = 0.0 if budget and not self.budget_inference else float(self.inference_tokens)
        if T == 0:
            return lambda N: np.zeros(np.broadcast(np.asarray(N, dtype=float), ps).shape)
        if self.hardware is None:
            coef = infer_coef(ps) * T
            return lambda N: coef * N
        hw = self.hardware
        terms = hw.infer_terms(T, ps, ws, ks)
        ups = hw.units_per_second
        return lambda N: hw.seconds_of(terms, N, T) * ups

    def infer_log_derivs(self, shape: tuple[int, ...], ps: Array, ws: Array, ks: Array, budget: bool = False):
        """:meth:`infer` as a function of u = log N with its first two derivatives in u, for the
        Newton searches: ``fn(u, idx) -> (I, dI/du, d2I/du2)`` on the problems ``idx`` (indices into
        the problems' ``shape``, flattened).

        Idealized: I = c N T (Sardana et al. 2024's 2 N T, bit-scaled), so all three are c N T.
        Hardware (:meth:`precplan.costs.GpuSpec.seconds_of`): I = T ups (s_in c N + s_out
        max(c N, w N + k N^(2/3))); the decode branch's derivatives in u are w N + (2/3) k N^(2/3)
        and w N + (4/9) k N^(2/3)."""
        T = 0.0 if budget and not self.budget_inference else float(self.inference_tokens)
        if T == 0:
            return lambda u, idx: (np.zeros(u.shape),) * 3
        if self.hardware is None:
            coef = np.broadcast_to(infer_coef(ps) * T, shape).ravel()

            def ideal(u: Array, idx: NDArray[np.intp]) -> tuple[Array, Array, Array]:
                v = coef[idx] * np.exp(u)
                return v, v, v

            return ideal
        hw = self.hardware
        c, w, k = (np.broadcast_to(x, shape).ravel() for x in hw.infer_terms(T, ps, ws, ks))
        scale = T * hw.units_per_second
        share_in = hw.input_tokens / (hw.input_tokens + hw.output_tokens)

        gather = Gather(c=c, w=w, k=k)

        def real(u: Array, idx: NDArray[np.intp]) -> tuple[Array, Array, Array]:
            g = gather(idx)
            N = np.exp(u)
            cn, wn, kn = g["c"] * N, g["w"] * N, g["k"] * np.exp(2.0 * u / 3.0)
            compute = cn >= wn + kn  # np.maximum's branch in seconds_of
            d0 = np.where(compute, cn, wn + kn)
            d1 = np.where(compute, cn, wn + 2.0 / 3.0 * kn)
            d2 = np.where(compute, cn, wn + 4.0 / 9.0 * kn)
            mix = lambda d: scale * (share_in * cn + (1.0 - share_in) * d)  # noqa: E731
            return mix(d0), mix(d1), mix(d2)

        return real

    def infer_floor(self, ps: ArrayLike, budget: bool = False) -> Array:
        """A lower bound on :meth:`infer` per parameter (exact for the idealized model)."""
        T = 0.0 if budget and not self.budget_inference else float(self.inference_tokens)
        return (infer_coef(ps) if self.hardware is None else self.hardware.infer_floor(ps)) * T

    @property
    def mode(self) -> str:
        if self.target_loss is not None:
            return "target-loss"
        return "budget" if self.has_budget else "fixed"



def compact(x: Array) -> Array:
    """``x`` without its broadcast axes (stride 0) copied out: the same values, broadcastable to
    ``x``'s shape, so per-candidate work (precision factors) is done once per candidate."""
    x = np.asarray(x)
    return x[tuple(slice(0, 1) if s == 0 and n > 1 else slice(None) for s, n in zip(x.strides, x.shape))]


def loss_or_inf(law: Law, N: Array, D: Array, w: Array, a: Array, kv: Array, post: float | None) -> Array:
    """law.loss, +inf where N or D is not a positive finite number. A law with coefficient
    samples (:meth:`Law.sampled`) is re-shaped so its sample axis stays the arguments' first."""
    ok = np.isfinite(N) & np.isfinite(D) & (N > 0) & (D > 0)
    law = law.lift(max(np.ndim(x) for x in (N, D, w, a, kv)))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        out = law.loss(np.where(ok, N, 1.0), np.where(ok, D, 1.0), w, a, kv, post=post)
    return np.where(ok & ~np.isnan(out), out, np.inf)


class Gather:
    """The per-problem arrays a Newton search needs at the problems ``idx``, gathered once per
    set of unfinished problems (:func:`precplan.numerics.newton_min` passes the same ``idx``
    object until it compacts). Zero-dimensional values pass through."""

    def __init__(self, **arrays: Array) -> None:
        self.arrays, self.idx, self.got = arrays, None, {}

    def __call__(self, idx: NDArray[np.intp]) -> dict[str, Array]:
        if idx is not self.idx:
            self.idx = idx
            self.got = {k: (v if np.ndim(v) == 0 else v[idx]) for k, v in self.arrays.items()}
        return self.got
