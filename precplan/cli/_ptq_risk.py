"""``precplan ptq-risk``: how much post-training quantization hurts, and when more data starts to hurt."""

from __future__ import annotations

from typing import Optional

import typer

from precplan.cli._common import (
    ActivationsOpt, BaseOpt, ForceOpt, JsonOpt, KvOpt, LawOpt, LevelOpt, PlotOpt, WeightsOpt, check_outputs, handle_errors,
    law_warnings, load_cli_laws, parse_level, print_json_warnings, resolve_precisions,
)

__all__ = ["ptq_risk", "register", "render_risk", "render_sweep", "resolve_posts"]


def resolve_posts(post: str, posts: str | None):
    """``--post P`` is the headline precision; ``--post 3,4,8`` is shorthand for ``--post 3 --posts 3,4,8``."""
    from precplan.errors import PrecplanError
    from precplan.precision import parse_precision_list

    heads = parse_precision_list(post)
    if len(heads) > 1 and posts is not None:
        raise PrecplanError("give the table's precisions either as a list in --post or with --posts, not both")
    table = heads if len(heads) > 1 else (None if posts is None else parse_precision_list(posts))
    return heads[0], table


@handle_errors
def ptq_risk(
    params: str = typer.Option(..., "--params", "-N", help="Non-embedding parameters, e.g. 7B."),
    tokens: str = typer.Option(
        ..., "--tokens", "-D", help="Training tokens, e.g. 2T; or a sweep START:STOP:COUNT (100B:10T:20) for the degradation curve."
    ),
    post: str = typer.Option(
        "4", "--post", help="Serving precision after PTQ (the headline): bits or a format (int4). A list, e.g. 3,4,8, also sets"
        " the table's precisions and its first entry (3) is the headline: the same as --post 3 --posts 3,4,8."
    ),
    posts: Optional[str] = typer.Option(
        None, "--posts", help="Serving precisions for the table, e.g. 3,4,8 (default: 2..8 bits below the training precision;"
        " or give the list to --post)."
    ),
    precision: Optional[str] = typer.Option(
        None, "--train-precision", "--precision", "-P", help="Training precision of weights, activations and KV (default 16)."
    ),
    weights: Optional[str] = WeightsOpt,
    activations: Optional[str] = ActivationsOpt,
    kv: Optional[str] = KvOpt,
    law: str = LawOpt,
    base: Optional[str] = BaseOpt,
    level: str = LevelOpt,
    json_out: bool = JsonOpt,
    plot: Optional[str] = PlotOpt,
    force: bool = ForceOpt,
) -> None:
    """Loss before and after post-training quantization, and D_crit, past which more data hurts.

    The critical data size D_crit (Kumar et al. 2024, eq. 13) is the token count past which more
    pretraining data makes the quantized model worse. --law a,b,c shows each law side by side
    with the spread; a law without PTQ terms is listed as not applicable."""
    from precplan.units import parse_count, parse_count_or_sweep

    check_outputs({"--plot": plot}, [law, base], force)
    lvl = parse_level(level)
    pw, pa, pkv = resolve_precisions(precision, weights, activations, kv)
    head, table = resolve_posts(post, posts)
    n = parse_count(params, "--params")
    d = parse_count_or_sweep(tokens, "--tokens")
    laws = load_cli_laws(law, base)
    if len(laws) > 1:
        _law_list(laws, n, d, head, table, pw, pa, pkv, lvl, json_out, plot)
        return
    _one_law(laws[0], n, d, head, table, pw, pa, pkv, lvl, json_out, plot)


def _one_law(the_law, n, d, head, table, pw, pa, pkv, lvl, json_out, plot) -> None:
    """One law: the risk at one token count or the degradation curve over a sweep; the plot."""
    from precplan.cli._render import print_json
    from precplan.ptq import ptq_risk as run_risk, ptq_sweep

    if d.size == 1:
        result = run_risk(the_law, n, float(d[0]), head, table, pw, pa, pkv, level=lvl)
    else:
        result = ptq_sweep(the_law, n, d, head, table, pw, pa, pkv, level=lvl)
    result.warnings[:0] = law_warnings(the_law)
    if plot is not None:
        _save_plot(the_law, pw, result, d, plot, lvl)
    if json_out:
        print_json(result)
        print_json_warnings(result.warnings)
    elif d.size == 1:
        render_risk(result)
    else:
        render_sweep(result)
    if plot is not None and not json_out:
        from precplan.cli._render import print_notes

        print_notes([f"plot written to {plot}"])


