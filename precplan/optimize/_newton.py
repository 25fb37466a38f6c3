"""The Newton search machinery of the solvers (:mod:`precplan.optimize._split`): per-problem
constants of the loss along u = log N, x = log D (:class:`Coefs`, gathered for the unfinished
problems of a vectorized search by :class:`precplan.optimize._problem.Gather`), the loss equation
solved for log D (:func:`log_tokens`), the budget-line search in log D for the idealized cost
model (:func:`budget_in_log_tokens`), the hardware decode kink (:func:`beside_kink`) and the
end-point check (:func:`best_of`). Steps: :func:`precplan.numerics.newton_min`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from precplan.laws import Law
from precplan.numerics import newton_min
from precplan.optimize._problem import Array, Gather, compact

if TYPE_CHECKING:  # pragma: no cover
    from precplan.costs import GpuSpec

__all__ = [
    "LN10", "LOG_MAX", "SEARCH_DECADES", "Coefs", "beside_kink", "best_of", "budget_in_log_tokens", "coefs",
    "convex_in_log_tokens", "log_tokens",
]

LN10 = np.log(10.0)
SEARCH_DECADES = 8.0  # numeric searches span this many decades of N either side of a closed-form guess
LOG_MAX = 100.0  # log-space searches for N or D run over [1, e^100]


@dataclass(frozen=True)
class Coefs:
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


def coefs(law: Law, shape: tuple[int, ...], w: Array, a: Array, kv: Array, post: float | None) -> tuple[Coefs, tuple[int, ...]]:
    """The constants, flattened to the problems' shape: ``shape`` broadcast with the law's (a law
    with coefficient samples adds its sample axis)."""
    lw = law.lift(len(shape))
    w, a, kv = compact(w), compact(a), compact(kv)
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
    return Coefs(*(v if v.size == 1 else np.broadcast_to(v, shape).ravel() for v in (x.reshape(()) if x.size == 1 else x for x in values))), shape


def log_tokens(g: dict[str, Array], u: Array, target: float) -> Array:
    """log D on the falling branch of L(u, x) = ``target`` (NaN where none), for problems whose
    constants (:class:`Coefs`' fields, gathered) are ``g``.

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


def budget_in_log_tokens(co: Coefs, C: Array, ctr: Array, k: Array, shape: tuple[int, ...], lo: Array, hi: Array, v0: Array) -> Array:
    """The budget-line search of :func:`_budget` for the idealized cost model, over v = log D.

    Inference costs k N (Sardana et al. 2024's 2 N T, bit-scaled), so on the line
    c_tr N D + k N = C, N = C / (c_tr e^v + k) is explicit, u = log N = log C - log(c_tr e^v + k)
    with du/dv = -p, d2u/dv2 = -p (1 - p), p = c_tr D / (c_tr D + k). In v every term of
    Kumar et al. 2024 eq. 10 is an exponential of a convex function, so the loss is convex and
    Newton converges fast (in u the data term has a wall where D reaches 0). Returns log N."""
    k_all = np.broadcast_to(k, shape).ravel()
    serving = bool(np.any(k_all > 0))
    gather = Gather(logC=np.log(C), ctr=ctr, k=k_all, a_eff=co.a_eff, B=co.B, alpha=co.alpha, beta=co.beta,
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


def beside_kink(hw: "GpuSpec", T: float, ps: Array, ws: Array, ks: Array, shape: tuple[int, ...], lo: Array, hi: Array,
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


def convex_in_log_tokens(co: Coefs) -> bool:
    """Whether the idealized budget line's loss is convex in v = log D (:func:`budget_in_log_tokens`):
    every term is e^(convex) when the exponents alpha, beta, gamma_D, gamma_N are >= 0 (they are
    for every bundled law; a law file could set others)."""
    return all(bool(np.all(np.asarray(v) >= 0)) for v in (co.alpha, co.beta, co.gD, co.gN))


def best_of(objective, u: Array, lo: Array, hi: Array) -> Array:
    """The best of the search's answer and the two end points (a bound such as a memory cap can
    bind; the first of equal values wins, as np.argmin has it)."""
    cand = np.stack([u, lo, hi], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        v = objective(cand)
    v = np.where(np.isnan(v), np.inf, v)
    return np.take_along_axis(cand, np.argmin(v, axis=-1)[..., None], -1)[..., 0]

