"""Planning across hardware: the best plan on each GPU of a list, and the pick among them
(Sardana et al. 2024, sec. 4: the real-cost version, cost-optimal across hardware).

- target-loss mode: the cheapest plan (dollars) reaching the loss on each GPU; the cheapest overall;
- budget mode (FLOPs, GPU-hours, GPUs x days, or dollars at each GPU's price): the lowest-loss
  plan on each GPU; the lowest loss overall (ties: the cheaper).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Sequence

import numpy as np

from precplan.costs import GpuSpec
from precplan.errors import PrecplanError
from precplan.laws._law import Law
from precplan.optimize._planner import Planner, make_planner
from precplan.optimize._result import HardwareOption, Plan


def plan_across(
    law: Law, specs: Sequence[GpuSpec], hours: Sequence[float] | None, budgets: np.ndarray | None, options: dict[str, Any]
) -> tuple[Planner, list[Plan]]:
    """The chosen GPU's planner and its plan, which lists every GPU's best plan in ``hardware_options``.

    ``hours``: the hardware budget in GPU-hours on each GPU (None: ``budgets`` FLOPs, or no budget)."""
    target = options.get("target_loss") is not None
    if target and any(s.price is None for s in specs):
        raise PrecplanError("comparing GPUs at a target loss needs their prices: give --price with one dollars-per-GPU-hour per --gpu (e.g. --price 2.5,5.0)")
    if budgets is not None and np.size(budgets) > 1:
        raise PrecplanError("a --budget sweep plans one GPU at a time: give one --gpu")
    found: list[tuple[Planner, Plan]] = []
    for i, spec in enumerate(specs):
        planner = make_planner(law, gpu=spec, **options)
        b = spec.budget_units(hours[i]) if hours is not None else budgets
        found.append((planner, planner.plans(b)[0]))

    def key(item: tuple[Planner, Plan]) -> tuple[float, float]:
        p = item[1]
        cost = p.dollars if p.dollars is not None else float(p.gpu_hours or 0.0)
        return (cost, p.loss) if target else (p.loss, cost)

    best = min(range(len(found)), key=lambda i: key(found[i]))
    options_out = [
        HardwareOption(
            gpu=p.gpu or "", chosen=i == best, train_format=p.train_format, bits=p.bits, params=p.params, tokens=p.tokens,
            loss=p.loss, gpu_hours=float(p.gpu_hours or 0.0), wall_days=p.wall_days, dollars=p.dollars,
        )
        for i, (_, p) in enumerate(found)
    ]
    planner, chosen = found[best]
    why = "the cheapest plan reaching the target" if target else "the lowest predicted loss within the budget"
    note = f"planned on {', '.join(s.device.id for s in specs)}: {chosen.gpu} gives {why} (the others are listed beside it)"
    return planner, [replace(chosen, hardware_options=options_out, notes=[note] + list(chosen.notes))]
