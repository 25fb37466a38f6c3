"""``precplan optimize``: the N, D and training precision that minimize predicted loss under a
budget (or the lifetime compute that reaches a target loss), with the alternatives' cost.

The command parses, calls the library (:func:`precplan.optimize.make_request`,
:func:`precplan.optimize.compare_laws`) with the options as typed, and picks a renderer; the
library reads every value, normalizes the budget and checks the request."""

from __future__ import annotations

from typing import Any, Optional

import typer

from precplan.cli._common import (
    BaseOpt, ForceOpt, JsonOpt, LawOpt, LevelOpt, PlotOpt, check_outputs, handle_errors, print_json_warnings, split_law_list,
)
from precplan.cli._optimize_formats import format_laws
from precplan.errors import PrecplanError

__all__ = ["optimize", "register"]

Opt = typer.Option

# the options passed to the library as typed (the library's argument names)
REQUEST_ARGS = (
    "budget", "params", "tokens", "precision", "precisions", "continuous", "untied", "memory", "serve_memory",
    "inference_precision", "inference_tokens", "target_loss", "compare", "serve_activations", "serve_kv", "gpu", "gpus",
    "days", "hours", "gpu_hours", "dollars", "price", "mfu", "prefill_mfu", "input_tokens", "output_tokens", "batch",
    "context", "gqa", "hardware", "level", "format_speedup", "serving",
)


