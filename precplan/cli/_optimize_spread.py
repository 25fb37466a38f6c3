"""``optimize --law a,b,c``: the same request planned by each law, side by side, with the spread
(:mod:`precplan.cli._spread`). JSON is the list of plans, one per law."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from precplan.errors import PrecplanError


def plan_each(laws: Sequence[Any], request: Callable[[Any], Any], budgets, level: float, json_out: bool,
              csv: str | None, plot: str | None) -> None:
    """Plan with every law (one budget, or none), then print the list (JSON) or the side-by-side table."""
    from precplan.cli._optimize_render import bits_num, plain
    from precplan.cli._render import fmt, print_json
    from precplan.cli._spread import Column, render_side_by_side, run_each
    from precplan.optimize._uncertainty import annotate
    from precplan.units import format_count

    if budgets is not None and budgets.size > 1:
        raise PrecplanError("--law with a list of laws needs one --budget (not a sweep); run the sweep per law")
    if plot is not None or csv is not None:
        raise PrecplanError("--plot and --csv take one law; give --law a single law to draw or export")

    def solve(the_law):
        planner = request(the_law)
        return annotate(planner, planner.plans(budgets), level)[0]

    plans = run_each(laws, solve)
    if json_out:
        print_json(plans)
        from precplan.cli._spread import print_spread_warnings

        print_spread_warnings(plans)
        return
    columns = [
        Column("parameters N*", "params", "params", format_count),
        Column("tokens D*", "tokens", "tokens", format_count),
        Column("tokens/param", "tokens_per_param", "tokens_per_param", plain),
        Column("weight bits", "weight_bits", "bits", bits_num),
        Column("loss", "loss", "loss", fmt),
    ]
    shown = [_WithBits(p) if hasattr(p, "bits") else p for p in plans]
    first = next(p for p in plans if hasattr(p, "bits"))
    what = f"{first.budget:.3g} FLOPs" if first.budget is not None else "this request"
    render_side_by_side(f"The optimal plan for {what} by each law", shown, columns)


class _WithBits:
    """A plan with its weight bits as a plain attribute (for the side-by-side column)."""

    def __init__(self, plan: Any) -> None:
        self._plan = plan
        self.weight_bits = plan.bits.weights

    def __getattr__(self, name: str) -> Any:
        return getattr(self._plan, name)
