"""``precplan predict``: the loss one configuration reaches, with its decomposition."""

from __future__ import annotations

from typing import Optional

import typer

from precplan.cli._common import (
    ActivationsOpt, BaseOpt, JsonOpt, KvOpt, LawOpt, LevelOpt, WeightsOpt, handle_errors, law_warnings, load_cli_laws,
    parse_level, print_json_warnings, resolve_precisions,
)

__all__ = ["predict", "register", "render_prediction", "render_predictions"]


@handle_errors
def predict(
    params: str = typer.Option(..., "--params", "-N", help="Non-embedding parameters, e.g. 220M, 7B."),
    tokens: str = typer.Option(..., "--tokens", "-D", help="Training tokens, e.g. 16B, 2T."),
    precision: Optional[str] = typer.Option(None, "--precision", "-P", help="Training precision of weights, activations and KV: bits (8) or a format (int4, fp8-e4m3, bf16). Default 16."),
    weights: Optional[str] = WeightsOpt,
    activations: Optional[str] = ActivationsOpt,
    kv: Optional[str] = KvOpt,
    post: Optional[str] = typer.Option(None, "--post", help="Quantize the weights to this precision after training (PTQ)."),
    law: str = LawOpt,
    base: Optional[str] = BaseOpt,
    level: str = LevelOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Predict the loss of one training configuration, with its decomposition.

    --law a,b,c predicts with each law side by side and shows the spread."""
    from precplan.laws import predict as run_predict
    from precplan.cli._render import print_json
    from precplan.units import parse_count

    lvl = parse_level(level)
    laws = load_cli_laws(law, base)
    pw, pa, pkv = resolve_precisions(precision, weights, activations, kv)
    n, d = parse_count(params, "--params"), parse_count(tokens, "--tokens")

    def solve(the_law):
        return run_predict(the_law, n, d, pw, pa, pkv, post, level=lvl)

    if len(laws) > 1:
        from precplan.cli._spread import run_each

        results = run_each(laws, solve)
        if json_out:
            print_json(results)
            from precplan.cli._spread import print_spread_warnings

            print_spread_warnings(results)
        else:
            render_predictions(results)
            render_runs(pw, n, d)
        return
    result = solve(laws[0])
    result.warnings[:0] = law_warnings(laws[0])
    if json_out:
        print_json(result)
        print_json_warnings(result.warnings)
    elif hasattr(result, "gap"):
        render_format_prediction(result)
    else:
        render_prediction(result)
        render_runs(pw, n, d)


def render_predictions(results) -> None:
    """Several laws' predictions side by side, with the spread."""
    from precplan.cli._render import fmt
    from precplan.cli._spread import Column, NotApplicable, render_side_by_side
    from precplan.units import format_count

    r0 = next(r for r in results if not isinstance(r, NotApplicable))
    columns = [Column("predicted loss", "loss", "loss", fmt)]
    if any(hasattr(r, "gap") for r in results):  # a format-aware law: its gap to unquantized training
        columns.append(Column("gap to bf16", "gap", None, fmt))
    if r0.post_bits is not None:
        columns += [Column("loss before PTQ", "loss_before_ptq", "loss_before_ptq", fmt),
                    Column(f"PTQ degradation at {r0.post_bits:g} bits", "ptq_degradation", "degradation", fmt)]
    b = r0.bits
    title = (f"N = {format_count(r0.params)}, D = {format_count(r0.tokens)}, weights/activations/KV ="
             f" {b.weights:g}/{b.activations:g}/{b.kv:g} bits: each law's prediction")
    render_side_by_side(title, results, columns)


def render_format_prediction(r) -> None:
    """A format-aware law's prediction: verdict line, loss against the unquantized baseline, the
    nearest measured real runs, notes."""
    from precplan.cli._render import console, fmt, print_notes, print_warnings, table
    from precplan.units import format_count

    out = console()
    miss = f"; it misses the nearest measured {r.format} runs" if r.misses_measured else ""
    out.print(f"[bold]{r.law}: {format_count(r.params)} parameters on {format_count(r.tokens)} tokens in {r.format}"
              f" lose {fmt(r.gap)} nats ({r.relative_gap:+.2%}) against unquantized training{miss}[/bold]")
    rows = [("unquantized (bf16) loss", fmt(r.baseline_loss)), (f"loss in {r.format}", fmt(r.loss)),
            ("gap (nats)", fmt(r.gap)), ("relative gap", f"{r.relative_gap:.3%}"),
            ("bits per element", f"{r.bits_per_element:g}")]
    out.print(table("", ["term", "value"], rows))
    _runs_table(r.nearest_runs, {c.run.id: c for c in r.run_checks}, r.law)
    print_notes(r.formats + r.notes)
    print_warnings(r.warnings)


def render_runs(precision, params: float, tokens: float) -> None:
    """The measured real low-precision runs nearest to a named training format (none for a bit count)."""
    from precplan.laws import nearest_runs
    from precplan.precision import is_named_format

    if precision.format is None or not is_named_format(precision) or precision.format.is_high_precision:
        return
    _runs_table(nearest_runs(params, tokens, precision.format.name))


def _runs_table(runs, checks=None, law: str | None = None) -> None:
    from precplan.cli._render import console, print_notes, table
    from precplan.units import format_count

    if not runs:
        return
    head = ["run", "N", "D", "measured gap"] + ([f"{law} predicts"] if checks is not None else [])
    rows = []
    for r in runs:
        row = [r.id, format_count(r.params), format_count(r.tokens), f"{r.describe_gap()} vs {r.baseline}"]
        if checks is not None:
            c = checks.get(r.id)
            row.append("-" if c is None or c.predicted is None else f"{c.predicted:.2%}")
        rows.append(row)
    console().print(table("nearest measured real training runs (data/lowprec_training_runs.csv)", head, rows, whole=(0, 3)))
    print_notes([f"{r.id}: {r.format}, {r.source.split(',')[0]}, arXiv:{r.source.rsplit('arXiv:', 1)[-1]}"
                 f" {r.locator}" for r in runs])


def render_prediction(r) -> None:
    """The prediction as a rich table, then notes and warnings."""
    from precplan.cli._render import console, fmt as _fmt, print_notes, print_warnings, table
    from precplan.units import format_count

    unc = r.uncertainty or {}

    def fmt(value, key=None):  # a value with its interval, when the law has samples
        text = _fmt(value)
        if key and unc.get(key):
            text += f" [{_fmt(unc[key][0])}, {_fmt(unc[key][1])}]"
        return text

    rows = [
        ("irreducible  E", fmt(r.irreducible)),
        ("parameter term  A / N_eff^alpha", fmt(r.param_term)),
        ("data term  B / D^beta", fmt(r.data_term)),
        ("loss before PTQ", fmt(r.loss_before_ptq, "loss_before_ptq")),
    ]
    if r.post_bits is not None:
        rows.append((f"PTQ degradation at {r.post_bits:g} bits", fmt(r.ptq_degradation, "degradation")))
    rows += [
        ("[bold]predicted loss[/bold]", f"[bold]{fmt(r.loss, 'loss')}[/bold]"),
        ("effective parameters  N_eff", format_count(r.effective_params)),
        ("effective fraction  N_eff / N", fmt(r.effective_fraction)),
    ]
    b = r.bits
    title = (
        f"{r.law}: N = {format_count(r.params)}, D = {format_count(r.tokens)}, "
        f"weights/activations/KV = {b.weights:g}/{b.activations:g}/{b.kv:g} bits"
    )
    out = console()
    if r.verdict:
        out.print(f"[bold]{r.verdict}[/bold]", highlight=False)
    out.print(f"[bold]{title}[/bold]")
    head = ["term", "nats/token" + (f" [{unc['level']:.0%} interval]" if unc else "")]
    out.print(table("", head, rows))
    print_notes(r.formats + r.notes)
    print_warnings(r.warnings)


def register(app: typer.Typer) -> None:
    """Add this command to the app."""
    app.command("predict")(predict)