def _law_list(laws, n, d, head, table, pw, pa, pkv, level, json_out, plot) -> None:
    """``--law a,b,c``: the headline of each law side by side, with the spread."""
    from precplan.cli._render import bits_triple
    from precplan.errors import PrecplanError
    from precplan.cli._render import fmt, print_json
    from precplan.cli._spread import Column, run_each, render_side_by_side
    from precplan.ptq import ptq_risk as run_risk

    if d.size != 1:
        raise PrecplanError("--law with a list of laws needs one --tokens value (not a sweep); run the sweep per law")
    if plot is not None:
        raise PrecplanError("--plot draws one law; give --law a single law to plot")

    def solve(the_law):
        the_law.require_ptq()
        return run_risk(the_law, n, float(d[0]), head, table, pw, pa, pkv, level=level)

    results = run_each(laws, solve)
    if json_out:
        print_json(results)
        from precplan.cli._spread import print_spread_warnings

        print_spread_warnings(results)
        return
    r0 = next(r for r in results if hasattr(r, "post_name"))
    columns = [
        Column("loss before PTQ", "loss_before", "loss_before", fmt),
        Column(f"loss after PTQ to {r0.post_name}", "loss_after", "loss_after", fmt),
        Column("degradation", "degradation", "degradation", fmt),
        Column("D_crit", "d_crit", "d_crit", _count),
        Column("D/D_crit", "tokens_over_d_crit", None, lambda x: f"{x:.3g}"),
    ]
    title = f"N = {_count(n)}, D = {_count(float(d[0]))}, trained at {bits_triple(r0.bits.weights, r0.bits.activations, r0.bits.kv)} bits, served at {r0.post_name}: each law"
    render_side_by_side(title, results, columns)


def _save_plot(law, weights, result, tokens, path: str, level: float = 0.8) -> None:
    """Post-PTQ loss vs tokens for every serving precision of the table, D_crit marked."""
    from precplan.plots import save_figure
    from precplan.plots import plot_ptq_curves
    from precplan.laws import law_for_weights
    from precplan.ptq import degradation_curves, plot_token_grid

    law = law_for_weights(law, weights)[0]  # the variant the result used (float weights)
    dcs = [r.d_crit for r in result.table if r.d_crit is not None]
    grid = plot_token_grid(tokens, dcs)  # dense: a sweep keeps its range
    b = result.bits
    curves = degradation_curves(
        law, result.params, grid, [r.post_name for r in result.table], b.weights, b.activations, b.kv,
        planned_tokens=float(tokens[0]) if tokens.size == 1 else None, level=level,
    )
    save_figure(plot_ptq_curves(curves, highlight=result.post_bits), path)


_STYLE = {"past": "bold red", "near": "yellow", "below": "green", "none": "green"}


def _count(x) -> str:
    from precplan.units import format_count

    return "none" if x is None else format_count(x)


def _serving_table(r, with_planned: bool):
    from precplan.cli._render import fmt, table

    if with_planned:
        cols = ["PTQ to", "loss after", "nats", "ppl", "D_crit", "D/D_crit", "status"]
        rows = [
            (
                row.post_name,
                fmt(row.loss_after),
                fmt(row.degradation),
                _ppl(row.perplexity_factor),
                _count(row.d_crit),
                "-" if row.d_crit is None else f"{row.tokens_over_d_crit:.3g}",
                row.status,
            )
            for row in r.table
        ]
        title = f"{r.law} at each serving precision, D = {_count(r.tokens)} (nats = loss rise; ppl = perplexity factor)"
    else:
        cols = ["PTQ to", "D_crit", "best post-PTQ loss (at D_crit)"]
        rows = [(row.post_name, _count(row.d_crit), fmt(row.loss_at_d_crit)) for row in r.table]
        title = "Critical data size for this N at each serving precision"
    if with_planned:
        from precplan.cli._footnotes import whole_table

        return whole_table(title, cols, rows)
    return table(title, cols, rows)


def _ppl(x) -> str:
    """A perplexity factor exp(delta), e.g. x1.15."""
    import math

    if x is None or not math.isfinite(x):
        return "-"
    return f"x{x:.3g}" if x < 1e3 else f"x{x:.2e}"


EXTRAPOLATION_MARK = "is outside the range law"  # extrapolation warnings: the trust line says it once


def _print_footer(r) -> None:
    from precplan.cli._render import print_notes, print_warnings

    print_notes([*r.notes, r.law_facts] if getattr(r, "law_facts", "") else r.notes)
    shown = [w for w in r.warnings if w != getattr(r, "law_verdict", None)]
    if getattr(r, "evidence", None) is not None:  # the trust line already states the extrapolation
        shown = [w for w in shown if EXTRAPOLATION_MARK not in w]
    print_warnings(shown)


