"""The best model size N and token count D at FIXED training precision(s), vectorized.

``solve_bits`` answers, for arrays of budgets and candidate precisions at once:

- budget mode (minimize loss; cost (6/16) N D P + (2/16) N T P_serve = budget):
  Hoffmann et al. 2022's closed form (eq. 4 / Approach 3) with the effective-parameter factor
  folded into A: A' = A f(P)^-alpha and N D = 16 C / (6 P) (Kumar et al. 2024, sec. 4.3; the
  paper's printed eq. 6 has a sign error, N* D* P must stay constant). With inference demand
  or a post-training-quantization term there is no closed form: vectorized safeguarded Newton
  steps (:func:`precplan.numerics.newton_min`) with analytic derivatives, over log D for the
  idealized cost model (where the loss along the budget line is convex) and over log N with a
  GPU, from the closed form's point.
- target-loss mode (minimize lifetime compute subject to L = target): Sardana et al. 2024's
  Lagrange equation in D (:func:`precplan.costs.lagrange_tokens`), or Newton steps over log N
  with D solved from the loss equation (itself by Newton steps in log D when a PTQ term is
  present) and its derivatives by implicit differentiation.
- fixed mode (no budget): N from --params or the memory limit, D from --tokens.

With a GPU (``Problem.hardware``) the training coefficient is the format's real price
(6 peak_bf16 / peak_format) and the inference cost is not linear in N (the KV cache grows as
N^(2/3)): budget and target-loss modes then search log N numerically.

Memory limits cap N (:mod:`precplan.optimize._memory`); the objective along each constraint
is unimodal in log N, so a capped optimum sits on the cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from precplan.costs import cost_bits, infer_coef, lagrange_tokens, serve_bits, train_coef
from precplan.laws._law import Law
from precplan.optimize._memory import params_cap
from precplan.numerics import bisect_root, newton_min

if TYPE_CHECKING:  # pragma: no cover
    from precplan.costs import GpuSpec

Array = NDArray[np.float64]
LN10 = np.log(10.0)
SEARCH_DECADES = 8.0  # numeric searches span this many decades of N either side of a closed-form guess
LOG_MAX = 100.0  # log-space searches for N or D run over [1, e^100]


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

        gather = _Gather(c=c, w=w, k=k)

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


@dataclass(frozen=True)
class Split:
    """Arrays (one entry per budget x candidate) of the optimal N, D and what they give."""

    params: Array
    tokens: Array
    loss: Array
    train_flops: Array
    inference_flops: Array

    @property
    def total_flops(self) -> Array:
        return self.train_flops + self.inference_flops

    @property
    def feasible(self) -> Array:
        return np.isfinite(self.loss)

    def objective(self, mode: str) -> Array:
        """What the planner minimizes: loss, or lifetime FLOPs in target-loss mode (+inf if infeasible)."""
        value = self.total_flops if mode == "target-loss" else self.loss
        return np.where(self.feasible, value, np.inf)


# ---------------------------------------------------------------------------- closed forms
def hoffmann_params(law: Law, factor: ArrayLike, product: ArrayLike) -> Array:
    """N* minimizing A' N^-alpha + B D^-beta with N D = ``product`` (Hoffmann et al. 2022, eq. 4):
    N* = G K^(beta/(alpha+beta)), G = (alpha A' / (beta B))^(1/(alpha+beta)), A' = A f^-alpha
    (Kumar et al. 2024: the precision factor scales the parameter term). NaN where f <= 0."""
    A, B, alpha, beta = (law.c(k) for k in ("A", "B", "alpha", "beta"))
    f = np.asarray(factor, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        a_eff = A * np.power(np.where(f > 0, f, np.nan), -alpha)
        G = np.power(alpha * a_eff / (beta * B), 1.0 / (alpha + beta))
        return G * np.power(np.asarray(product, dtype=float), beta / (alpha + beta))


def _compact(x: Array) -> Array:
    """``x`` without its broadcast axes (stride 0) copied out: the same values, broadcastable to
    ``x``'s shape, so per-candidate work (precision factors) is done once per candidate."""
    x = np.asarray(x)
    return x[tuple(slice(0, 1) if s == 0 and n > 1 else slice(None) for s, n in zip(x.strides, x.shape))]


def budget_floor(law: Law, pb: Problem, weights: ArrayLike, activations: ArrayLike, kv: ArrayLike, budget: ArrayLike) -> Array:
    """A lower bound on the loss :func:`solve_bits` finds in budget mode (N and D free): the
    optimum with the inference term and the PTQ degradation dropped, under the same memory cap.

    Both only hurt: inference spends part of the budget (D(N) = (C - I(N)) / (c_tr N) <=
    C / (c_tr N)) and the PTQ term is >= 0, while the loss without it falls with D. The relaxed
    optimum is Hoffmann et al. 2022's eq. 4 with A' = A f^-alpha (Kumar et al. 2024, sec. 4.3):
    uncapped, L = E + (A' G^-alpha + B G^beta) (C / c_tr)^(-alpha beta / (alpha + beta)); on the
    cap, L = E + A' cap^-alpha + B (c_tr cap / C)^beta. Exact (the optimum itself) without
    inference and PTQ. Computed from per-candidate constants and per-budget powers, so it is
    cheap next to a solve."""
    w, a, k = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (weights, activations, kv)))
    c = np.asarray(budget, dtype=float)
    c_tr, _, _, ks = pb.costs(w, a, k)
    cap = params_cap(w, pb.memory, pb.serve_memory, pb.post, pb.kv_memory, ks)
    lw = law.lift(max(w.ndim, c.ndim))
    E, A, B, alpha, beta = (lw.c(x) for x in ("E", "A", "B", "alpha", "beta"))
    f = lw.precision_factor(w, a, k)
    e = alpha * beta / (alpha + beta)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        a_eff = A * np.power(np.where(f > 0, f, np.nan), -alpha)
        G = np.power(alpha * a_eff / (beta * B), 1.0 / (alpha + beta))
        # per candidate (c_tr, cap, G) times per budget (powers of C): K = C / c_tr
        free = E + ((a_eff * np.power(G, -alpha) + B * np.power(G, beta)) * np.power(c_tr, e)) * np.power(c, -e)
        capped = (E + a_eff * np.power(cap, -alpha)) + (B * np.power(cap * c_tr, beta)) * np.power(c, -beta)
        n_free = (G * np.power(c_tr, -beta / (alpha + beta))) * np.power(c, beta / (alpha + beta))
        out = np.where(n_free <= cap, free, capped)
    return np.where(np.isnan(out), np.inf, out)


