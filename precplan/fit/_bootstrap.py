"""Bootstrap confidence intervals (Besiroglu et al. 2024 bootstrapped Hoffmann's fit): resample
the training runs with replacement, refit every stage, take percentile intervals of every
fitted coefficient and of the compute-optimal N*, D* (and P*) at a budget.

To stay fast, all resamples are fitted at once (one batch), each from a handful of starts:
the best full fit and the next best distinct local minima the full grid found (not the whole
grid). Resampling is stratified: high-precision runs are drawn from high-precision runs and
quantized runs from quantized runs, so every stage keeps data; a PTQ measurement counts as
often as its training run is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from precplan.errors import PrecplanError
from precplan.fit._curves import group_clusters, group_weights
from precplan.fit._models import readable
from precplan.fit._optimum import compute_optimal
from precplan.fit._plan import Data, Plan
from precplan.fit._solve import Settings
from precplan.fit._stages import (
    StageResult, base_values, coefficient_values, math_law, run_base, run_precision, run_ptq,
)

__all__ = ["Bootstrap", "resample_counts", "run_bootstrap"]


@dataclass
class Bootstrap:
    """Per-resample values (only converged resamples) and percentile intervals."""

    n: int
    used: int
    level: float
    samples: dict[str, np.ndarray] = field(default_factory=dict)
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    stderr: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def resample_counts(data: Data, B: int, rng: np.random.Generator) -> np.ndarray:
    """(B, G) counts: each stratum (high-precision, quantized runs) drawn with replacement.
    Training curves: whole runs (curves) are drawn, each checkpoint counting its weight."""
    clusters = group_clusters(data)
    if clusters is not None:
        return _curve_counts(data, clusters, B, rng)
    W = np.zeros((B, data.n_training))
    for stratum in (data.base, data.quant):
        if stratum.size == 0:
            continue
        draws = stratum[rng.integers(0, stratum.size, size=(B, stratum.size))]
        np.add.at(W, (np.repeat(np.arange(B), stratum.size), draws.ravel()), 1.0)
    if data.post.size:  # a resample without any PTQ measurement cannot refit the PTQ stage: redraw it
        empty = W[:, data.group[data.post]].sum(axis=1) == 0
        if np.any(empty):
            W[empty] = resample_counts(data, int(empty.sum()), rng)
    return W


def _curve_counts(data: Data, clusters: np.ndarray, B: int, rng: np.random.Generator) -> np.ndarray:
    """(B, G): runs (curves) of each stratum drawn with replacement; a checkpoint's entry is its
    run's draw count times the checkpoint's weight (1/k for a run with k checkpoints)."""
    weight = group_weights(data)
    W = np.zeros((B, data.n_training))
    for stratum in (data.base, data.quant):
        if stratum.size == 0:
            continue
        ids, local = np.unique(clusters[stratum], return_inverse=True)
        draws = rng.integers(0, ids.size, size=(B, ids.size))
        counts = np.zeros((B, ids.size))
        np.add.at(counts, (np.repeat(np.arange(B), ids.size), draws.ravel()), 1.0)
        W[:, stratum] = counts[:, local.reshape(-1)] * weight[stratum]
    return W


def run_bootstrap(data: Data, plan: Plan, settings: Settings, full: dict[str, StageResult], tie: bool,
                  B: int, budget: float, level: float, seed: int) -> Bootstrap:
    if not 0 < level < 1:
        raise PrecplanError(f"`level` must be between 0 and 1 (e.g. 0.95); got {level:g}")
    rng = np.random.default_rng(seed)
    W = resample_counts(data, B, rng)
    ok = np.ones(B, dtype=bool)
    stages: dict[str, StageResult] = {}
    pinned: list[str] = []
    if "base" in full:
        stages["base"] = run_base(data, settings, W, tie, full["base"].solved.candidates, polish=False)
        ok &= stages["base"].solved.converged
    if "precision" in full:
        base = stages["base"].values if "base" in stages else base_values(plan.base_law)
        stages["precision"] = run_precision(data, plan, settings, base, W, full["precision"].solved.candidates, polish=False)
        ok &= stages["precision"].solved.converged
    values = [coefficient_values(plan, stages, r) for r in range(B)]
    laws = [math_law(plan, v) for v in values]
    if "ptq" in full:
        stages["ptq"] = run_ptq(data, plan, settings, laws, W, full["ptq"].solved.candidates, polish=False)
        ok &= stages["ptq"].solved.converged
        values = [coefficient_values(plan, stages, r) for r in range(B)]
        laws = [math_law(plan, v) for v in values]
    for stage in stages.values():
        pinned += _pinned(stage, ok)
    fitted = [k for s in full.values() for k in s.fitted]
    samples = {k: np.array([v[k] for v in values]) for k in fitted}
    optima = [compute_optimal(law, budget) for law in laws]
    for key in optima[0]:
        samples[key] = np.array([o[key] for o in optima])
    finite = np.all([np.isfinite(s) for s in samples.values()], axis=0)
    keep = ok & finite
    out = Bootstrap(B, int(keep.sum()), level)
    if keep.sum() < max(2, 0.5 * B):
        raise PrecplanError(f"only {int(keep.sum())} of {B} bootstrap fits converged: the data cannot support intervals")
    if keep.sum() < B:
        out.warnings.append(f"{B - int(keep.sum())} of {B} bootstrap fits did not converge and are left out of the intervals")
    out.warnings += pinned
    q = 100 * (1 - level) / 2
    for k, s in samples.items():
        s = s[keep]
        out.samples[k] = s
        lo, hi = np.percentile(s, [q, 100 - q])
        out.intervals[k] = (float(lo), float(hi))
        lo68, hi68 = np.percentile(s, [15.865, 84.135])
        out.stderr[k] = float((hi68 - lo68) / 2)  # robust: equals the SD for a normal spread
    return out


def _pinned(stage: StageResult, ok: np.ndarray) -> list[str]:
    """Resamples whose fit put a coefficient at an optimizer bound: the data barely constrain it."""
    s = stage.solved
    out = []
    for i, name in enumerate(s.names):
        if not s.free[i]:
            continue
        at = (np.abs(s.theta[:, i] - s.lower[i]) <= 1e-9 * (1 + abs(s.lower[i]))) | (
            np.abs(s.theta[:, i] - s.upper[i]) <= 1e-9 * (1 + abs(s.upper[i])))
        share = float(np.mean(at[ok])) if ok.any() else 0.0
        if share > 0.025:
            out.append(
                f"{share:.0%} of bootstrap fits put {readable(name)} at the optimizer's bound in the {stage.name} stage: the data"
                " barely constrain it, and its interval ends at the bound, not at a measured value"
            )
    return out

