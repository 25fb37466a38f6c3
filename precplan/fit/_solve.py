"""One stage's minimization: every start (and every bootstrap resample) through the batched
L-BFGS; for the full fit, the best distinct candidates are then refined to machine precision
(batched, tight tolerances) and the best checked by scipy's L-BFGS-B from where it stands, whose
verdict (and, should it go lower, whose point) is taken. scipy is not run from every start:
its per-call overhead would make the 4,500-start grid several times slower.

Large data (more runs than ``Settings.subsample``, 250 by default): the start grid runs on a
representative subsample (stratified over the model's features, log N and log D for the base
law), to a looser tolerance; its best distinct candidates are refined on a larger subsample
(``REFINE_ROWS``) where the data are larger still, and the best two on all runs, to the same
tight tolerances and scipy check as the full fit. The grid only has to find the basin: every
reported number is a minimum of the objective over all runs. Up to ``subsample`` runs nothing
changes (the full grid on every run)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from precplan.fit._lbfgs import batched_lbfgs, distinct_best, polish
from precplan.fit._objective import Model, Objective
from precplan.progress import progress_bar

__all__ = [
    "FINAL_CANDIDATES", "GRID_FTOL", "MAX_ELEMENTS", "POLISH_CANDIDATES", "REFINE_ITERATIONS", "REFINE_ROWS",
    "SUBSAMPLE", "TIGHT", "Settings", "Solved", "representative_rows", "solve",
]

MAX_ELEMENTS = 500_000  # members x runs per batch (memory: ~20 arrays of this many floats, 4 MB each)
POLISH_CANDIDATES = 5
SUBSAMPLE = 250         # runs the start grid searches on when there are more (Settings.subsample)
GRID_FTOL = 1e-7        # the grid's tolerance on a subsample: it only has to find the basin
REFINE_ROWS = 20_000    # above this many runs, candidates are refined on a subsample this large first
FINAL_CANDIDATES = 2    # candidates refined on all runs after that
REFINE_ITERATIONS = 150  # expected iterations of a refinement (progress bar length until measured)
TIGHT = dict(maxiter=5000, ftol=1e-15, gtol=1e-14)


@dataclass
class Settings:
    """How to fit: objective (``huber`` or ``lsq``), Huber delta, grid, progress bars, and the
    subsample the grid runs on when there are more runs (0: the full grid on every run)."""

    objective: str = "huber"
    delta: float = 1e-3
    grid: str = "full"
    progress: bool = False
    subsample: int = SUBSAMPLE


@dataclass
class Solved:
    """The best parameters (full model vectors) of each resample (R rows; R = 1 for the fit)."""

    theta: np.ndarray        # (R, p)
    fun: np.ndarray          # (R,)
    converged: np.ndarray    # (R,)
    n_starts: int
    n_at_best: int = 0       # starts that reached the best objective (full fit only)
    candidates: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # distinct best (free) starts
    message: str = ""
    names: tuple[str, ...] = ()   # the model's parameters, and which were free, with their bounds
    free: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    lower: np.ndarray = field(default_factory=lambda: np.zeros(0))
    upper: np.ndarray = field(default_factory=lambda: np.zeros(0))
    grid_rows: int = 0            # runs the start grid searched on (all, or a representative subsample)
    refined_on: tuple[int, ...] = ()  # runs each refinement of the grid's candidates used (subsample path)


def representative_rows(features: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """Indices of ``size`` rows spread over the range of every feature: each feature (column of
    ``features``) is cut into equal-count bins over its distinct values, and rows are drawn in
    turn from every occupied cell of the bins' product (at random within a cell, seeded), after
    the rows holding each feature's smallest and largest value (the largest models, the longest
    runs: what the law extrapolates from). Sorted indices."""
    n, f = features.shape
    if size >= n:
        return np.arange(n)
    per = max(2, int(np.ceil(size ** (1.0 / max(f, 1)))))
    cell = np.zeros(n, dtype=np.int64)
    for j in range(f):
        _, inv = np.unique(features[:, j], return_inverse=True)
        levels = int(inv.max()) + 1
        bins = min(per, levels)
        cell = cell * bins + (inv.reshape(-1) * bins) // levels
    rng = np.random.default_rng(seed)
    noise = rng.random(n)
    order = np.lexsort((noise, cell))
    sorted_cell = cell[order]
    starts = np.flatnonzero(np.r_[True, sorted_cell[1:] != sorted_cell[:-1]])
    rank = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))  # place within its cell
    extremes = np.r_[features.argmin(axis=0), features.argmax(axis=0)]
    rank[np.isin(order, extremes)] = -1  # the smallest and largest of every feature come first
    pick = order[np.lexsort((noise[order], rank))[:size]]  # then every cell's first, every cell's second, ...
    return np.sort(pick)


def solve(model: Model, y: np.ndarray, weights: np.ndarray, starts: np.ndarray, free: np.ndarray,
          theta0: np.ndarray, settings: Settings, polish_best: bool, label: str) -> Solved:
    """Minimize the stage objective from every start for every row of ``weights`` (R, n)."""
    weights = np.atleast_2d(weights)
    n = y.shape[0]
    if polish_best and weights.shape[0] == 1 and 0 < settings.subsample < n:
        return _solve_large(model, y, weights, starts, free, theta0, settings, label)
    obj = _objective(model, y, weights, settings, free, theta0)
    xs, fs, conv = _grid(obj, starts, n, settings, polish_best, label)
    R, K = weights.shape[0], starts.shape[0]
    fs2, xs2, conv2 = fs.reshape(R, K), xs.reshape(R, K, -1), conv.reshape(R, K)
    best = np.argmin(np.where(np.isfinite(fs2), fs2, np.inf), axis=1)
    theta = obj.full(xs2[np.arange(R), best])
    out = Solved(theta, fs2[np.arange(R), best], conv2[np.arange(R), best], K, names=tuple(model.names),
                 free=np.asarray(free, dtype=bool), lower=model.lower, upper=model.upper, grid_rows=n)
    if not polish_best:
        return out
    cand = distinct_best(xs, fs, POLISH_CANDIDATES)
    if cand.size == 0:
        out.converged[:] = False
        out.message = "no start reached a finite objective"
        return out
    tight = batched_lbfgs(lambda x, m: obj.batch(x, cand[m]), xs[cand], obj.lower, obj.upper, **TIGHT)
    _finish(out, obj, tight, int(cand[int(np.argmin(tight.f))]), fs)
    return out


def _objective(model: Model, y: np.ndarray, weights: np.ndarray, settings: Settings, free: np.ndarray,
               theta0: np.ndarray) -> Objective:
    return Objective(model, y, weights, settings.objective, settings.delta, free, theta0)


def _grid(obj: Objective, starts: np.ndarray, n: int, settings: Settings, polish_best: bool, label: str,
          ftol: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Batched L-BFGS from every start for every resample (members chunked to bound memory)."""
    R, K = obj.weights.shape[0], starts.shape[0]
    M = R * K
    obj.member_rows = np.repeat(np.arange(R), K)
    x0 = np.tile(starts, (R, 1))
    xs, fs, conv = np.empty_like(x0), np.empty(M), np.empty(M, dtype=bool)
    chunk = max(1, MAX_ELEMENTS // max(1, n))
    if R > 1:
        label = f"{label} ({R} resamples x {K} starts)"
    if ftol is None:
        ftol = 1e-9 if polish_best else 1e-12
    with progress_bar(settings.progress, label, M) as advance:
        for lo in range(0, M, chunk):
            hi = min(M, lo + chunk)
            res = batched_lbfgs(lambda x, m, lo=lo: obj.batch(x, m + lo), x0[lo:hi], obj.lower, obj.upper,
                                ftol=ftol, maxiter=1000 if polish_best else 5000, on_done=advance)
            xs[lo:hi], fs[lo:hi], conv[lo:hi] = res.x, res.f, res.converged
    return xs, fs, conv


def _finish(out: Solved, obj: Objective, tight, member: int, grid_f: np.ndarray) -> None:
    """The best tightly refined candidate, checked by scipy's L-BFGS-B on ``obj`` (whose verdict,
    and should it go lower, whose point, is taken)."""
    i = int(np.argmin(tight.f))
    check = polish(obj.single(member), tight.x[i], obj.lower, obj.upper)
    if check.f < tight.f[i]:
        top_x, top_f, converged = check.x, check.f, check.converged
    else:
        top_x, top_f, converged = tight.x[i], float(tight.f[i]), check.converged or bool(tight.converged[i])
    out.theta, out.fun = obj.full(top_x[None, :]), np.array([top_f])
    out.converged, out.message = np.array([converged]), check.message
    out.n_at_best = int(np.sum(grid_f <= top_f + 1e-4 * abs(top_f) + 1e-12))
    out.candidates = np.vstack([top_x[None, :], tight.x])


def _refine(obj: Objective, x: np.ndarray, settings: Settings, label: str, expected: int):
    """Tight batched L-BFGS from ``x``; the bar's length is ``expected`` iterations (stretched if exceeded)."""
    with progress_bar(settings.progress, label, max(expected, 1)) as advance:
        count = 0

        def step(k: int) -> None:
            nonlocal count
            count += k
            if count >= expected:
                advance.total(int(count * 1.25) + 1)
            advance(k)

        res = batched_lbfgs(obj.batch, x, obj.lower, obj.upper, on_iter=step if advance else None, **TIGHT)
        if advance:
            advance.total(count)
    return res


def _solve_large(model: Model, y: np.ndarray, weights: np.ndarray, starts: np.ndarray, free: np.ndarray,
                 theta0: np.ndarray, settings: Settings, label: str) -> Solved:
    """The start grid on a representative subsample, its best candidates refined on all runs."""
    n, K = y.shape[0], starts.shape[0]
    features = model.features()
    idx = representative_rows(features, settings.subsample)
    sub = _objective(model.rows(idx), y[idx], weights[:, idx], settings, free, theta0)
    xs, fs, _ = _grid(sub, starts, idx.size, settings, True, f"{label}: start grid on {idx.size:,} of {n:,} rows",
                      ftol=GRID_FTOL)
    out = Solved(np.zeros((1, len(model.names))), np.array([np.inf]), np.array([False]), K, names=tuple(model.names),
                 free=np.asarray(free, dtype=bool), lower=model.lower, upper=model.upper, grid_rows=int(idx.size))
    cand = distinct_best(xs, fs, POLISH_CANDIDATES)
    if cand.size == 0:
        out.message = "no start reached a finite objective"
        return out
    grid_best = float(fs[cand[0]])
    x = xs[cand]
    refined = []
    iterations = REFINE_ITERATIONS  # the first refinement's length is a guess; the next one's, what it took
    if n > REFINE_ROWS:  # a middle step: the candidates' ranking settles on far fewer rows than all
        mid = representative_rows(features, REFINE_ROWS, seed=1)
        obj_mid = _objective(model.rows(mid), y[mid], weights[:, mid], settings, free, theta0)
        res = _refine(obj_mid, x, settings, f"{label}: refining {x.shape[0]} fits on {mid.size:,} rows", iterations)
        iterations = int(res.iterations.max())
        keep = distinct_best(res.x, res.f, FINAL_CANDIDATES)
        x = res.x[keep]
        refined.append(int(mid.size))
    obj = _objective(model, y, weights, settings, free, theta0)
    tight = _refine(obj, x, settings, f"{label}: refining {x.shape[0]} fits on all {n:,} rows", iterations)
    refined.append(n)
    _finish(out, obj, tight, 0, np.array([]))
    out.n_at_best = int(np.sum(fs <= grid_best + 1e-4 * abs(grid_best) + 1e-12))  # on the grid's subsample
    out.refined_on = tuple(refined)
    return out
