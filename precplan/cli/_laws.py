"""``precplan laws list`` and ``precplan laws show NAME``."""

from __future__ import annotations

from typing import Optional

import typer

from precplan.cli._common import BaseOpt, JsonOpt, handle_errors, law_warnings, load_cli_law, print_json_warnings

__all__ = ["list_laws", "register", "show_law"]

app = typer.Typer(help="The bundled law library: list the laws, show one's coefficients and sources.", no_args_is_help=True)


@app.command("list")
@handle_errors
def list_laws(json_out: bool = JsonOpt) -> None:
    """List the bundled laws."""
    from precplan.laws import bundled_names, load_law
    from precplan.cli._render import console, print_json, table

    laws = [load_law(name) for name in bundled_names()]
    if json_out:
        print_json([{"id": l.id, "title": l.title, "form": l.form, "assumed": l.assumed, "path": l.origin} for l in laws])
        return
    rows = [(l.id, l.form, l.title, ", ".join(l.assumed) or "-") for l in laws]
    console().print(table("Bundled laws (use with --law NAME)", ["id", "form", "title", "assumed constants"], rows, whole=(0,)))


@app.command("show")
@handle_errors
def show_law(
    name: str = typer.Argument(..., help="A bundled law name or a path to a law YAML file."),
    base: Optional[str] = BaseOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Show one law: coefficients with sources, assumptions, validity ranges."""
    from precplan.cli._render import console, fmt, print_json, print_notes, print_warnings, table
    from precplan.laws import law_to_mapping

    law = load_cli_law(name, base)
    if json_out:
        data = law_to_mapping(law)
        data["assumed"] = law.assumed
        data["origin"] = law.origin
        print_json(data)
        print_json_warnings(law_warnings(law))
        return
    out = console()
    out.print(f"[bold]{law.id}[/bold]: {law.title}")
    out.print(f"[dim]{law.citation}[/dim]")
    conditions = getattr(law, "fit_conditions", None)  # a format-aware law states how it was fit
    if conditions:
        out.print(f"form: {law.form} (format-aware: takes a named training format, e.g. nvfp4)")
    else:
        out.print(f"form: {law.form}    reference bits: {law.reference_bits}    weights: {law.weight_format}"
                  + (f"    float variant: {law.float_variant}" if law.float_variant else ""))
    if law.description:
        out.print(law.description)
    rows = []
    for cname, c in law.coefficients.items():
        source = "[bold red]ASSUMED[/bold red]" if c.source == "assumed" else c.source
        err = "" if c.stderr is None else f" ± {fmt(c.stderr)}"
        rows.append((cname, fmt(c.value) + err, source, c.ref, c.note))
    out.print(table("coefficients", ["name", "value", "source", "reference", "note"], rows))
    rng = [(k, f"{lo:.3g}", f"{hi:.3g}") for k, (lo, hi) in law.fit_range.items()]
    out.print(table("fitted range (outside it, predictions extrapolate)", ["quantity", "low", "high"], rng))
    if conditions:
        out.print(table("fit conditions", ["what", "as fit"], list(conditions.items())))
    samples = law.samples
    extra = [f"coefficient samples: {samples.count} vectors of {', '.join(samples.names)} ({samples.method}); answers"
             " with this law carry intervals"] if samples is not None else []
    if law.has_ptq:
        out.print(_holdout_table(law))
    print_notes(list(law.notes) + extra)
    print_warnings(law_warnings(law))


def _holdout_table(law):
    """Per model family of the real-model PTQ measurements: the law's median predicted/measured
    and rows within 2x, held out where the law's file records a leave-one-family-out refit."""
    from precplan.cli._footnotes import whole_table
    from precplan.ptq import holdout_errors

    label, errs = holdout_errors(law)
    rows = [(e.family, str(e.rows), f"{e.median_ratio:.2f}", str(e.within_2x)) for e in errs]
    rows.append(("all", str(sum(e.rows for e in errs)), "-", str(sum(e.within_2x for e in errs))))
    title = f"Real-model PTQ by model family (GPTQ per-channel rows of data/ptq_measurements.csv; {label})"
    return whole_table(title, ["family", "rows", "median pred/meas", "within 2x"], rows)


def register(root: typer.Typer) -> None:
    """Add the ``laws`` command group to the app."""
    root.add_typer(app, name="laws")
