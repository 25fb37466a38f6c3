"""One stage's minimization: every start (and every bootstrap resample) through the batched
L-BFGS; for the full fit, the best distinct candidates are then refined to machine precision
(batched, tight tolerances) and the best checked by scipy's L-BFGS-B from where it stands, whose
verdict (and, should it go lower, whose point) is taken. scipy is not run from every start:
its per-call overhead would make the 4,500-start grid several times slower."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from precplan.fit._lbfgs import batched_lbfgs, distinct_best, polish
from precplan.fit._objective import Model, Objective
from precplan.progress import progress_bar

MAX_ELEMENTS = 2_500_000  # members x runs per batch (memory: a few arrays of this many floats)
POLISH_CANDIDATES = 5


@dataclass
class Settings:
    """How to fit: objective (``huber`` or ``lsq``), Huber delta, grid, progress bars."""

    objective: str = "huber"
    delta: float = 1e-3
    grid: str = "full"
    progress: bool = False


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


def solve(model: Model, y: np.ndarray, weights: np.ndarray, starts: np.ndarray, free: np.ndarray,
          theta0: np.ndarray, settings: Settings, polish_best: bool, label: str) -> Solved:
    """Minimize the stage objective from every start for every row of ``weights`` (R, n)."""
    weights = np.atleast_2d(weights)
    R, K = weights.shape[0], starts.shape[0]
    M = R * K
    obj = Objective(model, y, weights, settings.objective, settings.delta, free, theta0, np.repeat(np.arange(R), K))
    x0 = np.tile(starts, (R, 1))
    xs, fs, conv = np.empty_like(x0), np.empty(M), np.empty(M, dtype=bool)
    chunk = max(1, MAX_ELEMENTS // max(1, y.shape[0]))
    if R > 1:
        label = f"{label} ({R} resamples x {K} starts)"
    with progress_bar(settings.progress, label, M) as advance:
        for lo in range(0, M, chunk):
            hi = min(M, lo + chunk)
            res = batched_lbfgs(lambda x, m, lo=lo: obj.batch(x, m + lo), x0[lo:hi], obj.lower, obj.upper,
                                ftol=1e-9 if polish_best else 1e-12, maxiter=1000 if polish_best else 5000,
                                on_done=advance)
            xs[lo:hi], fs[lo:hi], conv[lo:hi] = res.x, res.f, res.converged
    fs2, xs2, conv2 = fs.reshape(R, K), xs.reshape(R, K, -1), conv.reshape(R, K)
    best = np.argmin(np.where(np.isfinite(fs2), fs2, np.inf), axis=1)
    theta = obj.full(xs2[np.arange(R), best])
    out = Solved(theta, fs2[np.arange(R), best], conv2[np.arange(R), best], K, names=tuple(model.names),
                 free=np.asarray(free, dtype=bool), lower=model.lower, upper=model.upper)
    if not polish_best:
        return out
    cand = distinct_best(xs, fs, POLISH_CANDIDATES)
    if cand.size == 0:
        out.converged[:] = False
        out.message = "no start reached a finite objective"
        return out
    tight = batched_lbfgs(lambda x, m: obj.batch(x, cand[m]), xs[cand], obj.lower, obj.upper,
                          maxiter=5000, ftol=1e-15, gtol=1e-14)
    i = int(np.argmin(tight.f))
    check = polish(obj.single(int(cand[i])), tight.x[i], obj.lower, obj.upper)
    if check.f < tight.f[i]:
        top_x, top_f, converged = check.x, check.f, check.converged
    else:
        top_x, top_f, converged = tight.x[i], float(tight.f[i]), check.converged or bool(tight.converged[i])
    out.theta, out.fun = obj.full(top_x[None, :]), np.array([top_f])
    out.converged, out.message = np.array([converged]), check.message
    out.n_at_best = int(np.sum(fs <= top_f + 1e-4 * abs(top_f) + 1e-12))
    out.candidates = np.vstack([top_x[None, :], tight.x])
    return out