def _loss(law: Law, N: Array, D: Array, w: Array, a: Array, kv: Array, post: float | None) -> Array:
    """law.loss, +inf where N or D is not a positive finite number. A law with coefficient
    samples (:meth:`Law.sampled`) is re-shaped so its sample axis stays the arguments' first."""
    ok = np.isfinite(N) & np.isfinite(D) & (N > 0) & (D > 0)
    law = law.lift(max(np.ndim(x) for x in (N, D, w, a, kv)))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        out = law.loss(np.where(ok, N, 1.0), np.where(ok, D, 1.0), w, a, kv, post=post)
    return np.where(ok & ~np.isnan(out), out, np.inf)


def tokens_for_loss(law: Law, N: ArrayLike, w: ArrayLike, a: ArrayLike, kv: ArrayLike, post: float | None, target: float) -> Array:
    """The fewest tokens with which an N-parameter model reaches ``target`` (NaN if it never does).

    Without PTQ: Hoffmann eq. 2 solved for D, D = (B / (L - E - A N_eff^-alpha))^(1/beta).
    With PTQ the loss first falls then rises with D (Kumar et al. 2024, eq. 2: the PTQ term
    grows like D^gamma_D): the root on the falling branch, by Newton steps in log D from the
    PTQ-free root (:func:`_log_tokens`)."""
    N, w, a, kv = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (N, w, a, kv)))
    if post is None:
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            room = target - law.c("E") - law.param_term(law.effective_params(N, w, a, kv))
            return np.where(room > 0, np.power(law.c("B") / np.where(room > 0, room, 1.0), 1.0 / law.c("beta")), np.nan)

    co, shape = _coefs(law, N.shape, w, a, kv, post)
    with np.errstate(invalid="ignore", divide="ignore"):
        u = np.log(np.broadcast_to(N, shape)).ravel()
    x = _log_tokens(vars(co), u, target)
    with np.errstate(invalid="ignore"):
        x = np.where(x >= 0, x, np.nan)  # below one token: out of reach, as the bisection in [0, ...] had it
    return np.exp(x).reshape(shape)


