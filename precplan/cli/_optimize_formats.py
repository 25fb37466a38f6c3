"""``optimize --law sun2025,castro2025,kumar2024-fp --gpu b200 ...``: each law's native-format
choice on the GPU (:func:`precplan.optimize.plan_formats`), side by side with the measured real
runs, and one verdict line saying whether the laws agree. JSON is the list of plans, one per law."""

from __future__ import annotations

from typing import Any

from precplan.errors import PrecplanError

__all__ = ["FORMAT_ARGS", "format_laws", "plan_formats_command", "render_formats"]

FORMAT_ARGS = ("budget", "gpu", "gpus", "days", "hours", "gpu_hours", "dollars", "price", "mfu", "format_speedup", "hardware")
"""The options format planning reads (the others do not apply to it)."""
_IGNORED_DEFAULTS = {"level": "0.8", "continuous": False, "untied": False}


def format_laws(laws: list[str]) -> bool:
    """Whether a law of ``laws`` is format-aware (then ``optimize`` plans the GPU's native formats)."""
    from precplan.optimize import plans_formats

    return plans_formats(laws)


def plan_formats_command(laws: list[str], base: str | None, args: dict[str, Any], json_out: bool, json_columns: bool,
                         csv: str | None, plot: str | None) -> bool:
    """Plan formats when a law in ``laws`` is format-aware; False (nothing done) otherwise."""
    from precplan.optimize import plan_formats, plans_formats

    if not plans_formats(laws):
        return False
    extra = [k for k, v in args.items() if k not in FORMAT_ARGS and v is not None and _IGNORED_DEFAULTS.get(k, None) != v]
    extra += [k for k, v in (("base", base), ("csv", csv), ("plot", plot)) if v is not None]
    if json_columns:
        extra.append("json_columns")
    if extra:
        raise PrecplanError(f"`{extra[0]}` does not apply to planning formats with a format-aware law (`law` {','.join(laws)});"
                            f" it takes {', '.join('`' + a + '`' for a in FORMAT_ARGS)}")
    render_formats(plan_formats(laws, **{k: args[k] for k in FORMAT_ARGS if args.get(k) is not None}), json_out)
    return True


def render_formats(result: Any, json_out: bool) -> None:
    """The JSON list of plans, or the verdict, the side-by-side tables and the notes."""
    from precplan.cli._render import console, print_json, print_notes, print_warnings

    if json_out:
        print_json(list(result.plans))
        return
    out = console()
    out.print(f"[bold]{result.verdict}[/bold]", highlight=False)
    out.print(_choices(result))
    out.print(_candidates(result))
    if result.measured:
        out.print(_measured(result))
    refused = [f"{p.law} refuses {', '.join(r.format for r in p.refused)} ({p.refused[-1].reason})" for p in result.plans if p.refused]
    print_notes(list(result.notes) + refused + [n for p in result.plans for n in p.notes])
    print_warnings([f"{p.law}: {w}" for p in result.plans for w in p.warnings])


def _choices(result: Any):
    from precplan.cli._render import pct, plain, table
    from precplan.units import format_count

    p0 = result.plans[0]
    days = f", {p0.gpus} GPUs x {p0.wall_days:.3g} days" if p0.wall_days is not None else ""
    rows = [(p.law, p.format, format_count(p.params), format_count(p.tokens), plain(p.speedup), pct(p.relative_gap))
            for p in result.plans]
    return table(f"Each law's format on {p0.gpu} ({plain(p0.gpu_hours)} GPU-hours{days})",
                 ["law", "format", "N*", "D*", "speedup", "gap"], rows, whole=(0, 1),
                 caption="speedup: training throughput over bf16; gap: loss over bf16 at one N, D")


def _candidates(result: Any):
    from precplan.cli._render import fmt, table

    names = list(dict.fromkeys(k.name for p in result.plans for k in p.candidates))
    names += [r.format for p in result.plans for r in p.refused if r.format not in names]
    rows = []
    for name in names:
        row = [name]
        for p in result.plans:
            k = next((c for c in p.candidates if c.name == name), None)
            refused = any(r.format == name for r in p.refused)
            row.append("refused" if refused else "-" if k is None else fmt(k.loss) + (" *" if k.chosen else ""))
        rows.append(row)
    return table("Predicted loss per candidate at its optimal N, D (* the law's choice; compare within a column)",
                 ["format"] + [p.law for p in result.plans], rows, whole=(0,))


def _measured(result: Any):
    from precplan.cli._render import table

    rows = [[m.run.id, m.run.describe_gap()] + ["-" if x is None else f"{100 * x:.2g}%" for x in m.predicted]
            for m in result.measured]
    return table("Measured runs nearest the plans: relative loss gap, measured and predicted by each law",
                 ["run", "measured"] + [p.law for p in result.plans], rows, whole=(0,),
                 caption="runs: data/lowprec_training_runs.csv (format, N, D and source there); -: the law cannot describe it")
