"""Closed forms of the solvers: the loss floor of a budget (Hoffmann et al. 2022's optimum with
Kumar et al. 2024's effective parameters, through :func:`precplan.laws.hoffmann_scale`) that
screens candidates, and the loss-minimizing tokens after post-training quantization."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from precplan.laws import Law, hoffmann_scale
from precplan.optimize._memory import params_cap
from precplan.optimize._problem import Array, Problem

__all__ = ["budget_floor", "ptq_token_optimum"]


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
        G = hoffmann_scale(a_eff, B, alpha, beta)
        # per candidate (c_tr, cap, G) times per budget (powers of C): K = C / c_tr
        free = E + ((a_eff * np.power(G, -alpha) + B * np.power(G, beta)) * np.power(c_tr, e)) * np.power(c, -e)
        capped = (E + a_eff * np.power(cap, -alpha)) + (B * np.power(cap * c_tr, beta)) * np.power(c, -beta)
        n_free = (G * np.power(c_tr, -beta / (alpha + beta))) * np.power(c, beta / (alpha + beta))
        out = np.where(n_free <= cap, free, capped)
    return np.where(np.isnan(out), np.inf, out)


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

