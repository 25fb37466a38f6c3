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

import numpy as np
from numpy.typing import ArrayLike, NDArray

from precplan.costs import lagrange_tokens
from precplan.laws import Law, hoffmann_params
from precplan.numerics import bisect_root, newton_min
from precplan.optimize._closed import ptq_token_optimum
from precplan.optimize._memory import params_cap
from precplan.optimize._newton import (
    LN10, LOG_MAX, SEARCH_DECADES, beside_kink, best_of, budget_in_log_tokens, coefs, convex_in_log_tokens,
    log_tokens,
)
from precplan.optimize._problem import Array, Gather, Problem, compact, loss_or_inf

__all__ = ["Split", "params_for_loss", "solve_bits", "tokens_for_loss"]


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



def tokens_for_loss(law: Law, N: ArrayLike, w: ArrayLike, a: ArrayLike, kv: ArrayLike, post: float | None, target: float) -> Array:
    """The fewest tokens with which an N-parameter model reaches ``target`` (NaN if it never does).

    Without PTQ: Hoffmann eq. 2 solved for D, D = (B / (L - E - A N_eff^-alpha))^(1/beta).
    With PTQ the loss first falls then rises with D (Kumar et al. 2024, eq. 2: the PTQ term
    grows like D^gamma_D): the root on the falling branch, by Newton steps in log D from the
    PTQ-free root (:func:`log_tokens`)."""
    N, w, a, kv = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (N, w, a, kv)))
    if post is None:
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            room = target - law.c("E") - law.param_term(law.effective_params(N, w, a, kv))
            return np.where(room > 0, np.power(law.c("B") / np.where(room > 0, room, 1.0), 1.0 / law.c("beta")), np.nan)

    co, shape = coefs(law, N.shape, w, a, kv, post)
    with np.errstate(invalid="ignore", divide="ignore"):
        u = np.log(np.broadcast_to(N, shape)).ravel()
    x = log_tokens(vars(co), u, target)
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
    root = bisect_root(lambda x: loss_or_inf(law, np.exp(x), D, w, a, kv, post) - target, np.zeros(D.shape), np.full(D.shape, LOG_MAX))
    return np.exp(root)



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
    loss = np.where(f > 0, loss_or_inf(law, N, D, w, a, kv, pb.post), np.inf)
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
    ex = [compact(x[..., None]) for x in (w, a, kv, c, c_tr)]
    infer_ex = pb.infer_fn(*(compact(x[..., None]) for x in (ps, ws, ks)), budget=True)

    def loss_of_logn(u: Array) -> Array:
        ww, aa, kk, cc, ctr = ex
        N = np.exp(u)
        return loss_or_inf(law, N, (cc - infer_ex(N)) / (ctr * N), ww, aa, kk, pb.post)

    valid = np.isfinite(lo) & np.isfinite(hi)
    lo, hi = np.where(valid, lo, 0.0), np.where(valid, hi, 1.0)
    co, shape = coefs(law, lo.shape, w, a, kv, pb.post)
    lo, hi = np.broadcast_to(lo, shape), np.broadcast_to(hi, shape)
    C, ctr = (np.broadcast_to(x, shape).ravel() for x in (c, c_tr))
    infer_d = pb.infer_log_derivs(shape, ps, ws, ks, budget=True)

    gather = Gather(C=C, ctr=ctr, **vars(co))

    def derivs(u: Array, idx: NDArray[np.intp]) -> tuple[Array, Array]:
        """dL/du and d2L/du2 on the budget line D(u) = (C - I(N)) / (c_tr N), N = e^u, of
        Kumar et al. 2024 eq. 10 (see :class:`Coefs`); +inf where D <= 0 (N too large)."""
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
        u = budget_in_log_tokens(co, C, ctr, pb.infer_floor(ps, budget=True), shape, lo, hi, np.log(c / (c_tr * guess)))
        if not convex_in_log_tokens(co):  # else Newton's answer is the minimum over the range, its ends included
            u = best_of(loss_of_logn, u, lo, hi)
    else:
        # start near the N whose D is the PTQ- and inference-free optimum's D0: the root of
        # c_tr N D0 + I(N) = C, approximated from the compute-only floor (I(N) / N falls with N)
        D0 = c / (c_tr * guess)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            N_a = c / (c_tr * D0 + pb.infer_floor(ps, budget=True))
            N_s = c / (c_tr * D0 + infer(N_a) / N_a)
        start = np.where(np.isfinite(N_s) & (N_s > 0), np.log(N_s), np.log(guess))
        a, b = beside_kink(pb.hardware, T, ps, ws, ks, shape, lo, hi, derivs)
        u = newton_min(derivs, a, b, np.minimum(np.maximum(start, a), np.maximum(b - np.log(2.0), a)), tol=1e-11)
        u = best_of(loss_of_logn, u, lo, hi)
    N = np.where(valid, np.exp(u), np.nan)
    return N, (c - infer(N)) / (c_tr * N)


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
            better = better | (other & (loss_or_inf(law, Nc, Dc, w, a, kv, pb.post) < loss_or_inf(law, N, D, w, a, kv, pb.post)))
    return np.where(better, Nc, N), np.where(better, Dc, D)


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
    ex = [compact(x[..., None]) for x in (w, a, kv, c_tr, f)]
    infer_ex = pb.infer_fn(*(compact(x[..., None]) for x in (ps, ws, ks)))
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
    co, shape = coefs(law, lo.shape, w, a, kv, pb.post)
    lo, hi = np.broadcast_to(lo, shape), np.broadcast_to(hi, shape)
    ctr = np.broadcast_to(c_tr, shape).ravel()
    infer_d = pb.infer_log_derivs(shape, ps, ws, ks)
    gather = Gather(ctr=ctr, **vars(co))

    def derivs(u: Array, idx: NDArray[np.intp]) -> tuple[Array, Array]:
        """dG/du and d2G/du2 of the lifetime cost G = c_tr N D(u) + I(N) with D(u) implicit in
        F(u, x) = L(u, x) - target = 0 (Kumar et al. 2024, eq. 10; x = log D): x_u = -F_u / F_x,
        x_uu = -(F_uu + 2 F_ux x_u + F_xx x_u^2) / F_x. -inf where the target is out of reach
        (N too small)."""
        g = gather(idx)
        x = log_tokens(g, u, L)
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
        u = best_of(cost_of_logn, u, lo, hi)
    N = np.where(valid, np.exp(u), np.nan)
    return N, tokens_for_loss(law, N, w, a, kv, pb.post, L)