def params_for_loss(law: Law, D: ArrayLike, w: ArrayLike, a: ArrayLike, kv: ArrayLike, post: float | None, target: float) -> Array:
    """The fewest parameters with which a model trained on D tokens reaches ``target`` (NaN if
    none does). Without PTQ: N_eff = (A / (L - E - B D^-beta))^(1/alpha), N = N_eff / f.
    With PTQ the loss still falls monotonically with N: bisection in log N."""
    D, w, a, kv = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (D, w, a, kv)))
    if post is None:
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            room = target - law.c("E") - law.data_term(D)
            n_eff = np.power(law.c("A") / np.where(room > 0, room, np.nan), 1.0 / law.c("alpha"))
            f = law.precision_factor(w, a, kv)
            return np.where((room > 0) & (f > 0), n_eff / np.where(f > 0, f, 1.0), np.nan)
    root = bisect_root(lambda x: _loss(law, np.exp(x), D, w, a, kv, post) - target, np.zeros(D.shape), np.full(D.shape, LOG_MAX))
    return np.exp(root)


# ---------------------------------------------------------------------------- Newton searches
@dataclass(frozen=True)
class _Coefs:
    """Per-problem constants (flattened) of the loss along u = log N, x = log D (Kumar et al. 2024,
    eq. 10): L = E + a_eff e^(-alpha u) + B e^(-beta x) + K e^(gamma_D x - gamma_N u), with
    a_eff = A f^-alpha (eqs. 3, 5) and K the PTQ term at N = D = 1 (eqs. 8-9; 0 without PTQ)."""

    E: Array
    a_eff: Array
    B: Array
    alpha: Array
    beta: Array
    K: Array
    gD: Array
    gN: Array


def _coefs(law: Law, shape: tuple[int, ...], w: Array, a: Array, kv: Array, post: float | None) -> tuple[_Coefs, tuple[int, ...]]:
    """The constants, flattened to the problems' shape: ``shape`` broadcast with the law's (a law
    with coefficient samples adds its sample axis)."""
    lw = law.lift(len(shape))
    w, a, kv = _compact(w), _compact(a), _compact(kv)
    f = lw.precision_factor(w, a, kv)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        a_eff = lw.param_term(f)  # A f^-alpha, +inf where f <= 0
        if post is None or not lw.has_ptq:
            K, gD, gN = 0.0, 0.0, 0.0
        else:
            K = lw.ptq_degradation(1.0, 1.0, post, w, a, kv)
            gD, gN = lw.c("gamma_D"), lw.c("gamma_N")
    values = [np.asarray(v, dtype=float) for v in (lw.c("E"), a_eff, lw.c("B"), lw.c("alpha"), lw.c("beta"), K, gD, gN)]
    shape = np.broadcast_shapes(shape, *(v.shape for v in values))
    # per-problem arrays, flattened; a coefficient that is one number stays one (no gathering)
    return _Coefs(*(v if v.size == 1 else np.broadcast_to(v, shape).ravel() for v in (x.reshape(()) if x.size == 1 else x for x in values))), shape


class _Gather:
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


def _log_tokens(g: dict[str, Array], u: Array, target: float) -> Array:
    """log D on the falling branch of L(u, x) = ``target`` (NaN where none), for problems whose
    constants (:class:`_Coefs`' fields, gathered) are ``g``.

    F(x) = E - target + a_eff e^(-alpha u) + B e^(-beta x) + K e^(gamma_D x - gamma_N u) is convex
    in x with its minimum at e^((beta + gamma_D) x) = beta B / (gamma_D K e^(-gamma_N u)) (zero of
    dF/dx; Kumar et al. 2024, eq. 10). Newton from the PTQ-free root (Hoffmann et al. 2022, eq. 2
    solved for D), which lies left of the root, climbs to it monotonically (convexity)."""
    E, a_eff, B, alpha, beta, K, gD, gN = (g[k] for k in ("E", "a_eff", "B", "alpha", "beta", "K", "gD", "gN"))
    u = np.asarray(u, dtype=float)
    full = lambda v: np.broadcast_to(v, u.shape)  # noqa: E731
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        c0 = E - target + a_eff * np.exp(-alpha * u)
        x = np.where(c0 < 0, np.log(B / np.where(c0 < 0, -c0, 1.0)) / beta, np.nan)
        ptq = (K > 0) & np.isfinite(x)
        if not np.any(ptq):
            return x
        Kp = np.where(ptq, K * np.exp(-gN * u), 0.0)  # the PTQ term's D^gamma_D coefficient at this N
        x_min = np.where(ptq, np.log(beta * B / (gD * Kp)) / (beta + gD), np.inf)
        F_min = c0 + B * np.exp(-beta * x_min) + Kp * np.exp(gD * x_min)
        ok = np.where(ptq, (F_min <= 0) & (x < x_min), np.isfinite(x))
        act = np.flatnonzero(ptq & ok)
        B, beta, gD = full(B), full(beta), full(gD)
        for _ in range(200):
            if act.size == 0:
                break
            xa = x[act]
            t2, t3 = B[act] * np.exp(-beta[act] * xa), Kp[act] * np.exp(gD[act] * xa)
            F = c0[act] + t2 + t3
            dF = -beta[act] * t2 + gD[act] * t3
            xn = np.minimum(xa - F / dF, x_min[act])
            xn = np.where(np.isfinite(xn) & (xn > xa), xn, xa)
            x[act] = xn
            act = act[xn - xa > 1e-15 * np.maximum(1.0, np.abs(xa))]
        return np.where(ok, x, np.nan)


