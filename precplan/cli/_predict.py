"""``precplan predict``: the loss one configuration reaches, with its decomposition."""

from __future__ import annotations

from typing import Optional

import typer

from precplan.cli._common import (
    ActivationsOpt, BaseOpt, JsonOpt, KvOpt, LawOpt, WeightsOpt, handle_errors, law_warnings, load_cli_law, print_json_warnings,
    resolve_precisions,
)


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
    json_out: bool = JsonOpt,
) -> None:
    """Predict the loss of one training configuration, with its decomposition."""
    from precplan.laws._predict import predict as run_predict
    from precplan.cli._render import print_json
    from precplan.units import parse_count

    the_law = load_cli_law(law, base)
    pw, pa, pkv = resolve_precisions(precision, weights, activations, kv)
    result = run_predict(the_law, parse_count(params, "--params"), parse_count(tokens, "--tokens"), pw, pa, pkv, post)
    result.warnings[:0] = law_warnings(the_law)
    if json_out:
        print_json(result)
        print_json_warnings(result.warnings)
    else:
        render_prediction(result)


def render_prediction(r) -> None:
    """The prediction as a rich table, then notes and warnings."""
    from precplan.cli._render import console, fmt, print_notes, print_warnings, table
    from precplan.units import format_count

    rows = [
        ("irreducible  E", fmt(r.irreducible)),
        ("parameter term  A / N_eff^alpha", fmt(r.param_term)),
        ("data term  B / D^beta", fmt(r.data_term)),
        ("loss before PTQ", fmt(r.loss_before_ptq)),
    ]
    if r.post_bits is not None:
        rows.append((f"PTQ degradation at {r.post_bits:g} bits", fmt(r.ptq_degradation)))
    rows += [
        ("[bold]predicted loss[/bold]", f"[bold]{fmt(r.loss)}[/bold]"),
        ("effective parameters  N_eff", format_count(r.effective_params)),
        ("effective fraction  N_eff / N", fmt(r.effective_fraction)),
    ]
    b = r.bits
    title = (
        f"{r.law}: N = {format_count(r.params)}, D = {format_count(r.tokens)}, "
        f"weights/activations/KV = {b.weights:g}/{b.activations:g}/{b.kv:g} bits"
    )
    out = console()
    out.print(f"[bold]{title}[/bold]")
    out.print(table("", ["term", "nats/token"], rows))
    print_notes(r.formats + r.notes)
    print_warnings(r.warnings)


def register(app: typer.Typer) -> None:
    """Add this command to the app."""
    app.command("predict")(predict)
