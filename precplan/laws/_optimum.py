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
    """The scale G of Hoffmann et al. 2022's compute-optimal split (eq. 4).

    G = (alpha A' / (beta B))^(1/(alpha+beta)); the optimum on N D = K is
    N* = G K^(beta/(alpha+beta)), D* = K / N*.

    Parameters
    ----------
    a_eff : array_like
        A' = A f^-alpha, the parameter term's coefficient (A itself at 16 bits).
    B, alpha, beta : array_like
        The law's data coefficient and exponents. All four broadcast together.

    Returns
    -------
    numpy.ndarray
        G (NaN where ``a_eff`` is NaN).

    Example
    -------
    >>> round(float(hoffmann_scale(406.4, 410.7, 0.34, 0.28)), 4)  # Hoffmann et al.'s printed constants
    1.3447
    """
    return np.power(alpha * a_eff / (beta * B), 1.0 / (alpha + beta))


def hoffmann_params(law: Law, factor: ArrayLike, product: ArrayLike) -> Array:
    """The N minimizing A' N^-alpha + B D^-beta with N D = ``product`` (Hoffmann et al. 2022, eq. 4).

    N* = G K^(beta/(alpha+beta)) (:func:`hoffmann_scale`) with A' = A f^-alpha: the precision
    factor f scales the parameter term (Kumar et al. 2024, eq. 3). Under C = 6 N D at 16 bits,
    ``product`` is C / 6; under Kumar et al.'s (6/16) N D P it is 16 C / (6 P).

    Parameters
    ----------
    law : Law
        Its ``A``, ``B``, ``alpha``, ``beta`` are used.
    factor : array_like
        The effective-parameter factor f (1 for 16-bit training).
    product : array_like
        K = N D, broadcast with ``factor``.

    Returns
    -------
    numpy.ndarray
        N* (NaN where f <= 0, outside the law's domain); D* is ``product / N*``.

    Example
    -------
    >>> from precplan.laws import load_law
    >>> f"{float(hoffmann_params(load_law('hoffmann2022'), 1.0, 1e23 / 6)):.4g}"
    '1.815e+10'
    """
    A, B, alpha, beta = (law.c(k) for k in ("A", "B", "alpha", "beta"))
    f = np.asarray(factor, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        a_eff = A * np.power(np.where(f > 0, f, np.nan), -alpha)
        G = hoffmann_scale(a_eff, B, alpha, beta)
        return G * np.power(np.asarray(product, dtype=float), beta / (alpha + beta))


def optimal_precision(law: Law) -> float:
    """The compute-optimal training precision P* = argmax_P f(P)/P (Kumar et al. 2024, sec. 4.3.1).

    With N, D and one precision P for weights, activations and KV cache free under
    C = (6/16) N D P, the loss falls as the effective parameters per bit f(P)/P grow, whatever the
    budget. Searched on a 0.005-bit grid over [1, 32] bits, then refined around the best point.
    Only precisions where every operand's factor is positive count (below that the law breaks
    down; two negative factors must not multiply to a positive one).

    Parameters
    ----------
    law : Law
        A law with precision terms (``law.has_precision``).

    Returns
    -------
    float
        P* in bits.

    Raises
    ------
    PrecplanError
        When the law has no precision terms (it predicts 16-bit training only).

    Example
    -------
    >>> from precplan.laws import load_law
    >>> round(optimal_precision(load_law("kumar2024")), 2)
    7.0
    """
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