# ---------------------------------------------------------------------------- the solver
def solve_bits(
    law: Law, pb: Problem, weights: ArrayLike, activations: ArrayLike, kv: ArrayLike, budget: ArrayLike | None = None
) -> Split:
    """Optimal N and D at the given precisions; all arguments broadcast together."""
    arrays = [np.asarray(x, dtype=float) for x in (weights, activations, kv)]
    if budget is not None:
        arrays.append(np.asarray(budget, dtype=float))
    arrays = list(np.broadcast_arrays(*arrays))
    w, a, kv = arrays[:3]
    c = arrays[3] if budget is not None else None
    c_tr, ps, ws, ks = pb.costs(w, a, kv)
    cap = params_cap(w, pb.memory, pb.serve_memory, pb.post, pb.kv_memory, ks)
    f = law.precision_factor(w, a, kv)
    cst = (c_tr, ps, ws, ks)

    if pb.target_loss is not None:
        N, D = _target(law, pb, w, a, kv, f, cst, cap)
    elif c is not None:
        N, D = _budget(law, pb, w, a, kv, f, c, cst, cap)
        if pb.post is not None and law.has_ptq and pb.tokens is None:
            N, D = _stop_at_ptq_optimum(law, pb, w, a, kv, c, cst, cap, N, D)
    else:
        # Loss falls with N and D, so without a budget N is the largest the memory allows.
        N = np.where(np.isfinite(cap), cap, np.nan) if pb.params is None else np.full(w.shape, float(pb.params))
        N = np.where(N <= cap * (1 + 1e-12), N, np.nan)
        D = np.full(w.shape, np.nan if pb.tokens is None else float(pb.tokens))
    loss = np.where(f > 0, _loss(law, N, D, w, a, kv, pb.post), np.inf)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(loss) & (N >= 1) & (D >= 1)  # a model has at least one parameter and one token
    loss = np.where(ok, loss, np.inf)
    N, D = np.where(ok, N, np.nan), np.where(ok, D, np.nan)
    return Split(N, D, loss, c_tr * N * D, pb.infer(N, ps, ws, ks, budget=pb.mode == "budget"))


