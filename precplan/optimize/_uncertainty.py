"""Intervals for ``optimize``, and the honesty of its plans.

:func:`plan_uncertainty` re-solves a plan for every coefficient sample of the law at once: the
sample axis takes the place of the budget axis of the vectorized planner
(:func:`precplan.optimize._precision.choose`: one row per sample, one column per candidate
precision; :meth:`precplan.laws.Law.sampled` gives the coefficients that shape), so each
sample gets its own optimal bits, N*, D* and loss, and the interval of each is the central
``level`` of those S optima (:mod:`precplan.laws._intervals`).

:func:`annotate` attaches the intervals to plans, :func:`annotate_sweep` to a
:class:`~precplan.optimize._sweep.Sweep` (each plan's warnings from the one rule in
:mod:`precplan.laws._checks` come with the plan itself).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

import numpy as np

from precplan.laws import BASE
from precplan.laws import DEFAULT_LEVEL, check_level, uncertainty, uncertainty_notes
from precplan.optimize._planner import Planner
from precplan.optimize._precision import choose, point, refine
from precplan.optimize._result import Plan
from precplan.optimize._sweep import Sweep
from precplan.precision import Bits

__all__ = ["annotate", "annotate_sweep", "bits_independent_of_samples", "plan_uncertainty"]


def bits_independent_of_samples(planner: Planner) -> bool:
    """Whether every sample's optimal training precision is the point plan's.

    Under a pure compute budget with N and D free (no memory limit, no PTQ, no inference
    demand), minimizing A (N f)^-alpha + B D^-beta on N D = K / P (Hoffmann et al. 2022, eq. 4,
    with Kumar et al. 2024's N_eff = N f(P) and cost (6/16) N D P) gives
    L*(P) - E = c(A, B, alpha, beta) (K f(P) / P)^(-alpha beta / (alpha + beta)):
    for every value of the base terms it falls as f(P)/P grows, so the best P maximizes f(P)/P
    whatever E, A, B, alpha, beta are. When only those are sampled, the bit choice need not be
    re-solved (tests/test_uncertainty.py checks this against the full solve)."""
    pb, samples = planner.problem, planner.law.samples
    return (
        samples is not None and set(samples.names) <= set(BASE) and pb.mode == "budget"
        and pb.params is None and pb.tokens is None and pb.memory is None and pb.serve_memory is None
        and pb.post is None and not pb.inference_tokens
    )


def plan_uncertainty(planner: Planner, budget: float | None, level: float = DEFAULT_LEVEL,
                     plan: Plan | None = None) -> dict[str, Any] | None:
    """Intervals of N*, D*, tokens per parameter, the chosen weight bits and the loss (in
    target-loss mode, the lifetime FLOPs) over the law's coefficient samples, for one budget
    (``None``: the planner's budget-free mode). ``None`` when the law has no samples.

    Given the point ``plan`` and a request whose bit choice does not depend on the sampled
    coefficients (:func:`bits_independent_of_samples`), only the plan's bits are solved."""
    law = planner.law
    if not law.has_samples:
        return None
    level = check_level(level)
    S = law.samples.count
    pb = planner.problem
    if plan is not None and bits_independent_of_samples(planner):
        variant = next(g for g, _ in planner.groups if g.id == plan.law)
        bits = np.array([[plan.bits.weights, plan.bits.activations, plan.bits.kv]])
        planner = replace(planner, groups=((variant, bits),), continuous=False)
    # (S, k): samples down, candidate precisions across, like budgets x candidates. The budget
    # stays one entry (it broadcasts), so precision factors are computed once per candidate.
    b = None if budget is None else np.array([float(budget)])
    groups = [(g.sampled(2) if g.has_samples else g, cand) for g, cand in planner.groups]
    choice = choose(groups, pb, b, S)
    bits, split = choice.bits, choice.split
    if planner.continuous:
        lo, hi = planner.bits_range
        refined = refine(law.sampled(2), pb, b, bits, lo, hi, planner.untied)
        at = point(law.sampled(1), pb, b, refined)
        better = at.objective(pb.mode) < split.objective(pb.mode)
        bits = np.where(better[:, None], refined, bits)
        split = point(law.sampled(1), pb, b, bits)
    with np.errstate(divide="ignore", invalid="ignore"):
        quantities = {
            "params": split.params,
            "tokens": split.tokens,
            "tokens_per_param": split.tokens / split.params,
            "bits": bits[:, 0],
            "loss": np.where(np.isfinite(split.loss), split.loss, np.nan),
        }
    if planner.untied:
        quantities["activation_bits"], quantities["kv_bits"] = bits[:, 1], bits[:, 2]
    if pb.mode == "target-loss":
        quantities["total_flops"] = split.total_flops
    return uncertainty(law, level, quantities)


def annotate(planner: Planner, plans: list[Plan], level: float = DEFAULT_LEVEL) -> list[Plan]:
    """The plans with their ``uncertainty`` (when the law has samples; else a note that the plan
    is a point estimate). Each plan already carries the warnings of the one rule in
    :mod:`precplan.laws._checks` (implausible shape; far beyond the data, what the law
    extrapolates to rather than a recommendation)."""
    level = check_level(level)
    out = []
    for p in plans:
        unc = plan_uncertainty(planner, p.budget, level, plan=p)
        out.append(replace(p, uncertainty=unc, notes=list(p.notes) + uncertainty_notes(planner.law, unc)))
    return out


def annotate_sweep(planner: Planner, sweep: Sweep, level: float = DEFAULT_LEVEL, advance: Callable[[int], None] | None = None) -> Sweep:
    """:func:`annotate` for a :class:`Sweep`: intervals per budget (``advance(1)`` after each,
    for a progress bar); a law without samples gets its point-estimate note once."""
    level = check_level(level)
    if not planner.law.has_samples:
        note = uncertainty_notes(planner.law, None)
        return sweep.with_uncertainty([None] * sweep.count, [note] * sweep.count)
    per_plan, notes = [], []
    for i in range(sweep.count):
        unc = plan_uncertainty(planner, None if sweep.budget is None else float(sweep.budget[i]), level, plan=_Point(sweep, i))
        per_plan.append(unc)
        notes.append(uncertainty_notes(planner.law, unc))
        if advance is not None:
            advance(1)
    return sweep.with_uncertainty(per_plan, notes)


class _Point:
    """The law id and bits of one plan of a sweep (what :func:`plan_uncertainty` reads)."""

    def __init__(self, sweep: Sweep, i: int) -> None:
        self.law = sweep.variants[int(sweep.group[i])].id
        self.bits = Bits(*(float(x) for x in sweep.bits[i]))
