"""Which runs to train next: greedy choice of candidate (N, D) runs by the expected reduction of
the variance of the target prediction per unit cost, from an ensemble of coefficient samples
(the bootstrap of the user's fit).

Criterion (after Li et al. 2026, "Spend Less, Fit Better", arXiv:2604.22753, sec. 4.2: score =
expected reduction of target-region uncertainty / c(x)^alpha, alpha = 0.4 in all their
experiments, sec. 5.1). Here the uncertainty is the variance of one target quantity q over the
coefficient samples (log N* at the target budget, or log loss at a target N, D); observing run x
gives log L(x) + noise (sd ``noise``, the fit's residual sd in log loss); under the ensemble's
joint Gaussian approximation the expected reduction is cov(q, f_x)^2 / (var f_x + noise^2)
(the linear-Gaussian update that the paper's intra-basin term also uses, Sec. 4.3). With several
target quantities (as the paper's target region has several points), the reductions add, each
relative to its own variance. After a
pick, the covariance is updated as if it were observed (the reduction does not depend on the
value), so the next pick accounts for what the first one will teach.

The law is Chinchilla's L = E + A / N^alpha + B / D^beta (Hoffmann et al. 2022, eq. 2), training
cost C = 6 N D; N* = G (C/6)^(beta/(alpha+beta)), G = (alpha A / (beta B))^(1/(alpha+beta))
(Hoffmann et al. 2022, eq. 4).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from precplan.errors import PrecplanError

__all__ = ["COST_EXPONENT", "Selection", "log_loss", "log_n_opt", "select_runs", "candidate_grid"]

Array = NDArray[np.float64]
COST_EXPONENT = 0.4  # Li et al. 2026, sec. 5.1: "alpha = 0.4 in all experiments"


def log_loss(theta: Array, params: ArrayLike, tokens: ArrayLike) -> Array:
    """log L for every sample (rows of ``theta``: E, A, B, alpha, beta) at every (N, D): (S, M)."""
    E, A, B, a, b = (theta[:, i:i + 1] for i in range(5))
    N = np.asarray(params, dtype=float)[None, :]
    D = np.asarray(tokens, dtype=float)[None, :]
    with np.errstate(all="ignore"):
        return np.log(E + A * N ** -a + B * D ** -b)


def log_n_opt(theta: Array, budget: float) -> Array:
    """log N* at ``budget`` FLOPs (C = 6 N D) for every sample (Hoffmann et al. 2022, eq. 4)."""
    E, A, B, a, b = theta.T
    with np.errstate(all="ignore"):
        log_g = (np.log(a * A) - np.log(b * B)) / (a + b)
        return log_g + b / (a + b) * np.log(budget / 6.0)


@dataclass(frozen=True)
class Selection:
    """The chosen candidates (indices into the candidate arrays, in pick order), each one's
    expected share of the target variance it removes, and the variance of each target quantity
    before and after (the first is the primary one, e.g. log N*)."""

    picks: tuple[int, ...]
    gains: tuple[float, ...]
    scores: tuple[float, ...]
    variances_before: tuple[float, ...]
    variances_after: tuple[float, ...]

    @property
    def variance_before(self) -> float:
        """The primary target's variance before the round."""
        return self.variances_before[0]

    @property
    def variance_after(self) -> float:
        """The primary target's expected variance after the round."""
        return self.variances_after[0]


def candidate_grid(params: ArrayLike, allowance: float, n_lo: float, n_hi: float, ratios: ArrayLike | None = None,
                   token_step: float | None = None, sizes: int = 13) -> tuple[Array, Array]:
    """Candidate runs: N log-spaced on [n_lo, n_hi] (``sizes`` values) times tokens per
    parameter in ``ratios`` (default 5..640, 8 values); D rounded up to whole ``token_step``
    (a batch) when given; only runs whose cost 6 N D fits the ``allowance``."""
    r = np.geomspace(5, 640, 8) if ratios is None else np.asarray(ratios, dtype=float)
    ns = np.geomspace(n_lo, max(n_hi, n_lo), sizes) if params is None else np.asarray(params, dtype=float)
    N, R = np.meshgrid(ns, r, indexing="ij")
    N, D = N.ravel(), (N * R).ravel()
    if token_step:
        D = np.maximum(1, np.ceil(D / token_step)) * token_step
    ok = 6.0 * N * D <= allowance
    return N[ok], D[ok]


def select_runs(theta: Array, target: Array, cand_params: ArrayLike, cand_tokens: ArrayLike, noise: float,
                allowance: float, k: int, cost_exponent: float = COST_EXPONENT) -> Selection:
    """Greedy choice of up to ``k`` candidates within ``allowance`` (FLOPs, cost 6 N D).

    Parameters
    ----------
    theta : ndarray (S, 5)
        Coefficient samples (E, A, B, alpha, beta).
    target : ndarray (S,) or (S, T)
        The target quantity (or T quantities) for each sample, e.g. :func:`log_n_opt` and the
        log loss at the target; with several, each counts by its share of its own variance.
    cand_params, cand_tokens : array_like
        Candidate runs.
    noise : float
        Measurement sd of log loss (the fit's residual sd).
    allowance : float
        Compute for the round, FLOPs; the picks' total cost never exceeds it.
    k : int
        Most runs to pick.

    Returns
    -------
    Selection

    Raises
    ------
    PrecplanError
        Fewer than 3 usable samples, or no candidate.
    """
    N, D = np.asarray(cand_params, dtype=float), np.asarray(cand_tokens, dtype=float)
    if N.size == 0:
        raise PrecplanError("no candidate run fits the allowance; give a larger allowance")
    Q = np.asarray(target, dtype=float)
    Q = Q[:, None] if Q.ndim == 1 else Q
    T = Q.shape[1]
    F = log_loss(theta, N, D)
    Z = np.column_stack([Q, F])
    Z = Z[np.all(np.isfinite(Z), axis=1)]
    if Z.shape[0] < 3:
        raise PrecplanError("fewer than 3 coefficient samples give a finite prediction; bootstrap the fit with more resamples")
    Z = Z - Z.mean(axis=0)
    S = Z.T @ Z / (Z.shape[0] - 1)
    cost = 6.0 * N * D
    share = cost / allowance
    noise2 = max(float(noise), 1e-6) ** 2
    before = np.diag(S)[:T].copy()
    weight = np.where(before > 0, 1.0 / np.where(before > 0, before, 1.0), 0.0)  # each target quantity counts equally
    left, chosen, gains, scores = float(allowance), [], [], []
    for _ in range(int(k)):
        var = np.diag(S)[T:]
        gain = (weight @ S[:T, T:] ** 2) / (var + noise2)  # sum over targets of cov^2 / (var f + noise^2), normalized
        score = gain / share ** cost_exponent
        score[cost > left * (1 + 1e-12)] = -np.inf
        score[chosen] = -np.inf
        j = int(np.argmax(score))
        if not np.isfinite(score[j]) or gain[j] <= 1e-9:
            break
        col = S[:, T + j].copy()
        S = S - np.outer(col, col) / (col[T + j] + noise2)
        chosen.append(j)
        gains.append(float(gain[j] / T))
        scores.append(float(score[j]))
        left -= float(cost[j])
    after = np.maximum(np.diag(S)[:T], 0.0)
    return Selection(tuple(chosen), tuple(gains), tuple(scores), tuple(float(x) for x in before), tuple(float(x) for x in after))