@handle_errors
def optimize(
    budget: Optional[str] = Opt(None, "--budget", "-C", help="Compute budget in 16-bit-equivalent FLOPs (training; with --inference-tokens, training + inference), e.g. 1e23; or a log sweep START:STOP:COUNT, e.g. 1e19:1e25:13."),
    params: Optional[str] = Opt(None, "--params", "-N", help="Fix the model size (e.g. 1B); choose tokens and precision."),
    tokens: Optional[str] = Opt(None, "--tokens", "-D", help="Fix the training tokens (e.g. 16B)."),
    precision: Optional[str] = Opt(None, "--precision", "-P", help="Fix the training precision of all operands (bits or a format); choose N and D."),
    precisions: Optional[str] = Opt(None, "--precisions", help="Candidates: a list (4,8,16 or int4,fp8-e4m3,bf16) or an integer range LO:HI. Default 3:16."),
    continuous: bool = Opt(False, "--continuous", help="Real-valued bits within the --precisions range (golden-section search)."),
    untied: bool = Opt(False, "--untied", help="Choose weights, activations and KV bits separately (training is paid at the widest)."),
    memory: Optional[str] = Opt(None, "--memory", help="Training weights must fit: N x P_w / 8 bytes, e.g. 880MB."),
    serve_memory: Optional[str] = Opt(None, "--serve-memory", help="Served weights (at --inference-precision if given) must fit: a size (8GB = 8e9 B, 8GiB = 8 x 2^30 B) or a card (h100, 2xh100). With --context/--batch the KV cache counts too."),
    inference_precision: Optional[str] = Opt(None, "--inference-precision", help="Quantize the weights to this after training (PTQ): the loss includes the degradation."),
    inference_tokens: Optional[str] = Opt(None, "--inference-tokens", help="Tokens served over the model's life (input + output), e.g. 2T: adds (2/16) N T P_serve FLOPs."),
    target_loss: Optional[str] = Opt(None, "--target-loss", help="Instead of minimizing loss, minimize (lifetime) compute to reach this loss."),
    compare: Optional[str] = Opt(None, "--compare", help="Precisions (bits or formats) for the comparison table. Default: the --precisions list when one is given, else 4,8,16 (memory mode 4,6,8,16,32), predicted by the plan's law (float formats by its float variant)."),
    serve_activations: Optional[str] = Opt(None, "--serve-activations", help="Serve activations at this precision (default: their training precision). Cost and memory only."),
    serve_kv: Optional[str] = Opt(None, "--serve-kv", help="Serve the KV cache at this precision (default: its training precision). Cost and memory only."),
    gpu: Optional[str] = Opt(None, "--gpu", help="Plan on this GPU (precplan hardware list): its native formats, priced at their real throughput, with GPU-hours, days and dollars. A list (h100,b200) picks the cheapest (target loss) or best (budget) GPU."),
    gpus: Optional[str] = Opt(None, "--gpus", help="Number of GPUs: with --days or --hours, the training budget (GPUs x time); alone, the wall-clock days are reported."),
    days: Optional[str] = Opt(None, "--days", help="Wall-clock days of training on --gpus GPUs (the budget covers training only)."),
    hours: Optional[str] = Opt(None, "--hours", help="Wall-clock hours of training on --gpus GPUs (instead of --days)."),
    gpu_hours: Optional[str] = Opt(None, "--gpu-hours", help="Budget in GPU-hours (training, plus inference with --inference-tokens), e.g. 368640."),
    dollars: Optional[str] = Opt(None, "--dollars", help="Budget in dollars (with --price), e.g. 2e6."),
    price: Optional[str] = Opt(None, "--price", help="Dollars per GPU-hour (one per --gpu, e.g. 2.5,5.0)."),
    mfu: Optional[str] = Opt(None, "--mfu", help="Training model-FLOPs utilization of a bf16 run, in (0, 1] (default 0.5)."),
    format_speedup: Optional[str] = Opt(None, "--format-speedup", help="End-to-end training speedup over bf16 per format, e.g. fp8=1.3,nvfp4=1.8 (default: published measurements, fp8 1.34; 'peak': the dense-peak ratios)."),
    prefill_mfu: Optional[str] = Opt(None, "--prefill-mfu", help="Inference prefill MFU (default 0.5)."),
    input_tokens: Optional[str] = Opt(None, "--input-tokens", help="Input (prompt) tokens per request (default 70)."),
    output_tokens: Optional[str] = Opt(None, "--output-tokens", help="Output tokens per request (default 215)."),
    batch: Optional[str] = Opt(None, "--batch", help="Sequences decoded together (default 64, assumed): decode reads the weights once per step."),
    context: Optional[str] = Opt(None, "--context", help="Tokens each sequence's KV cache holds (default: input + output tokens)."),
    gqa: Optional[str] = Opt(None, "--gqa", help="Query heads per KV head (default 4: grouped-query attention as in Llama 3 8B and Mistral 7B, 32 query / 8 KV heads; 1: multi-head attention)."),
    serving: Optional[str] = Opt(None, "--serving", help="With a hardware budget and --inference-tokens: lifetime-cost (default with one --gpu and --gpus/--days: least lifetime GPU-hours reaching the loss the cluster's training-only plan reaches), lifetime-budget (the GPU-hours cover training + serving: lowest loss) or priced (the budget is training's, serving priced beside it)."),
    quiet: bool = Opt(False, "--quiet", help="Print the verdict and the key numbers only."),
    hardware: Optional[str] = Opt(None, "--hardware", help="A hardware catalog YAML file to use instead of the bundled one."),
    csv: Optional[str] = Opt(None, "--csv", help="Also write the plan(s) as CSV to FILE ('-' for stdout)."),
    plot: Optional[str] = PlotOpt,
    force: bool = ForceOpt,
    law: str = LawOpt,
    base: Optional[str] = BaseOpt,
    level: str = LevelOpt,
    json_out: bool = JsonOpt,
    json_columns: bool = Opt(False, "--json-columns", help="Print JSON with one array per column (compact for large sweeps): the same columns as --csv."),
) -> None:
    """Choose parameters, tokens and training precision that minimize predicted loss under a budget (--law a,b,c: side by side)."""
    args = {k: v for k, v in locals().items() if k in REQUEST_ARGS}
    _check_outputs(csv, plot, json_out, json_columns, [law, base, hardware], force, args)
    laws = split_law_list(law)
    if len(laws) > 1 or format_laws(laws):  # several laws, or a format-aware law (planned over native formats)
        return _per_law(laws, base, args, json_out, json_columns, csv, plot)
    from precplan.optimize import make_request
    req = make_request(law=laws[0], base=base, **args)
    if len(req.planners) > 1:  # several GPUs: the best plan, the others beside it
        chosen = req.plan()  # with its verdict
        one = req.on(chosen.gpu)
        return _show_plan(one.planner, chosen, one.sweep() if csv is not None else None, json_out, csv, plot, quiet)
    sweep = req.sweep(progress=True)
    if sweep.count == 1 and not json_columns:
        return _show_plan(req.planner, req.explain(sweep[0]), sweep, json_out, csv, plot, quiet)
    _show_sweep(req.planner, sweep, json_out, json_columns, csv, plot)


