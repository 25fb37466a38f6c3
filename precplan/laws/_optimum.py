"""The compute-optimal allocation in closed form, for fit and optimize alike
(docs/science.md sections 3 and 8).

- Hoffmann et al. 2022, eq. 4: minimizing A' N^-alpha + B D^-beta with N D = K gives
  N* = G K^(beta/(alpha+beta)), D* = K / N*, G = (alpha A' / (beta B))^(1/(alpha+beta)).
  Kumar et al. 2024 fold the precision factor into the parameter term: A' = A f^-alpha.
- Kumar et al. 2024, sec. 4.3.1: with N, D and one precision P free under C = (6/16) N D P, the
  best P maximizes f(P)/P (effective parameters per bit), whatever the budget.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from precplan.laws._law import Law

__all__ = ["P_GRID", "hoffmann_params", "hoffmann_scale", "optimal_precision"]

Array = NDArray[np.float64]
P_GRID = np.arange(1.0, 32.0 + 1e-9, 0.005)


def hoffmann_scale(a_eff: ArrayLike, B: ArrayLike, alpha: ArrayLike, beta: ArrayLike) -> Array:
    """G = (alpha A' / (beta B))^(1/(alpha+beta)) of Hoffmann et al. 2022, eq. 4: the optimum
    on N D = K is N* = G K^(beta/(alpha+beta)). Arrays broadcast (NaN where ``a_eff`` is NaN)."""
    return np.power(alpha * a_eff / (beta * B), 1.0 / (alpha + beta))


def hoffmann_params(law: Law, factor: ArrayLike, product: ArrayLike) -> Array:
    """N* minimizing A' N^-alpha + B D^-beta with N D = ``product`` (Hoffmann et al. 2022, eq. 4):
    N* = G K^(beta/(alpha+beta)) (:func:`hoffmann_scale`), A' = A f^-alpha
    (Kumar et al. 2024: the precision factor scales the parameter term). NaN where f <= 0."""
    A, B, alpha, beta = (law.c(k) for k in ("A", "B", "alpha", "beta"))
    f = np.asarray(factor, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        a_eff = A * np.power(np.where(f > 0, f, np.nan), -alpha)
        G = hoffmann_scale(a_eff, B, alpha, beta)
        return G * np.power(np.asarray(product, dtype=float), beta / (alpha + beta))


def optimal_precision(law: Law) -> float:
    """argmax_P f(P)/P on [1, 32] bits (Kumar et al. 2024: effective parameters per bit), refined
    around the best grid point. Only precisions where every operand's factor is positive count
    (below that the law breaks down; two negative factors must not multiply to a positive one)."""
    from scipy.optimize import minimize_scalar

    with np.errstate(all="ignore"):
        factors = [law.factor(P_GRID, op) for op in ("w", "a", "kv")]
        ratio = np.prod(factors, axis=0) / P_GRID
        ratio[np.any(np.array(factors) <= 0, axis=0)] = -np.inf
    i = int(np.nanargmax(np.where(np.isfinite(ratio), ratio, -np.inf)))
    lo, hi = P_GRID[max(i - 1, 0)], P_GRID[min(i + 1, P_GRID.size - 1)]
    res = minimize_scalar(lambda p: -float(law.precision_factor(p, p, p)) / p, bounds=(lo, hi),
                          method="bounded", options={"xatol": 1e-7})
    return float(res.x)
