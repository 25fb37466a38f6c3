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
    tol: float = 1e-7,
    iters: int = 100,
) -> Array:
    """Minimize unimodal functions on ``[lo, hi]`` elementwise by safeguarded Newton steps on the
    derivative (Press et al., Numerical Recipes, 3rd ed., sec. 9.4, ``rtsafe``), from ``x0``.

    ``derivatives(x, idx)`` gets current points of the problems ``idx`` (indices into the
    flattened problems; the same ``idx`` object is passed again until the set of unfinished
    problems is compacted, so the callee may cache what it gathers for it) and returns the first
    and second derivatives there. A first derivative of +inf says "the minimum is left of x"
    (e.g. x is infeasible on the right), -inf "right of x"; NaN counts as +inf.

    The derivative's sign shrinks a bracket around the minimum. A Newton step that leaves the
    bracket, or meets a non-positive curvature, is replaced by bisection; a step past an end of
    the search range tries that end first (an optimum on a bound, e.g. a memory cap, is then
    found at once; if the derivative there points back inside, the next step bisects). After
    ``SLOW`` iterations a Newton step longer than half the bracket is replaced by bisection, so
    every problem converges. A problem stops when its Newton step is at most ``tol``: the
    step is taken, and with Newton's quadratic convergence the error left is of order tol^2
    (smooth functions; near a kink it is at most of order tol)."""
    lo, hi, x0 = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (lo, hi, x0)))
    shape = lo.shape
    lo_f, hi_f = np.ascontiguousarray(lo).ravel(), np.ascontiguousarray(hi).ravel()
    x = np.minimum(np.maximum(np.ascontiguousarray(x0).ravel(), lo_f), hi_f)
    # per problem (all problems' indexing): ends not yet tried, and whether x was just set to one
    try_lo, try_hi, at_end = (np.ones(x.size, dtype=bool), np.ones(x.size, dtype=bool), np.zeros(x.size, dtype=bool))
    idx = np.flatnonzero(hi_f - lo_f > 0)  # the unfinished problems; xa, aa, ba: their x and bracket
    xa, aa, ba = x[idx], lo_f[idx], hi_f[idx]
    live = np.ones(idx.size, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for it in range(iters):
            if it:
                n_live = int(np.count_nonzero(live))
                if n_live == 0:
                    break
                if n_live < 0.6 * live.size:  # compact (the finished ones' x is already written out)
                    idx, xa, aa, ba = idx[live], xa[live], aa[live], ba[live]
                    live = np.ones(idx.size, dtype=bool)
            g1, g2 = derivatives(xa, idx)
            g1 = np.where(g1 == g1, g1, np.inf)  # NaN: as +inf
            aa = np.where(g1 < 0, xa, aa)
            ba = np.where(g1 > 0, xa, ba)
            step = g1 / g2
            xn = xa - step
            # At a tried end whose derivative points back inside, the end is no optimum, and a short
            # Newton step there says nothing (next to a wall, such as D -> 0, the curvature is
            # huge): such a problem bisects.
            ae = at_end[idx] if at_end.any() else None
            if ae is not None:
                at_end[idx] = False
            # a Newton step inside the bracket, with positive curvature (NaN/inf fail the tests)
            ok = (g2 > 0) & (xn > aa) & (xn < ba)
            if ae is not None:
                ok &= ~ae
            done = ok & (np.abs(step) <= tol)
            if it >= SLOW:  # slow so far: a Newton step longer than half the bracket bisects instead
                ok &= done | (np.abs(step) <= 0.5 * (ba - aa))
            rare = np.flatnonzero(~ok)
            if rare.size:
                # A converged step that rounds onto the bracket's end is taken; a step past an
                # untried end of the range tries that end; anything else bisects.
                r_idx, r_x, r_a, r_b, r_s, r_g2 = idx[rare], xa[rare], aa[rare], ba[rare], step[rare], g2[rare]
                curved = (r_g2 > 0) & np.isfinite(r_s)
                if ae is not None:
                    curved &= ~ae[rare]
                r_n = r_x - r_s
                converged = curved & (np.abs(r_s) <= tol)
                to_lo = curved & ~converged & (r_n <= r_a) & try_lo[r_idx] & (r_a == lo_f[r_idx])
                to_hi = curved & ~converged & (r_n >= r_b) & try_hi[r_idx] & (r_b == hi_f[r_idx])
                try_lo[r_idx[to_lo]] = False
                try_hi[r_idx[to_hi]] = False
                xn[rare] = np.where(converged, np.minimum(np.maximum(r_n, r_a), r_b),
                                    np.where(to_lo, r_a, np.where(to_hi, r_b, 0.5 * (r_a + r_b))))
                done[rare] = converged
                at_end[r_idx[to_lo | to_hi]] = True
            xa = xn
            finished = live & (done | (ba - aa <= tol) | (g1 == 0))
            x[idx[finished]] = xa[finished]
            live &= ~finished
    x[idx[live]] = xa[live]
    return x.reshape(shape)


SLOW = 16  # iterations after which newton_min bisects instead of a long Newton step