def _budget(law, pb, w, a, kv, f, c, cst, cap) -> tuple[Array, Array]:
    """Minimize loss on the budget line c_tr N D + inference(N) = C, N <= cap."""
    c_tr, ps, ws, ks = cst
    T = pb.inference_tokens if pb.budget_inference else 0.0
    infer = pb.infer_fn(ps, ws, ks, budget=True)
    if pb.params is not None:
        N = np.full(c.shape, float(pb.params))
        D = (c - infer(N)) / (c_tr * N)
        return np.where(N <= cap * (1 + 1e-12), N, np.nan), np.where(D > 0, D, np.nan)
    if pb.tokens is not None:
        D = np.full(c.shape, float(pb.tokens))
        if T == 0 or pb.hardware is None:
            return np.minimum(c / (c_tr * D + pb.infer_floor(ps, budget=True)), cap), D
        # the lifetime cost grows with N: the N that spends the budget, by bisection in log N
        N = np.exp(bisect_root(lambda u: c - c_tr * np.exp(u) * D - infer(np.exp(u)), np.zeros(c.shape), np.full(c.shape, LOG_MAX)))
        return np.minimum(N, cap), D
    guess = hoffmann_params(law, f, c / c_tr)
    if T == 0 and pb.post is None:
        N = np.minimum(guess, cap)
        return N, c / (c_tr * N)
    # No closed form: inference demand or PTQ. Search log N on [guess / 1e8, min(cap, C / inference floor)].
    top = np.minimum(cap, c / pb.infer_floor(ps, budget=True)) if T > 0 else cap
    hi = np.minimum(np.log(guess) + SEARCH_DECADES * LN10, np.log(top))
    lo = np.minimum(np.log(guess) - SEARCH_DECADES * LN10, hi - 4 * LN10)
    ex = [_compact(x[..., None]) for x in (w, a, kv, c, c_tr)]
    infer_ex = pb.infer_fn(*(_compact(x[..., None]) for x in (ps, ws, ks)), budget=True)

    def loss_of_logn(u: Array) -> Array:
        ww, aa, kk, cc, ctr = ex
        N = np.exp(u)
        return _loss(law, N, (cc - infer_ex(N)) / (ctr * N), ww, aa, kk, pb.post)

    valid = np.isfinite(lo) & np.isfinite(hi)
    lo, hi = np.where(valid, lo, 0.0), np.where(valid, hi, 1.0)
    co, shape = _coefs(law, lo.shape, w, a, kv, pb.post)
    lo, hi = np.broadcast_to(lo, shape), np.broadcast_to(hi, shape)
    C, ctr = (np.broadcast_to(x, shape).ravel() for x in (c, c_tr))
    infer_d = pb.infer_log_derivs(shape, ps, ws, ks, budget=True)

    gather = _Gather(C=C, ctr=ctr, **vars(co))

    def derivs(u: Array, idx: NDArray[np.intp]) -> tuple[Array, Array]:
        """dL/du and d2L/du2 on the budget line D(u) = (C - I(N)) / (c_tr N), N = e^u, of
        Kumar et al. 2024 eq. 10 (see :class:`_Coefs`); +inf where D <= 0 (N too large)."""
        g = gather(idx)
        N = np.exp(u)
        I, I1, I2 = infer_d(u, idx)
        cn = g["ctr"] * N
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            D = (g["C"] - I) / cn
            q1, q2 = I1 / cn, I2 / cn
            r = (-q1 - D) / D  # D'/D
            s2 = (-q2 + 2.0 * q1 + D) / D  # D''/D
            alpha, beta, K, gD, gN = g["alpha"], g["beta"], g["K"], g["gD"], g["gN"]
            t1 = g["a_eff"] * np.exp(-alpha * u)
            t2 = g["B"] * np.exp(-beta * np.log(D))
            t3 = np.where(K > 0, K * np.exp(gD * np.log(D) - gN * u), 0.0)
            q = gD * r - gN
            g1 = -alpha * t1 - beta * t2 * r + t3 * q
            g2 = alpha * alpha * t1 + beta * t2 * ((beta + 1.0) * r * r - s2) + t3 * (q * q + gD * (s2 - r * r))
        return np.where(D > 0, g1, np.inf), g2

    if pb.hardware is None:
        u = _budget_in_log_tokens(co, C, ctr, pb.infer_floor(ps, budget=True), shape, lo, hi, np.log(c / (c_tr * guess)))
        if not _convex_in_log_tokens(co):  # else Newton's answer is the minimum over the range, its ends included
            u = _best_of(loss_of_logn, u, lo, hi)
    else:
        # start near the N whose D is the PTQ- and inference-free optimum's D0: the root of
        # c_tr N D0 + I(N) = C, approximated from the compute-only floor (I(N) / N falls with N)
        D0 = c / (c_tr * guess)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            N_a = c / (c_tr * D0 + pb.infer_floor(ps, budget=True))
            N_s = c / (c_tr * D0 + infer(N_a) / N_a)
        start = np.where(np.isfinite(N_s) & (N_s > 0), np.log(N_s), np.log(guess))
        a, b = _beside_kink(pb.hardware, T, ps, ws, ks, shape, lo, hi, derivs)
        u = newton_min(derivs, a, b, np.minimum(np.maximum(start, a), np.maximum(b - np.log(2.0), a)), tol=1e-11)
        u = _best_of(loss_of_logn, u, lo, hi)
    N = np.where(valid, np.exp(u), np.nan)
    return N, (c - infer(N)) / (c_tr * N)


def ptq_token_optimum(law: Law, N: ArrayLike, w: ArrayLike, a: ArrayLike, kv: ArrayLike, post: float) -> Array:
    """The tokens that minimize the loss after post-training quantization at fixed N (+inf
    without a PTQ term): B D^-beta + K(N) D^gamma_D is least where
    D^(beta + gamma_D) = beta B / (gamma_D K(N)), K(N) = delta_PTQ at D = 1 (Kumar et al. 2024,
    eqs. 2 and 10)."""
    lw = law.lift(max(np.ndim(x) for x in (N, w, a, kv)))
    beta, B, gD = lw.c("beta"), lw.c("B"), lw.c("gamma_D")
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        K = lw.ptq_degradation(N, 1.0, post, w, a, kv)
        ok = np.isfinite(K) & (K > 0)
        return np.where(ok, np.power(beta * B / (gD * np.where(ok, K, 1.0)), 1.0 / (beta + gD)), np.inf)


