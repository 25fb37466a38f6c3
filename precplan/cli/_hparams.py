"""``precplan hparams``: the peak learning rate and batch size each hyperparameter law gives."""

from __future__ import annotations

from typing import Optional

import typer

from precplan.cli._common import JsonOpt, handle_errors, print_json_warnings

__all__ = ["hparams", "register", "render", "render_for_plan"]


@handle_errors
def hparams(
    params: str = typer.Option(..., "--params", "-N", help="Non-embedding parameters, e.g. 7B."),
    tokens: str = typer.Option(..., "--tokens", "-D", help="Training tokens, e.g. 2T."),
    seq_len: int = typer.Option(4096, "--seq-len", help="Tokens per sequence, for the batch in sequences."),
    flops_per_token: Optional[str] = typer.Option(None, "--flops-per-token", help="DeepSeek's M, non-embedding FLOPs per token (default 6 N)."),
    law: Optional[str] = typer.Option(None, "--law", help="Comma-separated hyperparameter laws (default: all bundled)."),
    json_out: bool = JsonOpt,
) -> None:
    """Peak learning rate and batch size from each hyperparameter law, side by side."""
    from precplan.cli._render import print_json
    from precplan.hparams import hyperparameters
    from precplan.units import parse_count

    n, d = parse_count(params, "--params"), parse_count(tokens, "--tokens")
    m = None if flops_per_token is None else parse_count(flops_per_token, "--flops-per-token")
    laws = None if law is None else [x.strip() for x in law.split(",") if x.strip()]
    result = hyperparameters(n, d, seq_len=seq_len, laws=laws, flops_per_token=m)
    if json_out:
        print_json(result)
        print_json_warnings(result.warnings)
        return
    render(result)


def render(h) -> None:
    """Verdict first, then one row per law, the disagreement note, sources and warnings."""
    from precplan.cli._render import console, print_notes, print_warnings, table

    out = console()
    out.print(f"[bold]{h.verdict}[/bold]")
    rows = [(r.law, f"{r.learning_rate:.3g}", f"{r.batch_tokens / 1e6:.3g}M", f"{r.batch_sequences:,.0f}",
             "no" if not r.extrapolates else f"{r.extrapolation:.3g}x") for r in h.laws]
    out.print(table(f"N = {h.params:.3g}, D = {h.tokens:.3g} ({h.compute_convention})",
                    ["law", "peak LR", "batch tokens", f"seqs of {h.seq_len}", "extrapolates"], rows, whole=(0,)))
    notes = [] if h.disagreement is None else [h.disagreement]
    notes += [f"{r.law}: {r.source}; fit on {r.fit.get('models', '')}; optimal = {r.fit.get('optimal', '')}" for r in h.laws]
    print_notes(notes)
    print_warnings(h.warnings)


def render_for_plan(plan) -> None:
    """Under an optimize plan: each hyperparameter law's peak learning rate and batch at the
    plan's N and D (nothing when N or D is not a finite positive number)."""
    import math

    from precplan.cli._render import console, print_notes, table
    from precplan.hparams import hyperparameters

    n, d = getattr(plan, "params", None), getattr(plan, "tokens", None)
    if n is None or d is None or not (math.isfinite(n) and math.isfinite(d) and n > 0 and d > 0):
        return
    h = hyperparameters(float(n), float(d))
    rows = [(r.law, f"{r.learning_rate:.3g}", f"{r.batch_tokens / 1e6:.3g}M", f"{r.batch_sequences:,.0f}",
             "no" if not r.extrapolates else f"{r.extrapolation:.3g}x") for r in h.laws]
    console().print(table("Peak learning rate and batch at this N and D (precplan hparams)",
                          ["law", "peak LR", "batch tokens", f"seqs of {h.seq_len}", "extrapolates"], rows, whole=(0,)))
    print_notes([] if h.disagreement is None else [h.disagreement])


def register(app: typer.Typer) -> None:
    """Add this command to the app."""
    app.command("hparams")(hparams)
