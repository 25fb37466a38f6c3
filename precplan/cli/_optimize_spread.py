"""``optimize --law a,b,c``: the library's plan per law (:func:`precplan.optimize.compare_laws`),
side by side with the spread. JSON is the list of plans, one per law.

The spread compares like with like: the loss spread only over laws that share base terms (the
same irreducible loss E: losses measured on one data set and tokenizer; across data sets a loss
ratio means nothing), the bits spread only over laws with precision terms. The table is compact
(short headers, intervals on a row of their own, law ids never cut) to read at 80 columns."""

from __future__ import annotations

from typing import Any, Callable, Sequence

__all__ = ["render_per_law"]


def render_per_law(results: Sequence[Any], json_out: bool) -> None:
    """Print the list (JSON) or the side-by-side table of one result per law."""
    from precplan.cli._flags import cli_message
    from precplan.cli._optimize_render import bits_num, plain
    from precplan.cli._render import console, fmt, print_json, print_notes, print_warnings, table
    from precplan.cli._spread import NotApplicable, print_spread_warnings
    from precplan.laws import load_law
    from precplan.optimize import condensed, laws_verdict
    from precplan.units import format_count

    shown = [NotApplicable(r.law, False, cli_message(r.reason)) if not hasattr(r, "bits") else r for r in results]
    if json_out:
        print_json(shown)
        return print_spread_warnings(shown)
    cols: list[tuple[str, Callable[[Any], Any], Callable[[float], str], str]] = [
        ("N*", lambda p: p.params, format_count, "params"), ("D*", lambda p: p.tokens, format_count, "tokens"),
        ("D/N", lambda p: p.tokens_per_param, plain, "tokens_per_param"), ("bits", lambda p: p.bits.weights, bits_num, "bits"),
        ("loss", lambda p: p.loss, fmt, "loss"),
    ]
    rows, ok = [], [r for r in shown if hasattr(r, "bits")]
    for r in shown:
        if not hasattr(r, "bits"):
            rows.append([r.law, "n/a", "", "", "", ""])
            continue
        rows.append([r.law] + [show(get(r)) for _, get, show, _ in cols])
        u = r.uncertainty or {}
        if any(u.get(key) for *_, key in cols):
            rows.append([f"  {u['level']:.0%} interval"] + [_band(u.get(key), show) for _, _, show, key in cols])
    laws = {r.law: load_law(r.law) for r in ok}
    with_bits = [r for r in ok if laws[r.law].has_precision]
    same_data = [r for r in ok if laws[r.law].c("E") == laws[ok[0].law].c("E")] if ok else []
    if len(ok) > 1:
        spread, ratio = ["spread min to max"], ["spread max/min"]
        for _, get, show, key in cols:
            group = with_bits if key == "bits" else (same_data if key == "loss" and len(same_data) == len(ok) else ok)
            if key == "loss" and len(same_data) != len(ok):
                group = []
            vals = [float(get(r)) for r in group]
            spread.append(f"{show(min(vals))} to {show(max(vals))}" if len(vals) > 1 else "-")
            ratio.append(f"{max(vals) / min(vals):.3g}x" if len(vals) > 1 and min(vals) > 0 else "-")
        rows += [spread, ratio]
    lead = laws_verdict(list(results)) or (ok[0].verdict if ok else None)
    if lead:
        console().print(f"[bold]{lead}[/bold]", highlight=False)
    first = ok[0]
    what = f"{first.budget:.3g} FLOPs" if first.budget is not None else "this request"
    console().print(table(f"The optimal plan for {what} by each law", ["law"] + [c[0] for c in cols], rows, whole=(0,)))
    notes = []
    if len(ok) > 1 and len(same_data) != len(ok):
        notes.append("loss spread left out: these laws' losses come from different data sets (different irreducible loss E)")
    if len(ok) > 1 and len(with_bits) < len(ok):
        notes.append(f"bits spread only over laws with precision terms ({', '.join(r.law for r in with_bits) or 'none'})")
    for r in shown:
        if not hasattr(r, "bits"):
            notes.append(f"{r.law}: not applicable: {r.reason}")
    unsampled = [r.law for r in ok if any("carries no coefficient samples" in n for n in r.notes)]
    if unsampled:
        notes.append(f"no coefficient samples (point estimates): {', '.join(unsampled)}")
    print_notes(notes)
    print_warnings(dict.fromkeys(f"{r.law}: {w}" for r in ok for w in condensed(r)[1]))


def _band(pair: Any, show: Callable[[float], str]) -> str:
    return "" if not pair else f"{show(pair[0])} to {show(pair[1])}"