def render_risk(r) -> None:
    """Verdict and trust first; the law beside the real-model-calibrated law; the measured rows;
    then each serving precision, the training alternatives, notes, warnings."""
    from precplan.cli._footnotes import Footnotes
    from precplan.cli._render import bits_triple, console, fmt, table

    out, ev, notes = console(), r.evidence, Footnotes()
    out.print(f"[bold]{ev.verdict}[/bold]", soft_wrap=False)
    out.print(ev.trust)
    unc = r.uncertainty or {}

    def band(key, show):  # the interval over the law's coefficient samples, when it has some
        return f" [{show(unc[key][0])}, {show(unc[key][1])}]" if unc.get(key) else ""

    cal_band = f" [{ev.calibrated_interval[0]:.3g}, {ev.calibrated_interval[1]:.3g}]" if ev.calibrated_interval else ""
    rows = [
        ("degradation, nats", fmt(r.degradation) + band("degradation", fmt), fmt(ev.calibrated_degradation) + cal_band),
        ("perplexity factor", _ppl(r.perplexity_factor), _ppl(ev.calibrated_perplexity)),
        (f"D_crit at {r.post_name}", _count(r.d_crit) + band("d_crit", _count), _count(ev.calibrated_d_crit)),
        ("loss before -> after", f"{fmt(r.loss_before)} -> {fmt(r.loss_after)}", "-"),
    ]
    title = (f"PTQ to {r.post_name} of N = {_count(r.params)}, D = {_count(r.tokens)}, trained at"
             f" {bits_triple(r.bits.weights, r.bits.activations, r.bits.kv)} bits (w/a/KV)")
    if r.law != ev.calibrated_law:
        out.print(table(title, ["", r.law, ev.calibrated_law], rows, whole=(1, 2)))
    else:
        out.print(table(title, ["", r.law], [row[:2] for row in rows], whole=(1,)))
    if ev.measured:
        out.print(_measured_table(r, notes))
        notes.print()
    style, prefix = _STYLE[r.status], ("warning: " if r.status == "near" else "")
    out.print(f"[{style}]{prefix}{r.law_verdict}[/{style}]")
    out.print(_serving_table(r, True))
    trows = [
        (o.label, fmt(o.loss_before), fmt(o.degradation), fmt(o.loss_after), fmt(o.robustness),
         _count(o.d_crit) if o.feasible else "infeasible")
        for o in r.training
    ]
    out.print(table(f"Training precision vs PTQ to {r.post_name} (eq. 9: lower-precision training is more robust)",
                    ["training (w/a/KV bits)", "loss before", "degradation", f"loss at {r.post_name}", "R", "D_crit"], trows))
    _print_footer(r)


def _measured_table(r, notes):
    """The nearest published real-model PTQ measurements beside both laws' predictions: one line
    per row at 80 columns, sources as numbered footnotes."""
    from precplan.cli._footnotes import escape_all, whole_table

    ev = r.evidence
    show_bits = any(m.bits != r.post_bits for m in ev.measured)
    rows = [
        escape_all((
            m.model, f"{_count(m.params)}/{_count(m.tokens)}",
            f"{m.method}{m.bits:g}/{_short_group(m.group)}" if show_bits else f"{m.method}/{_short_group(m.group)}",
            f"{m.measured:.3f}", _ppl(_exp(m.measured)), f"{m.predicted:.3f}",
            "-" if m.calibrated is None else f"{m.calibrated:.3f}", notes.mark(m.source),
        ))
        for m in ev.measured
    ]
    bits = "" if show_bits else f" at {r.post_bits:g} bits"
    title = (f"Measured real models nearest {_count(r.params)}/{_count(r.tokens)}{bits} (WikiText-2; nats = ln(ppl after/before);"
             f" paper = {r.law}, cal. = {ev.calibrated_law}; N is total parameters)")
    cols = ["model", "N/D", "PTQ", "nats", "ppl", "paper", "cal.", "src"]
    return whole_table(title, cols, rows)


def _short_group(group: str) -> str:
    return "ch" if group == "per-channel" else group


def _exp(x: float) -> float:
    import math

    return math.exp(x)


def render_sweep(r) -> None:
    """The degradation curve over D at the headline precision, then D_crit per precision."""
    from precplan.cli._render import bits_triple, fmt
    from precplan.cli._render import console, table

    out = console()
    unc = r.uncertainty or {}

    def band(key, i):  # the interval of curve point i over the law's coefficient samples
        v = (unc.get(key) or [None] * len(r.curve))[i]
        return f" [{fmt(v[0])}, {fmt(v[1])}]" if v else ""

    rows = [
        (
            _count(p.tokens),
            fmt(p.loss_before),
            fmt(p.loss_after) + band("loss_after", i),
            fmt(p.degradation) + band("degradation", i),
            _ppl(p.perplexity_factor),
            f"[{_STYLE[p.status]}]{p.status}[/{_STYLE[p.status]}]",
        )
        for i, p in enumerate(r.curve)
    ]
    title = (
        f"{r.law}: degradation curve, N = {_count(r.params)}, trained at {bits_triple(r.bits.weights, r.bits.activations, r.bits.kv)} bits, served at"
        f" {r.post_name} (D_crit = {_count(r.d_crit)})"
    )
    cols = ["tokens", "loss before PTQ", f"loss at {r.post_name}", "nats", "ppl", "vs D_crit"]
    out.print(table(title, cols, rows))
    out.print(_serving_table(r, False))
    _print_footer(r)


def register(app: typer.Typer) -> None:
    """Add this command to the app."""
    app.command("ptq-risk")(ptq_risk)
