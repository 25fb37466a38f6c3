"""Vectorized one-dimensional solvers: many problems at once, no Python loop per problem.

Every planner question reduces, per budget and per candidate precision, to a bounded scalar
minimization or a monotone root. These solvers run all of them together on numpy arrays,
which is what makes a 1,000-budget sweep take milliseconds instead of a scipy call each.

Convention: the function ``f`` receives ``x`` with the problems' shape plus ONE trailing axis
(the grid points while bracketing, a single point while refining) and returns an array of the
same shape. Parameter arrays the closure uses should carry a trailing axis of length 1.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0


def golden_min(
    f: Callable[[Array], Array],
    lo: Array,
    hi: Array,
    grid: int = 48,
    iters: int = 64,
) -> tuple[Array, Array]:
    """Minimize ``f`` on ``[lo, hi]`` elementwise: a ``grid``-point scan brackets the minimum
    (robust to +inf marking infeasible points), then golden-section search refines it.

    Returns ``(x, f(x))``; ``f(x)`` is +inf where no grid point was finite. The end points are
    candidates too, so an optimum on a bound (e.g. a memory limit) is returned exactly."""
    lo, hi = np.broadcast_arrays(np.asarray(lo, dtype=float), np.asarray(hi, dtype=float))
    t = np.linspace(0.0, 1.0, grid)
    xs = lo[..., None] + (hi - lo)[..., None] * t
    fs = np.where(np.isnan(v := f(xs)), np.inf, v)
    i = np.argmin(fs, axis=-1)
    x_best = np.take_along_axis(xs, i[..., None], -1)[..., 0]
    f_best = np.take_along_axis(fs, i[..., None], -1)[..., 0]
    a = np.take_along_axis(xs, np.maximum(i - 1, 0)[..., None], -1)[..., 0]
    b = np.take_along_axis(xs, np.minimum(i + 1, grid - 1)[..., None], -1)[..., 0]

    def ev(x: Array) -> Array:
        v = f(x[..., None])[..., 0]
        return np.where(np.isnan(v), np.inf, v)

    c = b - GOLDEN * (b - a)
    d = a + GOLDEN * (b - a)
    fc, fd = ev(c), ev(d)
    for _ in range(iters):
        left = fc <= fd  # minimum in [a, d]
        b = np.where(left, d, b)
        a = np.where(left, a, c)
        new_c = b - GOLDEN * (b - a)
        new_d = a + GOLDEN * (b - a)
        x_new = np.where(left, new_c, new_d)
        f_new = ev(x_new)
        c, d = np.where(left, new_c, d), np.where(left, c, new_d)
        fc, fd = np.where(left, f_new, fd), np.where(left, fc, f_new)
    mid = 0.5 * (a + b)
    candidates = np.stack([x_best, mid, lo, hi], axis=-1)
    values = np.stack([f_best, ev(mid), ev(lo), ev(hi)], axis=-1)
    j = np.argmin(values, axis=-1)
    return (
        np.take_along_axis(candidates, j[..., None], -1)[..., 0],
        np.take_along_axis(values, j[..., None], -1)[..., 0],
    )


def bisect_root(g: Callable[[Array], Array], lo: Array, hi: Array, iters: int = 100) -> Array:
    """The root of a function that changes sign once on ``[lo, hi]`` (elementwise bisection).

    ``g`` takes and returns arrays of the problems' shape (no trailing axis). Where ``g`` has
    the same sign at both ends the result is NaN (the caller decides what that means)."""
    lo, hi = np.broadcast_arrays(np.asarray(lo, dtype=float), np.asarray(hi, dtype=float))
    lo, hi = lo.copy(), hi.copy()
    g_lo = g(lo)
    g_hi = g(hi)
    ok = np.sign(g_lo) * np.sign(g_hi) <= 0
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        same = np.sign(g(mid)) == np.sign(g_lo)
        lo = np.where(same, mid, lo)
        hi = np.where(same, hi, mid)
    root = 0.5 * (lo + hi)
    return np.where(ok, root, np.nan)


def newton_min(
    derivatives: Callable[[Array, NDArray[np.intp]], tuple[Array, Array]],
    lo: Array,
    hi: Array,
    x0: Array,
    tol: float = 1e-11,
    iters: int = 100,
) -> Array:
    """Minimize unimodal functions on ``[lo, hi]`` elementwise by safeguarded Newton steps on the
    derivative (Press et al., Numerical Recipes, 3rd ed., sec. 9.4, ``rtsafe``), from ``x0``.

    ``derivatives(x, idx)`` gets the current points of the problems ``idx`` (indices into the
    flattened problems; only the unconverged ones are passed) and returns the first and second
    derivatives there. A first derivative of +inf says "the minimum is left of x" (e.g. x is
    infeasible on the right), -inf "right of x"; NaN counts as +inf.

    The derivative's sign shrinks a bracket around the minimum; a Newton step that leaves the
    bracket, meets a non-positive curvature, or does not halve the step before last is replaced
    by bisection, so every problem converges (at worst linearly). Stops when the step is below
    ``tol``. Returns x (the caller compares it with the end points, where a bound can bind)."""
    lo, hi, x0 = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (lo, hi, x0)))
    shape = lo.shape
    a, b = lo.ravel().copy(), hi.ravel().copy()
    x = np.clip(x0.ravel(), a, b)
    step_old = b - a
    act = np.flatnonzero(b - a > tol)
    for _ in range(iters):
        if act.size == 0:
            break
        xa, aa, ba = x[act], a[act], b[act]
        g1, g2 = derivatives(xa, act)
        g1 = np.where(np.isnan(g1), np.inf, g1)
        aa = np.where(g1 < 0, xa, aa)
        ba = np.where(g1 > 0, xa, ba)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            step = g1 / g2
            xn = xa - step
        converged = np.isfinite(step) & (g2 > 0) & (np.abs(step) <= tol)
        newton = np.isfinite(g1) & (g2 > 0) & (xn > aa) & (xn < ba) & (np.abs(step) <= 0.5 * step_old[act])
        xn = np.where(converged, np.clip(xn, aa, ba), np.where(newton, xn, 0.5 * (aa + ba)))
        x[act], a[act], b[act] = xn, aa, ba
        step_old[act] = np.where(newton, np.abs(step), 0.5 * (ba - aa))
        act = act[~converged & (ba - aa > tol) & (g1 != 0)]
    return x.reshape(shape)
