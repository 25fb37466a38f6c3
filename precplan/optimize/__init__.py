"""``optimize``: the model size N, training tokens D and training precision that minimize the
predicted loss under a budget (or the lifetime compute that reaches a target loss).

The front door (everything ``precplan optimize`` does, arguments as people write them, errors
naming the arguments): :func:`plan` answers one budget with a :class:`Plan` (on one GPU or the
best of several), :func:`plan_sweep` many at once (vectorized) with a :class:`Sweep` (arrays,
one entry per budget; ``sweep[i]`` is a Plan), :func:`compare_laws` plans with each law of a
list; :func:`plan_formats` plans over a GPU's native formats (nvfp4, mxfp4, fp8...) with
format-aware laws (sun2025, castro2025) and bit-count laws side by side. Budgets are FLOPs or hardware budgets (``gpus`` x ``days``/``hours``, ``gpu_hours``,
``dollars`` at ``price``); plans carry intervals when the law has coefficient samples.

Below it: :func:`make_request` validates a request and normalizes its budget once
(:class:`PlanRequest`); :func:`make_planner` / :func:`optimize` / :func:`optimize_sweep` solve
a :class:`~precplan.laws.Law` for FLOPs budgets without the checks and intervals; and
:func:`plan_curves` computes the data behind the ``--plot`` figures.
"""

from precplan.optimize._checks import parse_bits_spec
from precplan.optimize._curves import Curves, plan_curves
from precplan.optimize._formats import (
    FormatCandidate, FormatComparison, FormatPlan, FormatRefusal, MeasuredRow, plan_formats, plans_formats,
)
from precplan.optimize._explain import condensed, laws_verdict
from precplan.optimize._practical import ServingReplica, TrainingMemory, serving_replica, training_memory
from precplan.optimize._verdict import MAX_TOKENS_PER_PARAM, MIN_TOKENS_PER_PARAM, Plausibility, trust_phrase
from precplan.optimize._front import PlanRequest, compare_laws, make_request, plan, plan_sweep
from precplan.optimize._planner import Planner, composition_warnings, make_planner, optimize, optimize_sweep
from precplan.optimize._result import Alternative, HardwareOption, NotApplicable, Plan, Reference, Shift
from precplan.optimize._sweep import Sweep
from precplan.optimize._uncertainty import annotate, annotate_sweep

__all__ = [
    "MAX_TOKENS_PER_PARAM", "MIN_TOKENS_PER_PARAM", "Plausibility", "ServingReplica", "TrainingMemory", "condensed", "laws_verdict",
    "serving_replica", "training_memory", "trust_phrase",
    "Alternative", "Curves", "FormatCandidate", "FormatComparison", "FormatPlan", "FormatRefusal", "HardwareOption",
    "MeasuredRow", "NotApplicable", "Plan", "PlanRequest", "Planner", "Reference", "Shift", "Sweep",
    "compare_laws", "composition_warnings", "make_planner", "make_request", "optimize", "optimize_sweep", "plan", "plan_curves",
    "plan_formats", "plan_sweep", "plans_formats",
]
