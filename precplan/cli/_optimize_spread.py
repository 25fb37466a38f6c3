"""``optimize --law a,b,c``: the library's plan per law (:func:`precplan.optimize.compare_laws`),
side by side with the spread (:mod:`precplan.cli._spread`). JSON is the list of plans, one per law."""

from __future__ import annotations

from typing import Any, Sequence

__all__ = ["render_per_law"]


def render_per_law(results: Sequence[Any], json_out: bool) -> None:
    """Print the list (JSON) or the side-by-side table of one result per law."""
    from precplan.cli._flags import cli_message
    from precplan.cli._optimize_render import bits_num, plain
    from precplan.cli._render import fmt, print_json
    from precplan.cli._spread import Column, NotApplicable, render_side_by_side
    from precplan.units import format_count

    shown = [NotApplicable(r.law, False, cli_message(r.reason)) if not hasattr(r, "bits") else r for r in results]
    if json_out:
        print_json(shown)
        return
    columns = [
        Column("parameters N*", "params", "params", format_count),
        Column("tokens D*", "tokens", "tokens", format_count),
        Column("tokens/param", "tokens_per_param", "tokens_per_param", plain),
        Column("weight bits", "weight_bits", "bits", bits_num),
        Column("loss", "loss", "loss", fmt),
    ]
    first = next(p for p in results if hasattr(p, "bits"))
    what = f"{first.budget:.3g} FLOPs" if first.budget is not None else "this request"
    render_side_by_side(f"The optimal plan for {what} by each law", [_WithBits(p) if hasattr(p, "bits") else p for p in shown], columns)


class _WithBits:
    """A plan with its weight bits as a plain attribute (for the side-by-side column)."""

    def __init__(self, plan: Any) -> None:
        self._plan = plan
        self.weight_bits = plan.bits.weights

    def __getattr__(self, name: str) -> Any:
        return getattr(self._plan, name)