def _check_outputs(csv: str | None, plot: str | None, json_out: bool, json_columns: bool, inputs: list, force: bool,
                   args: dict[str, Any]) -> None:
    """One output on stdout at most, every output file writable (the inputs, the --hardware
    catalog too, never overwritten), and options that do nothing refused, before any work."""
    from precplan.cli._checks_round3 import check_optimize_extras

    check_optimize_extras(*(args.get(k) for k in (
        "gpu", "hardware", "serve_memory", "serve_kv", "serve_activations", "inference_tokens")), json_columns,
        *(args.get(k) for k in ("mfu", "prefill_mfu", "price", "batch", "input_tokens", "output_tokens", "context")))
    if csv == "-" and (json_out or json_columns):
        raise PrecplanError(f"--csv - and {'--json' if json_out else '--json-columns'} both write to stdout; pick one (or give --csv a file name)")
    if json_out and json_columns:
        raise PrecplanError("--json and --json-columns both write JSON to stdout; pick one (--json-columns: one array per column)")
    check_outputs({"--csv": csv, "--plot": plot}, inputs, force)


def _per_law(laws: list[str], base: str | None, args: dict[str, Any], json_out: bool, json_columns: bool,
             csv: str | None, plot: str | None) -> None:
    """``--law a,b,c``: the library's plan per law, side by side (or the JSON list); with a
    format-aware law, each law's choice among the GPU's native formats."""
    from precplan.cli._optimize_formats import plan_formats_command
    from precplan.cli._optimize_spread import render_per_law
    from precplan.optimize import compare_laws

    if plan_formats_command(laws, base, args, json_out, json_columns, csv, plot):
        return
    if json_columns:
        raise PrecplanError("--json-columns writes one law's sweep; with several laws (--law a,b,c) use --json")
    if plot is not None or csv is not None:
        raise PrecplanError("--plot and --csv take one law; give --law a single law to draw or export")
    render_per_law(compare_laws(laws, base=base, **args), json_out)


def _show_plan(planner, plan, sweep, json_out: bool, csv: str | None, plot: str | None, quiet: bool = False) -> None:
    """Print one plan (table or JSON); write its CSV (from ``sweep``, the one-budget sweep it
    comes from) and plot."""
    from precplan.cli._optimize_columns import write_csv
    from precplan.cli._optimize_render import render_plan

    from precplan.cli._checks_round3 import kv_card_warnings

    print_json_warnings(kv_card_warnings(plan, planner.gpu))  # legal, but no such card serves it
    if csv is not None:
        write_csv(sweep, csv)
    if json_out:
        from precplan.cli._render import print_json
        from precplan.hparams import plan_hyperparameters

        print_json(plan_hyperparameters(plan))  # the plan plus each hyperparameter law's LR and batch
        print_json_warnings(plan.warnings)
    elif csv != "-":
        render_plan(plan, quiet)
        if not quiet:
            from precplan.cli._hparams import render_for_plan

            render_for_plan(plan)
    else:  # the CSV is on stdout: the warnings still reach stderr
        print_json_warnings(plan.warnings)
    if plot is not None:
        _plot(planner, [plan], plot, json_out or csv == "-")


def _show_sweep(planner, sweep, json_out: bool, json_columns: bool, csv: str | None, plot: str | None) -> None:
    """Print a sweep (table, JSON rows or columns); write its CSV and plot."""
    from precplan.cli._optimize_columns import sweep_columns, sweep_header, write_csv
    from precplan.cli._checks_round3 import kv_card_warnings
    from precplan.cli._optimize_render import render_sweep

    print_json_warnings(kv_card_warnings(sweep, planner.gpu))
    if csv is not None:
        write_csv(sweep, csv)
    if json_out or json_columns:
        from precplan.cli._render import write_json_table

        write_json_table(sweep_header(sweep), sweep_columns(sweep), columnar=json_columns)
        print_json_warnings(sweep.warnings)
    elif csv != "-":
        render_sweep(sweep)
    else:  # the CSV is on stdout: the warnings still reach stderr
        print_json_warnings(sweep.warnings)
    if csv not in (None, "-") and not (json_out or json_columns):
        from precplan.cli._render import print_notes

        print_notes([f"wrote {csv} ({sweep.count} rows)"])
    if plot is not None:
        _plot(planner, sweep, plot, json_out or json_columns or csv == "-")


def _plot(planner, plans, path: str, quiet: bool) -> None:
    """Draw the plan's curves to ``path`` (and say so, unless stdout carries JSON or CSV)."""
    from precplan.optimize import plan_curves
    from precplan.plots import plot_optimize, save_figure

    written = save_figure(plot_optimize(plan_curves(planner, plans)), path)
    if not quiet:
        from precplan.cli._render import print_notes

        print_notes([f"plot written to {written}"])


def register(app: typer.Typer) -> None:
    """Add this command to the app."""
    app.command("optimize")(optimize)
