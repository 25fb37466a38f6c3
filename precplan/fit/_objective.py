"""The fitting objective: a robust loss on log-loss residuals, batched over many parameter
vectors at once (many starts, many bootstrap resamples), with analytic gradients.

Hoffmann et al. 2022, Appendix D.2: minimize sum_i Huber_delta(log Lhat_i - log L_i), delta 1e-3.
Besiroglu et al. 2024 found that summing (rather than averaging) let the optimizer stop early;
here the objective is the weighted MEAN, divided by delta, so its scale is that of |r| and the
optimizer's tolerances mean the same for any number of runs (the minimizer is unchanged).
"""

from __future__ import annotations

from typing import Callable, Protocol

import numpy as np

from precplan.errors import PrecplanError

__all__ = ["LOSSES", "ROW_CHUNK", "Model", "Objective", "robust_loss"]

LOSSES = ("huber", "lsq")
ROW_CHUNK = 65_536  # runs per pass over the data: above this the objective is summed chunk by chunk


def robust_loss(r: np.ndarray, kind: str, delta: float) -> tuple[np.ndarray, np.ndarray]:
    """rho(r) and rho'(r): Huber (Hoffmann et al. 2022, App. D.2) scaled by 1/delta, or 0.5 r^2."""
    if kind == "lsq":
        return 0.5 * r * r, r
    a = np.abs(r)
    rho = np.where(a <= delta, 0.5 * r * r / delta, a - 0.5 * delta)
    return rho, np.clip(r / delta, -1.0, 1.0)


class Model(Protocol):
    """A stage's model of log loss: ``evaluate(theta (k, p), rows (k,))`` -> predicted log loss
    ``(k, n)`` and a vector-Jacobian product ``vjp(v (k, n)) -> (k, p)``. ``rows`` picks each
    parameter vector's context (its bootstrap resample); models without context ignore it.
    ``rows(idx)`` is the same model over some runs only; ``features()`` (n, f) is what a
    representative subsample of the runs is stratified over."""

    names: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray

    def rows(self, idx) -> "Model":
        ...

    def features(self) -> np.ndarray:
        ...

    def evaluate(self, theta: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
        ...


class Objective:
    """mean_i w_i rho(pred_i(theta) - y_i) / mean_i w_i for a batch of parameter vectors.

    ``weights``: ``(n,)`` or ``(R, n)`` (one row per bootstrap resample: counts of each run).
    ``free``: which model parameters the optimizer moves; the others stay at ``theta0``.
    ``member_rows``: for each optimizer member (start x resample), its weight/context row.
    """

    def __init__(self, model: Model, y: np.ndarray, weights: np.ndarray | None = None, kind: str = "huber",
                 delta: float = 1e-3, free: np.ndarray | None = None, theta0: np.ndarray | None = None,
                 member_rows: np.ndarray | None = None) -> None:
        if kind not in LOSSES:
            raise PrecplanError(f"objective must be one of {', '.join(LOSSES)}; got {kind!r}")
        if not (np.isfinite(delta) and delta > 0):
            raise PrecplanError(f"`delta` must be a positive number; got {delta!r}")
        self.model, self.kind, self.delta = model, kind, float(delta)
        self.y = np.asarray(y, dtype=float)
        w = np.ones_like(self.y) if weights is None else np.asarray(weights, dtype=float)
        w = np.atleast_2d(w)
        total = w.sum(axis=1, keepdims=True)
        if np.any(total <= 0):
            raise PrecplanError("every resample needs at least one run with positive weight")
        self.weights = w / total
        p = len(model.names)
        self.free = np.ones(p, dtype=bool) if free is None else np.asarray(free, dtype=bool)
        self.theta0 = np.zeros(p) if theta0 is None else np.asarray(theta0, dtype=float)
        self.member_rows = member_rows
        self._chunks: dict[int, Model] = {}

    @property
    def lower(self) -> np.ndarray:
        return self.model.lower[self.free]

    @property
    def upper(self) -> np.ndarray:
        return self.model.upper[self.free]

    def full(self, x: np.ndarray) -> np.ndarray:
        """Free parameters ``(k, q)`` -> full parameter vectors ``(k, p)``."""
        theta = np.repeat(self.theta0[None, :], x.shape[0], axis=0)
        theta[:, self.free] = x
        return theta

    def rows(self, members: np.ndarray) -> np.ndarray:
        return members if self.member_rows is None else self.member_rows[members]

    def batch(self, x: np.ndarray, members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Objective values ``(k,)`` and gradients ``(k, q)`` for free parameters ``x (k, q)``.
        Over more than ``ROW_CHUNK`` runs the sums run chunk by chunk (memory stays bounded)."""
        rows = self.rows(members)
        theta = self.full(x)
        wrows = rows if self.weights.shape[0] > 1 else np.zeros_like(rows)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if self.y.size <= ROW_CHUNK:
                f, g = self._part(self.model, self.y, self.weights, theta, rows, wrows)
            else:
                f, g = np.zeros(theta.shape[0]), np.zeros(theta.shape)
                for lo in range(0, self.y.size, ROW_CHUNK):
                    part = slice(lo, lo + ROW_CHUNK)
                    fc, gc = self._part(self._chunk(lo), self.y[part], self.weights[:, part], theta, rows, wrows)
                    f += fc
                    g += gc
            g = g[:, self.free]
        bad = ~np.isfinite(f) | ~np.all(np.isfinite(g), axis=1)
        if np.any(bad):
            f = np.where(bad, np.inf, f)
            g = np.where(bad[:, None], 0.0, g)
        return f, g

    def _part(self, model: Model, y: np.ndarray, weights: np.ndarray, theta: np.ndarray, rows: np.ndarray,
              wrows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weighted sums of rho and of its gradient over the runs of ``model``."""
        pred, vjp = model.evaluate(theta, rows)
        rho, drho = robust_loss(pred - y[None, :], self.kind, self.delta)
        w = weights[wrows]
        return np.einsum("kn,kn->k", w, rho), vjp(w * drho)

    def _chunk(self, lo: int) -> Model:
        """The model over runs lo .. lo + ROW_CHUNK (built once, kept)."""
        if lo not in self._chunks:
            self._chunks[lo] = self.model.rows(slice(lo, lo + ROW_CHUNK))
        return self._chunks[lo]

    def single(self, member: int = 0) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
        """The objective of one member as ``x (q,) -> (f, g)`` for scipy."""
        idx = np.array([member])

        def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
            f, g = self.batch(np.asarray(x, dtype=float)[None, :], idx)
            return float(f[0]) if np.isfinite(f[0]) else 1e300, g[0]

        return fun

    def residuals(self, theta: np.ndarray, row: int = 0) -> np.ndarray:
        """Log-loss residuals pred - y of one full parameter vector."""
        pred, _ = self.model.evaluate(np.asarray(theta, dtype=float)[None, :], np.array([row]))
        return pred[0] - self.y
