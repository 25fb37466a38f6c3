"""``precplan fit``: fit a precision-aware scaling law to your own runs."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from precplan.cli._common import ForceOpt, JsonOpt, PlotOpt, check_outputs, handle_errors, print_json_warnings

__all__ = ["FIT_LAW_HELP", "fit", "register", "render_fit"]

FIT_LAW_HELP = (
    "Take the base terms (E, A, B, alpha, beta) from this law instead of fitting them; it also supplies"
    " every coefficient the data cannot fit (default for those: kumar2024). Bundled name or YAML path."
)


@handle_errors
def fit(
    runs: Optional[str] = typer.Argument(None, help="Runs: a CSV or JSONL file (the validate results store is accepted as is)."),
    example: Optional[str] = typer.Option(None, "--example", help="Fit a bundled example data set instead: sardana2024 (47 runs, Sardana et al. 2024; Apache-2.0)."),
    out: Optional[str] = typer.Option(None, "--out", "-o", help="Write the fitted law to this YAML file (use it with --law)."),
    columns: Optional[str] = typer.Option(
        None, "--columns", help='Map standard columns to yours, e.g. params=Parameters,tokens=Tokens,loss="Smoothed Loss".'),
    form: str = typer.Option("auto", "--form", help="auto (every stage the columns allow), chinchilla, precision or ptq."),
    law: Optional[str] = typer.Option(None, "--law", help=FIT_LAW_HELP),
    tie_exponents: bool = typer.Option(False, "--tie-exponents", help="Fit alpha = beta, as Kumar et al. 2024 did."),
    objective: str = typer.Option("huber", "--objective", help="huber (Hoffmann et al. 2022) or lsq (least squares), on log loss."),
    delta: float = typer.Option(1e-3, "--delta", help="Huber delta (on log loss)."),
    grid: str = typer.Option("full", "--grid", help="Start grid: full (Hoffmann's 4,500 points) or coarse (432)."),
    bootstrap: int = typer.Option(0, "--bootstrap", help="Bootstrap resamples for confidence intervals, e.g. 1000 (0: off)."),
    level: float = typer.Option(0.95, "--level", help="Confidence level of the bootstrap intervals."),
    at_budget: str = typer.Option("1e21", "--at-budget", help="FLOP budget for the fitted law's compute-optimal N*, D* (P*)."),
    holdout: Optional[str] = typer.Option(None, "--holdout", help='Fit without the runs matching COLUMN OP NUMBER (e.g. "params>=1e9") and report the error on them.'),
    holdout_largest: bool = typer.Option(False, "--holdout-largest", help="Hold out the runs of the largest model size."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap resampling."),
    law_id: Optional[str] = typer.Option(None, "--id", help="id of the fitted law (default: fit-<data file name>)."),
    curves: Optional[bool] = typer.Option(None, "--curves/--no-curves", help="The file holds training curves, one row per checkpoint: run (or run_id), params, tokens_seen, loss[, step] (default: detected from a run id column with step or tokens_seen)."),
    min_tokens: str = typer.Option("1e10", "--min-tokens", help="Curves: drop checkpoints with fewer tokens seen (Choshen et al. 2024; 0 keeps all)."),
    skip_fraction: float = typer.Option(0.0, "--skip-fraction", help="Curves: also drop the first fraction of each run's tokens, e.g. 0.1."),
    subsample: int = typer.Option(250, "--subsample", help="With more runs than this, search the start grid on a representative subsample and refine on all runs (0: full grid on every run)."),
    plot: Optional[str] = PlotOpt,
    force: bool = ForceOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Fit a scaling law to your runs (Hoffmann's procedure, Kumar's stages) and write it as a law file.

    Training curves (--curves): one row per checkpoint with columns run (or run_id), params, tokens_seen (tokens seen at the checkpoint), loss, optional step and training bits; each run weighs 1, and checkpoints before --min-tokens (or in the first --skip-fraction of a run) are dropped.
    """
    from precplan.errors import PrecplanError
    from precplan.fit import fit_law
    from precplan.laws import save_law
    from precplan.units import parse_count

    from precplan.cli._checks_round3 import check_fit_curve_options
    from precplan.fit import check_fit_options

    if (runs is None) == (example is None):
        raise PrecplanError("give a runs file or --example NAME (bundled: sardana2024), not both or neither")
    if example is not None:
        from precplan.fit import example_runs

        path, example_columns = example_runs(example)
        runs, columns = str(path), columns or example_columns
    check_outputs({"--out": out, "--plot": plot}, [runs, law], force)
    check_fit_curve_options(runs, curves)
    budget = parse_count(at_budget, "--at-budget")
    check_fit_options(form=form, objective=objective, delta=delta, grid=grid, bootstrap=bootstrap, level=level,
                      seed=seed, law_id=law_id, columns=columns, holdout=holdout)
    result = fit_law(runs, form=form, base_law=law, tie_exponents=tie_exponents, delta=delta, objective=objective,
                     grid=grid, bootstrap=bootstrap, holdout=holdout, holdout_largest=holdout_largest, budget=budget,
                     level=level, seed=seed, progress=not json_out, columns=columns, law_id=law_id, subsample=subsample,
                     curves=curves, min_tokens=_token_count(min_tokens),
                     skip_fraction=skip_fraction)
    _emit(result, out, plot, json_out)