def _stop_at_ptq_optimum(law, pb, w, a, kv, c, cst, cap, N, D) -> tuple[Array, Array]:
    """A budget is a ceiling, not a quota. After post-training quantization the loss rises with
    D past :func:`ptq_token_optimum`, so where N cannot grow (fixed ``params``, or a memory cap)
    the best plan stops there and leaves the rest of the budget unspent. With N free, spare
    budget buys a larger N, which lowers every term of the loss (eq. 10: the PTQ term falls like
    N^-gamma_N), so an optimum that leaves budget unspent sits on the cap: the better of the
    budget line's optimum and (cap, min(D_opt(cap), the budget's D))."""
    if pb.params is not None:
        return N, np.minimum(D, ptq_token_optimum(law, N, w, a, kv, pb.post))
    capped = np.isfinite(cap)
    if not np.any(capped):
        return N, D
    c_tr, ps, ws, ks = cst
    Nc = np.where(capped, cap, 1.0)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        D_line = (c - pb.infer(Nc, ps, ws, ks, budget=True)) / (c_tr * Nc)
        Dc = ptq_token_optimum(law, Nc, w, a, kv, pb.post)
        cand = capped & (Dc < D_line)
        if not np.any(cand):
            return N, D
        # on the cap already: the loss is unimodal in D at fixed N, so D_opt beats the budget's D
        better = cand & (N >= Nc * (1 - 1e-9))
        other = cand & ~better
        if np.any(other):  # the budget line's optimum is below the cap: compare the two
            better = better | (other & (_loss(law, Nc, Dc, w, a, kv, pb.post) < _loss(law, N, D, w, a, kv, pb.post)))
    return np.where(better, Nc, N), np.where(better, Dc, D)


def _budget_in_log_tokens(co: _Coefs, C: Array, ctr: Array, k: Array, shape: tuple[int, ...], lo: Array, hi: Array, v0: Array) -> Array:
    """The budget-line search of :func:`_budget` for the idealized cost model, over v = log D.

    Inference costs k N (Sardana et al. 2024's 2 N T, bit-scaled), so on the line
    c_tr N D + k N = C, N = C / (c_tr e^v + k) is explicit, u = log N = log C - log(c_tr e^v + k)
    with du/dv = -p, d2u/dv2 = -p (1 - p), p = c_tr D / (c_tr D + k). In v every term of
    Kumar et al. 2024 eq. 10 is an exponential of a convex function, so the loss is convex and
    Newton converges fast (in u the data term has a wall where D reaches 0). Returns log N."""
    k_all = np.broadcast_to(k, shape).ravel()
    serving = bool(np.any(k_all > 0))
    gather = _Gather(logC=np.log(C), ctr=ctr, k=k_all, a_eff=co.a_eff, B=co.B, alpha=co.alpha, beta=co.beta,
                     K=co.K, gD=co.gD, gN=co.gN, ptq=co.K > 0)

    def derivs(v: Array, idx: NDArray[np.intp]) -> tuple[Array, Array]:
        g = gather(idx)
        alpha, beta = g["alpha"], g["beta"]
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            cd = g["ctr"] * np.exp(v)
            if serving:
                tot = cd + g["k"]
                p = cd / tot
                u = g["logC"] - np.log(tot)
                pq = p * (1.0 - p)
            else:  # p = 1: u = log C - log c_tr - v
                p, pq = 1.0, 0.0
                u = g["logC"] - np.log(cd)
            t1 = g["a_eff"] * np.exp(-alpha * u)
            t2 = g["B"] * np.exp(-beta * v)
            g1 = alpha * p * t1 - beta * t2
            g2 = t1 * (alpha * alpha * p * p + alpha * pq) + beta * beta * t2
            if np.ndim(g["ptq"]) or g["ptq"]:
                gD, gN = g["gD"], g["gN"]
                h1 = gD + gN * p
                t3 = np.where(g["ptq"], g["K"] * np.exp(gD * v - gN * u), 0.0)
                g1 = g1 + h1 * t3
                g2 = g2 + t3 * (h1 * h1 + gN * pq)
        return g1, g2

    Cs, cs = C.reshape(shape), ctr.reshape(shape)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        def v_of(u: Array) -> Array:
            N = np.exp(u)
            return np.log((Cs - k * N) / (cs * N))

        v_hi = v_of(lo)
        v_lo = v_of(hi)
        v_lo = np.where(np.isfinite(v_lo), v_lo, v_hi - 460.0)  # D -> 0 where N reaches C / k
        # Smooth and convex in v, a sum of exponentials with rates of order 1 (L''' / L'' <~ 1):
        # Newton converges quadratically, so after a step of 1e-6 the error left is ~1e-12.
        v = newton_min(derivs, v_lo, v_hi, np.minimum(np.maximum(v0, v_lo), v_hi), tol=1e-6)
        u = np.log(Cs) - np.log(cs * np.exp(v) + k)
    return np.minimum(np.maximum(u, lo), hi)


