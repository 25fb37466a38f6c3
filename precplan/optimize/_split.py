"""The best model size N and token count D at FIXED training precision(s), vectorized.

``solve_bits`` answers, for arrays of budgets and candidate precisions at once:

- budget mode (minimize loss; cost (6/16) N D P + (2/16) N T P_serve = budget):
  Hoffmann et al. 2022's closed form (eq. 4 / Approach 3) with the effective-parameter factor
  folded into A: A' = A f(P)^-alpha and N D = 16 C / (6 P) (Kumar et al. 2024, sec. 4.3; the
  paper's printed eq. 6 has a sign error, N* D* P must stay constant). With inference demand
  or a post-training-quantization term there is no closed form: a vectorized bounded search
  over log N (:func:`precplan.numerics.golden_min`).
- target-loss mode (minimize lifetime compute subject to L = target): Sardana et al. 2024's
  Lagrange equation in D (:func:`precplan.costs.lagrange_tokens`), or a search over log N
  with D solved from the loss equation when a PTQ term is present.
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
from precplan.numerics import bisect_root, golden_min

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
    grows like D^gamma_D): the root on the falling branch, by bisection in log D."""
    N, w, a, kv = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (N, w, a, kv)))
    if post is None:
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            room = target - law.c("E") - law.param_term(law.effective_params(N, w, a, kv))
            return np.where(room > 0, np.power(law.c("B") / np.where(room > 0, room, 1.0), 1.0 / law.c("beta")), np.nan)

    def loss_at(x: Array) -> Array:
        return _loss(law, N[..., None], np.exp(x), w[..., None], a[..., None], kv[..., None], post)

    x_min, l_min = golden_min(loss_at, np.zeros(N.shape), np.full(N.shape, LOG_MAX), grid=32, iters=50)
    root = bisect_root(lambda x: loss_at(x[..., None])[..., 0] - target, np.zeros(N.shape), x_min, iters=64)
    return np.where(l_min <= target, np.exp(root), np.nan)


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
    ex = [x[..., None] for x in (w, a, kv, c, c_tr)]
    infer_ex = pb.infer_fn(*(x[..., None] for x in (ps, ws, ks)), budget=True)

    def loss_of_logn(u: Array) -> Array:
        ww, aa, kk, cc, ctr = ex
        N = np.exp(u)
        return _loss(law, N, (cc - infer_ex(N)) / (ctr * N), ww, aa, kk, pb.post)

    valid = np.isfinite(lo) & np.isfinite(hi)
    u, _ = golden_min(loss_of_logn, np.where(valid, lo, 0.0), np.where(valid, hi, 1.0), grid=32, iters=52)
    N = np.where(valid, np.exp(u), np.nan)
    return N, (c - infer(N)) / (c_tr * N)


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
    ex = [x[..., None] for x in (w, a, kv, c_tr, f)]
    infer_ex = pb.infer_fn(*(x[..., None] for x in (ps, ws, ks)))
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
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # once, not per evaluation
        u, _ = golden_min(cost_of_logn, np.where(valid, lo, 0.0), np.where(valid, hi, 1.0), grid=32, iters=50)
    N = np.where(valid, np.exp(u), np.nan)
    return N, tokens_for_loss(law, N, w, a, kv, pb.post, L)
