"""Curves behind ``optimize --plot``: plain arrays computed by the planner, drawn by
:mod:`precplan.plots._optimize` (which does no law math).

- budget mode: loss vs budget for each compare precision (each at its own optimal N, D), the
  optimum's loss, and P* vs budget;
- ``--params``: the same, plus the continuous P* and its ln C trend (Kumar et al. 2024, sec.
  4.3.2: with N fixed, P* grows like ln C);
- target-loss mode: lifetime FLOPs vs N along the iso-loss curve, for each compare precision;
- fixed (memory) mode: loss vs training bits with N = 8 M / P (the memory-matched comparison);
- with a GPU (budget or target-loss mode): GPU-hours (dollars with a price) against the predicted
  loss, one curve per native training format of the GPU, each at its own optimal N, D.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from precplan.costs import cost_bits, infer_coef, train_coef
from precplan.optimize._planner import Planner
from precplan.optimize._memory import params_cap
from precplan.optimize._result import Plan
from precplan.optimize._sweep import Sweep
from precplan.optimize._split import solve_bits, tokens_for_loss
from precplan.laws import law_for_weights

__all__ = ["MAX_MARKERS", "POINTS", "SPAN_DECADES", "Curves", "plan_curves"]

Array = NDArray[np.float64]
SPAN_DECADES = 3.0  # a single budget is plotted from budget / 1e3 to budget x 1e3
POINTS = 49


@dataclass(frozen=True)
class Curves:
    """What a plot shows: x values, labelled series, the optimum marked, optional P* panel."""

    kind: str  # "budget", "params", "target-loss" or "fixed"
    law: str
    assumed: list[str]
    title: str
    x_label: str
    y_label: str
    x: Array
    series: dict[str, Array]
    optimum_x: Array
    optimum_y: Array
    markers: dict[str, tuple[Array, Array]] = field(default_factory=dict)
    pstar: dict[str, Array] = field(default_factory=dict)
    trend: tuple[float, float] | None = None  # P* ~ intercept + slope ln C
    y_log: bool = False
    y_limits: tuple[float, float] | None = None
    optimum_band: tuple[Array, Array, Array] | None = None  # (x, lo, hi): the optimum's interval over the law's samples
    band_label: str = ""


MAX_MARKERS = 60  # optimum markers drawn for a sweep (evenly spaced); the optimum curve shows the rest


def plan_curves(planner: Planner, plans: "list[Plan] | Sweep") -> Curves:
    """The curves for ``plans``: a list of plans (``planner.plans``) or a
    :class:`~precplan.optimize._sweep.Sweep` (``planner.sweep``, intervals included)."""
    mode = planner.problem.mode
    if planner.gpu is not None and mode in ("budget", "target-loss") and len(plans) == 1:
        return _hardware_curves(planner, plans[0])
    if mode == "target-loss":
        return _target_curves(planner, plans[0])
    if mode == "fixed":
        return _fixed_curves(planner, plans[0])
    return _budget_curves(planner, plans)


def _optimum(plans: "list[Plan] | Sweep") -> tuple[Array, Array, Plan, tuple[Array, Array] | None, str]:
    """Budgets, losses, the first plan, and the loss interval per budget (when every plan has one)."""
    if isinstance(plans, Sweep):
        b, loss, unc = plans.budget, plans.loss, list(plans.uncertainty or ())
    else:
        b = np.array([p.budget for p in plans], dtype=float)
        loss, unc = np.array([p.loss for p in plans], dtype=float), [p.uncertainty for p in plans]
    if not (unc and all(u and u.get("loss") for u in unc)):
        return b, loss, plans[0], None, ""
    lohi = np.array([u["loss"] for u in unc], dtype=float)
    return b, loss, plans[0], (lohi[:, 0], lohi[:, 1]), f"central {unc[0]['level']:.0%} interval of the optimum's loss (coefficient samples)"


def _budget_range(b: Array) -> Array:
    if b.size >= 2:
        return np.logspace(np.log10(b.min()), np.log10(b.max()), max(POINTS, min(b.size, 400)))
    return np.logspace(np.log10(b[0]) - SPAN_DECADES, np.log10(b[0]) + SPAN_DECADES, POINTS)


def _budget_curves(planner: Planner, plans: "list[Plan] | Sweep") -> Curves:
    budgets, losses, first, band, band_label = _optimum(plans)
    x = _budget_range(budgets)
    pb = planner.problem
    # Reducible loss L - E on log axes: the precisions' curves are near-parallel power laws there.
    E = planner.family.c("E")
    series = {r.label: solve_bits(r.law, pb, r.bits, r.bits, r.bits, x).loss - E for r in planner.compare}
    best = planner.solve(x)
    series["optimum"] = best.split.loss - E
    pstar = {"P*": cost_bits(*best.bits.T)}
    trend = None
    kind = "budget"
    if pb.params is not None:
        kind = "params"
        cont = replace(planner, continuous=True).solve(x)
        pc = cost_bits(*cont.bits.T)
        pstar["P* (continuous)"] = pc
        slope, intercept = np.polyfit(np.log(x), pc, 1)
        trend = (float(intercept), float(slope))
        pstar["ln C trend"] = intercept + slope * np.log(x)
    what = f"N = {first.params:.3g} fixed" if pb.params is not None else "N, D free"
    keep = np.unique(np.linspace(0, budgets.size - 1, min(budgets.size, MAX_MARKERS)).round().astype(int))
    return Curves(
        kind=kind,
        law=first.law,
        assumed=first.assumed,
        title=f"{planner.family.id}: loss at each training precision's optimum ({what})",
        x_label="compute budget C (16-bit-equivalent FLOPs)",
        y_label=f"reducible loss L - E (nats/token; E = {E:.4g})",
        x=x,
        series=series,
        optimum_x=budgets[keep],
        optimum_y=losses[keep] - E,
        pstar=pstar,
        trend=trend,
        y_log=True,
        optimum_band=None if band is None else (budgets, band[0] - E, band[1] - E),
        band_label=band_label,
    )


def _hardware_curves(planner: Planner, plan: Plan) -> Curves:
    """GPU-hours (or dollars) vs predicted loss on the plan's GPU, one curve per native training format."""
    spec, pb = planner.gpu, planner.problem
    g = plan.gpu_cost
    spent = g.total_gpu_hours if pb.budget_inference else g.train_gpu_hours
    hours = np.logspace(np.log10(spent) - 1.5, np.log10(spent) + 1.5, POINTS)
    swept = replace(pb, has_budget=True, target_loss=None)
    money = spec.price is not None
    series = {}
    for f in spec.device.training_formats():
        p = f.precision
        law = law_for_weights(planner.law, p)[0] if planner.law.has_precision else planner.law
        bits = p.bits if planner.law.has_precision else 16.0
        series[p.name] = solve_bits(law, swept, bits, bits, bits, spec.units(hours)).loss
    scale = spec.price if money else 1.0
    what = "dollars" if money else f"{spec.device.id.upper()} GPU-hours"
    scope = "training + inference" if pb.inference_tokens > 0 and pb.budget_inference else "training"
    return Curves(
        kind="hardware",
        law=plan.law,
        assumed=plan.assumed,
        title=f"{planner.family.id} on {spec.device.id.upper()}: cost of each native format's best plan",
        x_label="predicted loss (nats/token)",
        y_label=f"{what} ({scope})",
        x=hours * scale,
        series=series,
        optimum_x=np.array([plan.loss]),
        optimum_y=np.array([spent * scale]),
        y_log=True,
    )