def _beside_kink(hw: "GpuSpec", T: float, ps: Array, ws: Array, ks: Array, shape: tuple[int, ...], lo: Array, hi: Array,
                 derivs) -> tuple[Array, Array]:
    """The search range of a hardware budget line narrowed to one side of the decode kink.

    Decode time max(c N, w N + k N^(2/3)) (:meth:`precplan.costs.GpuSpec.seconds_of`) has a kink
    where c N = w N + k N^(2/3), at N_k = (k / (c - w))^3 (none when c <= w): the loss's slope
    jumps up there, and an optimum on it would be approached only by bisection. The one-sided
    slopes at N_k say whether the optimum is left of it, right of it, or N_k itself (the range
    then shrinks to that point); either way the search that follows is on a smooth piece."""
    c, w, k = (np.broadcast_to(x, shape).ravel() for x in hw.infer_terms(T, ps, ws, ks))
    a, b = np.array(lo, dtype=float).ravel(), np.array(hi, dtype=float).ravel()
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        u_k = 3.0 * np.log(k / np.where(c > w, c - w, np.nan))
    i = np.flatnonzero(np.isfinite(u_k) & (u_k > a) & (u_k < b))
    if i.size:
        uk = u_k[i]
        left, _ = derivs(uk * (1 - 1e-12) - 1e-12, i)  # decode branch
        right, _ = derivs(uk * (1 + 1e-12) + 1e-12, i)  # compute branch
        left, right = np.where(np.isnan(left), np.inf, left), np.where(np.isnan(right), np.inf, right)
        a[i] = np.where(right < 0, uk, np.where((left < 0) & (right > 0), uk, a[i]))
        b[i] = np.where(left > 0, uk, np.where((left < 0) & (right > 0), uk, b[i]))
    return a.reshape(shape), b.reshape(shape)


def _convex_in_log_tokens(co: _Coefs) -> bool:
    """Whether the idealized budget line's loss is convex in v = log D (:func:`_budget_in_log_tokens`):
    every term is e^(convex) when the exponents alpha, beta, gamma_D, gamma_N are >= 0 (they are
    for every bundled law; a law file could set others)."""
    return all(bool(np.all(np.asarray(v) >= 0)) for v in (co.alpha, co.beta, co.gD, co.gN))


