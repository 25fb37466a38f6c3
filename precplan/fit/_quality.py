"""How well a law reproduces runs: predicted vs measured loss of every training run (and every
post-training-quantization measurement), R^2 and relative errors. Predictions come from the
law's own methods (:meth:`precplan.laws._law.Law.loss`), independently of the fitting code."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from precplan.fit._plan import Data
from precplan.laws import Law

__all__ = ["Points", "points", "ptq_r2", "r_squared", "summary"]


@dataclass
class Points:
    """One target per training run (kind ``loss``) and per PTQ measurement (kind ``post``)."""

    params: np.ndarray
    tokens: np.ndarray
    weight_bits: np.ndarray
    activation_bits: np.ndarray
    kv_bits: np.ndarray
    post_bits: np.ndarray      # NaN for training-loss targets
    measured: np.ndarray
    predicted: np.ndarray
    kind: list[str]

    @property
    def relative_error(self) -> np.ndarray:
        return (self.predicted - self.measured) / self.measured

    def __len__(self) -> int:
        return int(self.measured.size)


def points(law: Law, data: Data) -> Points:
    """Targets the law can predict: for a chinchilla law only the high-precision runs."""
    train = data.train(np.arange(data.n_training) if law.has_precision else data.base)
    post = data.runs.subset(data.post) if law.has_ptq else data.runs.subset(np.zeros(0, dtype=int))
    w, a, kv = (np.concatenate(pair) for pair in zip(train.training_bits(), post.training_bits()))
    pb = np.concatenate([np.full(train.n, np.nan), post.post_bits if post.n else np.zeros(0)])
    N, D = np.concatenate([train.params, post.params]), np.concatenate([train.tokens, post.tokens])
    measured = np.concatenate([train.loss, post.post_loss if post.n else np.zeros(0)])
    pred = law.loss(N, D, w, a, kv)
    if post.n:
        pred[train.n :] = law.loss(post.params, post.tokens, *post.training_bits(), post=post.post_bits)
    return Points(N, D, w, a, kv, pb, measured, pred, ["loss"] * train.n + ["post"] * post.n)


def r_squared(measured: np.ndarray, predicted: np.ndarray) -> float:
    """1 - SS_res / SS_tot (NaN with fewer than two distinct measurements)."""
    ss_tot = float(np.sum((measured - measured.mean()) ** 2))
    if measured.size < 2 or ss_tot == 0:
        return float("nan")
    return 1.0 - float(np.sum((predicted - measured) ** 2)) / ss_tot


def summary(p: Points) -> dict[str, float]:
    """R^2, mean absolute relative error (the Hitchhiker's guide metric), worst error, RMSE of log loss."""
    if len(p) == 0:
        return {"n": 0}
    rel = p.relative_error
    return {
        "n": len(p),
        "r2": r_squared(p.measured, p.predicted),
        "mean_abs_rel_error": float(np.mean(np.abs(rel))),
        "max_abs_rel_error": float(np.max(np.abs(rel))),
        "rmse_log": float(np.sqrt(np.mean(np.log(p.predicted / p.measured) ** 2))),
    }


def ptq_r2(law: Law, data: Data) -> float:
    """R^2 of the PTQ degradation itself (post_loss - loss against the law's delta_PTQ)."""
    post = data.runs.subset(data.post)
    measured = post.post_loss - post.loss
    pred = law.ptq_degradation(post.params, post.tokens, post.post_bits, *post.training_bits())
    return r_squared(measured, pred)