def _emit(result, out: str | None, plot: str | None, json_out: bool) -> None:
    """Write the law file and the figure, then print the result (JSON, or tables for people)."""
    from precplan.cli._render import print_json
    from precplan.laws import save_law

    written = str(save_law(result.law, out)) if out else None
    drawn = None
    if plot:
        from precplan.plots import save_figure
        from precplan.plots import fit_figure

        drawn = str(save_figure(fit_figure(result), plot))
    if json_out:
        doc = result.to_json()
        doc.update(out=written, plot=drawn)
        print_json(doc)
        print_json_warnings(result.warnings)
    else:
        render_fit(result, written, drawn)


def _token_count(text: str) -> float:
    """--min-tokens: a count as people write it (10B, 1e10), or 0."""
    from precplan.units import parse_count

    return 0.0 if text.strip() in ("0", "0.0") else parse_count(text, "--min-tokens")


def _targets(n: int) -> str:
    return f"{n} target{'' if n == 1 else 's'}"


def render_fit(r, written: str | None, drawn: str | None) -> None:
    """Coefficients with intervals and sources, fit quality, the compute-optimal point, notes."""
    from precplan.cli._render import console, fmt, print_notes, print_warnings, table
    from precplan.units import format_count

    out = console()
    src = r.source
    out.print(f"[bold]{r.law.id}[/bold]: {r.form} law fitted to {Path(src['path']).name} ({r.n_rows} rows, {r.n_runs} training runs)")
    level = f"{r.bootstrap.level:.0%} interval" if r.bootstrap else None
    rows = []
    for name, value in r.coefficients.items():
        iv = r.intervals.get(name)
        coef = r.law.coefficients[name]
        if name in r.fitted:
            source = "fitted"
        else:
            source = f"{r.sources[name]} ({'[bold red]ASSUMED[/bold red]' if coef.source == 'assumed' else coef.source})"
        interval = [f"[{fmt(iv[0])}, {fmt(iv[1])}]" if iv else "-"] if level else []
        rows.append((name, fmt(value), *interval, source))
    boot = f", {r.bootstrap.used} bootstrap resamples" if r.bootstrap else " (run with --bootstrap N for intervals)"
    out.print(table(f"coefficients{boot}", ["coefficient", "value"] + ([level] if level else []) + ["source"], rows))

    q = r.quality
    qrows = [("R^2, fitted runs", fmt(r.r2))]
    labels = {"base": "R^2, high-precision runs (base)", "precision": "R^2, quantized-training runs",
              "ptq": "R^2, PTQ degradation (post_loss - loss)"}
    if len(r.stage_r2) > 1:
        qrows += [(labels[k], fmt(v)) for k, v in r.stage_r2.items()]
    qrows += [("mean |relative error|", f"{q['mean_abs_rel_error']:.2%}"), ("max |relative error|", f"{q['max_abs_rel_error']:.2%}"),
              ("RMSE of log loss", fmt(q["rmse_log"]))]
    for name, s in r.stages.items():
        state = "converged" if s["converged"] else "[bold red]NOT converged[/bold red]"
        qrows.append((f"{name} stage: starts reaching the best fit", f"{s['starts_at_best']} of {s['starts']}, {state}"))
    if r.holdout:
        h = r.holdout
        if h.get("n"):
            qrows.append((f"held out ({h['selection']}): {_targets(h['n'])}", f"MARE {h['mean_abs_rel_error']:.2%}, R^2 {fmt(h['r2'])}"))
    out.print(table(f"fit quality ({_targets(q['n'])})", ["measure", "value"], qrows))

    o = r.optimum
    orow = []
    for key, label, f in (("N_opt", "N* (parameters)", format_count), ("D_opt", "D* (tokens)", format_count),
                          ("P_opt", "P* (bits)", lambda v: f"{v:.3f}")):
        if key in o:
            iv = r.intervals.get(key)
            orow.append((label, f(o[key])) + ((f"[{f(iv[0])}, {f(iv[1])}]" if iv else "-",) if level else ()))
    where = " [bold red](outside the fitted runs: see the warning)[/bold red]" if r.optimum_warnings else ""
    out.print(table(f"compute-optimal at {o['budget']:.3g} FLOPs{where}", ["quantity", "value"] + ([level] if level else []), orow))
    notes = list(r.notes)
    if r.assumed:
        notes.append(f"the law carries ASSUMED constants ({', '.join(r.assumed)}): no paper reports them and the data did not fit them")
    if written:
        notes.append(f"wrote {written}: use it with --law {written}")
    if drawn:
        notes.append(f"plot: {drawn}")
    print_notes(notes)
    print_warnings(r.warnings)


def register(app: typer.Typer) -> None:
    """Add this command to the app."""
    app.command("fit")(fit)