def _best_of(objective, u: Array, lo: Array, hi: Array) -> Array:
    """The best of the search's answer and the two end points (a bound such as a memory cap can
    bind; the first of equal values wins, as np.argmin has it)."""
    cand = np.stack([u, lo, hi], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        v = objective(cand)
    v = np.where(np.isnan(v), np.inf, v)
    return np.take_along_axis(cand, np.argmin(v, axis=-1)[..., None], -1)[..., 0]


def _target(law, pb, w, a, kv, f, cst, cap) -> tuple[Array, Array]:
    """Minimize lifetime cost c_tr N D + inference(N) subject to L(N, D) = target, N <= cap."""
    c_tr, ps, ws, ks = cst
    T = float(pb.inference_tokens)
    L = float(pb.target_loss)
    if pb.params is not None:
        N = np.where(pb.params <= cap * (1 + 1e-12), float(pb.params), np.nan)
        return N, tokens_for_loss(law, N, w, a, kv, pb.post, L)
    if pb.tokens is not None:
        D = np.full(w.shape, float(pb.tokens))
        N = params_for_loss(law, D, w, a, kv, pb.post, L)
        return np.where(N <= cap * (1 + 1e-12), N, np.nan), D
    if pb.post is None and (T == 0 or pb.hardware is None):  # linear inference cost: Lagrange closed form
        D = lagrange_tokens(law, L, pb.infer_floor(ps) / c_tr) * np.ones(w.shape)
        N = params_for_loss(law, D, w, a, kv, None, L)
        over = ~(N <= cap)  # capped (or NaN): the cheapest feasible point is on the cap
        if np.any(over):
            N = np.where(over, cap, N)
            D = np.where(over, tokens_for_loss(law, N, w, a, kv, None, L), D)
        return N, D
    # With PTQ, or a nonlinear inference cost (decode memory traffic): search log N from the
    # infinite-data floor N_eff = (A / (L - E))^(1/alpha) upward.
    with np.errstate(invalid="ignore", divide="ignore"):
        floor = np.power(law.c("A") / (L - law.c("E")), 1.0 / law.c("alpha")) / np.where(f > 0, f, np.nan)
    hi = np.minimum(np.log(floor) + 10 * LN10, np.log(cap))
    lo = np.minimum(np.log(floor), hi)
    ex = [_compact(x[..., None]) for x in (w, a, kv, c_tr, f)]
    infer_ex = pb.infer_fn(*(_compact(x[..., None]) for x in (ps, ws, ks)))
    E, A, B, alpha, beta = (law.c(k) for k in ("E", "A", "B", "alpha", "beta"))

    def cost_of_logn(u: Array) -> Array:
        ww, aa, kk, ctr, ff = ex
        N = np.exp(u)
        if pb.post is None:  # Hoffmann eq. 2 solved for D at N_eff = f N (tokens_for_loss, inlined)
            room = L - E - A * np.power(N * ff, -alpha)
            D = np.where(room > 0, np.power(B / np.where(room > 0, room, 1.0), 1.0 / beta), np.nan)
        else:
            D = tokens_for_loss(law, N, ww, aa, kk, pb.post, L)
        return np.where(np.isfinite(D), ctr * N * D + infer_ex(N), np.inf)

    valid = np.isfinite(lo) & np.isfinite(hi) & (hi >= lo)
    lo, hi = np.where(valid, lo, 0.0), np.where(valid, hi, 1.0)
    co, shape = _coefs(law, lo.shape, w, a, kv, pb.post)
    lo, hi = np.broadcast_to(lo, shape), np.broadcast_to(hi, shape)
    ctr = np.broadcast_to(c_tr, shape).ravel()
    infer_d = pb.infer_log_derivs(shape, ps, ws, ks)
    gather = _Gather(ctr=ctr, **vars(co))

    def derivs(u: Array, idx: NDArray[np.intp]) -> tuple[Array, Array]:
        """dG/du and d2G/du2 of the lifetime cost G = c_tr N D(u) + I(N) with D(u) implicit in
        F(u, x) = L(u, x) - target = 0 (Kumar et al. 2024, eq. 10; x = log D): x_u = -F_u / F_x,
        x_uu = -(F_uu + 2 F_ux x_u + F_xx x_u^2) / F_x. -inf where the target is out of reach
        (N too small)."""
        g = gather(idx)
        x = _log_tokens(g, u, L)
        I, I1, I2 = infer_d(u, idx)
        alpha, beta, K, gD, gN = g["alpha"], g["beta"], g["K"], g["gD"], g["gN"]
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            t1 = g["a_eff"] * np.exp(-alpha * u)
            t2 = g["B"] * np.exp(-beta * x)
            t3 = np.where(K > 0, K * np.exp(gD * x - gN * u), 0.0)
            Fu, Fx = -alpha * t1 - gN * t3, -beta * t2 + gD * t3
            Fuu, Fxx, Fux = alpha * alpha * t1 + gN * gN * t3, beta * beta * t2 + gD * gD * t3, -gN * gD * t3
            xu = -Fu / Fx
            xuu = -(Fuu + 2.0 * Fux * xu + Fxx * xu * xu) / Fx
            train = g["ctr"] * np.exp(u + x)
            g1 = train * (1.0 + xu) + I1
            g2 = train * ((1.0 + xu) ** 2 + xuu) + I2
        return np.where(np.isfinite(x), g1, -np.inf), g2

    # start: the cheapest N for the target without inference (alpha A' N^-alpha = beta B D^-beta,
    # Hoffmann et al. 2022 eq. 2 with N D minimal), clipped to the bracket
    with np.errstate(invalid="ignore", divide="ignore"):
        chin = np.log(floor) + np.log((law.c("alpha") + law.c("beta")) / law.c("beta")) / law.c("alpha")
    start = np.minimum(np.maximum(np.where(np.isfinite(chin), chin, lo), lo), hi)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # once, not per evaluation
        u = newton_min(derivs, lo, hi, start, tol=1e-11)
        u = _best_of(cost_of_logn, u, lo, hi)
    N = np.where(valid, np.exp(u), np.nan)
    return N, tokens_for_loss(law, N, w, a, kv, pb.post, L)
