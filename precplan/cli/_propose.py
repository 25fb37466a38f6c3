"""``precplan propose``: the next runs to train (CSV that ``validate --runs`` trains), chosen to
shrink the interval on the target prediction the most per unit compute."""

from __future__ import annotations

from typing import Optional

import typer

from precplan.cli._common import ForceOpt, JsonOpt, PlotOpt, check_outputs, handle_errors, print_json_warnings

__all__ = ["propose", "register", "render"]


@handle_errors
def propose(
    runs: Optional[str] = typer.Argument(None, help="Runs so far: a CSV/JSONL file or a validate results folder (leave out for a seed design)."),
    example: Optional[str] = typer.Option(None, "--example", help="Use a bundled example data set instead: sardana2024."),
    target_budget: Optional[str] = typer.Option(None, "--target-budget", help="Target training compute, FLOPs (e.g. 1e23): interval on N* there."),
    target_params: Optional[str] = typer.Option(None, "--target-params", help="Target run's parameters (with --target-tokens): interval on its loss."),
    target_tokens: Optional[str] = typer.Option(None, "--target-tokens", help="Target run's tokens."),
    allowance: str = typer.Option(..., "--allowance", help="Compute for this round, FLOPs (e.g. 1e21): the runs' total stays within it."),
    k: int = typer.Option(4, "--k", help="Runs to propose (a seed design proposes at least 5)."),
    columns: Optional[str] = typer.Option(None, "--columns", help="Column names of the runs file, as for precplan fit."),
    gpu: str = typer.Option("h100", "--gpu", help="GPU for the GPU-hours (catalog name)."),
    mfu: float = typer.Option(0.5, "--mfu", help="Training model-FLOPs utilization for the GPU-hours."),
    bootstrap: int = typer.Option(200, "--bootstrap", help="Resamples of the fit: the coefficient samples the choice uses."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
    out: Optional[str] = typer.Option(None, "--out", help="Write the runs as CSV to FILE (precplan validate --runs FILE trains them)."),
    plot: Optional[str] = PlotOpt,
    force: bool = ForceOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Propose the next runs to train: the most interval shrinkage on the target per unit compute."""
    from precplan.errors import PrecplanError
    from precplan.propose import propose as run_propose, proposal_csv
    from precplan.units import parse_count

    if (runs is not None) and (example is not None):
        raise PrecplanError("give a runs file/folder or --example NAME, not both")
    check_outputs({"--out": out, "--plot": plot}, [runs], force)
    num = lambda v, flag: None if v is None else parse_count(v, flag)  # noqa: E731
    data, sizes, configs = _inputs(runs, example, columns)
    result = run_propose(data, allowance=parse_count(allowance, "--allowance"), target_budget=num(target_budget, "--target-budget"),
                         target_params=num(target_params, "--target-params"), target_tokens=num(target_tokens, "--target-tokens"),
                         k=k, gpu=gpu, mfu=mfu, bootstrap=bootstrap, seed=seed, sizes=sizes, configs=configs)
    if out is not None:
        from precplan.io import atomic_write_text

        atomic_write_text(out, proposal_csv(result))
        result.notes.append(f"wrote {out} ({len(result.runs)} runs): precplan validate --runs {out} trains them")
    if plot is not None:
        from precplan.plots import save_figure
        from precplan.plots import proposal_figure

        save_figure(proposal_figure(result, data), plot)
        result.notes.append(f"plot written to {plot}")
    if json_out:
        from precplan.cli._render import print_json

        print_json(result)
        print_json_warnings(result.warnings)
        return
    render(result)


def _inputs(runs, example, columns):
    """The runs (a Runs or None), and for a validate store its model sizes and per-size configs."""
    from pathlib import Path

    from precplan.fit import load_runs

    if example is not None:
        from precplan.fit import example_runs

        path, example_columns = example_runs(example)
        return load_runs(path, columns or example_columns), None, None
    if runs is None:
        return None, None, None
    p = Path(runs)
    if p.is_dir() or p.suffix.lower() == ".jsonl":
        from precplan.errors import PrecplanError
        from precplan.validate import read_folders

        try:
            records, _ = read_folders([p])
        except PrecplanError:
            if p.is_dir():
                raise
            records = []  # not a validate store: plain JSONL runs
        if records and "run_id" in records[0]:
            keep = ("shape", "batch_size", "seq_len", "lr", "val_tokens")
            configs = {float(r["params"]): {**{k: r["config"][k] for k in keep if k in r.get("config", {})},
                                            **({"preset": r["preset"]} if r.get("preset") else {})} for r in records}
            return load_runs(records), sorted(configs), configs
    return load_runs(runs, columns), None, None


def render(p) -> None:
    """Verdict, the runs table, how they were chosen, notes and warnings."""
    from precplan.cli._render import console, print_notes, print_warnings, table
    from precplan.units import format_count

    out = console()
    out.print(f"[bold]{p.verdict}[/bold]")
    rows = [(format_count(r.params), format_count(r.tokens), f"{r.tokens_per_param:.3g}", f"w{r.weight_bits}a{r.activation_bits}kv{r.kv_bits}",
             f"{r.flops:.3g}", f"{r.gpu_hours:.3g}", "-" if r.variance_removed is None else f"{r.variance_removed:.1%}") for r in p.runs]
    out.print(table(f"next runs ({p.mode}; allowance {p.allowance:.3g} FLOPs)",
                    ["N", "D", "D/N", "bits", "FLOPs", "GPU-h", "var. removed"], rows))
    notes = [f"criterion: {p.criterion}", f"coefficient samples: {p.samples.get('source') or 'none (seed design)'}"
             + (f", {p.samples['used']} of {p.samples['count']} used" if p.samples.get("count") else "")]
    print_notes(notes + p.notes)
    print_warnings(p.warnings)


def register(app: typer.Typer) -> None:
    """Add this command to the app."""
    app.command("propose")(propose)