def _target_curves(planner: Planner, plan: Plan) -> Curves:
    pb = planner.problem
    top = max(plan.params, plan.reference.params if plan.reference else plan.params)
    x = np.logspace(np.log10(plan.params) - 0.6, np.log10(top) + 0.6, POINTS * 2)
    series = {}
    for r in planner.compare:
        b = r.bits
        D = tokens_for_loss(r.law, x, b, b, b, pb.post, float(pb.target_loss))
        serve = b if pb.post is None else pb.post
        cost = train_coef(b) * x * D + infer_coef(serve) * x * pb.inference_tokens
        cap = params_cap(np.full(x.shape, b), pb.memory, pb.serve_memory, pb.post)
        series[r.label] = np.where(np.isfinite(D) & (x <= cap), cost, np.nan)
    markers = {}
    if plan.reference is not None:
        r = plan.reference
        markers["training-optimal (inference-blind)"] = (np.array([r.params]), np.array([r.total_flops]))
    what = "lifetime" if pb.inference_tokens > 0 else "training"
    return Curves(
        kind="target-loss",
        law=plan.law,
        assumed=plan.assumed,
        title=f"{planner.family.id}: {what} compute to reach loss {pb.target_loss:g}",
        x_label="parameters N",
        y_label=f"{what} compute (16-bit-equivalent FLOPs)",
        x=x,
        series=series,
        optimum_x=np.array([plan.params]),
        optimum_y=np.array([plan.total_flops]),
        markers=markers,
        y_limits=(0.9 * plan.total_flops, 2.0 * plan.total_flops),
    )


def _fixed_curves(planner: Planner, plan: Plan) -> Curves:
    pb = planner.problem
    cb = np.array([r.bits for r in planner.compare])
    lo = min(planner.bits_range[0], cb.min())
    hi = max(planner.bits_range[1], cb.max())
    x = np.linspace(lo, hi, 200)
    s = solve_bits(planner.family, pb, x, x, x)
    sc_loss = np.array([float(solve_bits(r.law, pb, r.bits, r.bits, r.bits).loss) for r in planner.compare])
    label = "loss at the largest model that fits" if pb.params is None else "loss"
    spread = max(float(np.nanmax(np.where(np.isfinite(sc_loss), sc_loss, np.nan), initial=plan.loss)) - plan.loss, 0.05)
    return Curves(
        kind="fixed",
        law=plan.law,
        assumed=plan.assumed,
        title=f"{planner.family.id}: training precision at fixed memory and tokens" if pb.params is None else f"{planner.family.id}: training precision at fixed N and D",
        x_label="training precision (bits, weights = activations = KV)",
        y_label="predicted loss (nats/token)",
        x=x,
        series={label: s.loss},
        optimum_x=np.array([plan.cost_bits]),
        optimum_y=np.array([plan.loss]),
        markers={"compared precisions": (cb, sc_loss)},
        y_limits=(plan.loss - 0.1 * spread, plan.loss + 1.3 * spread),
    )
