"""``precplan optimize``: the N, D and training precision that minimize predicted loss under a
budget (or the lifetime compute that reaches a target loss), with the alternatives' cost."""

from __future__ import annotations

from typing import Optional

import typer

from precplan.cli._common import (
    BaseOpt, ForceOpt, JsonOpt, LawOpt, LevelOpt, PlotOpt, check_outputs, handle_errors, law_warnings, load_cli_laws, parse_level,
    print_json_warnings,
)

Opt = typer.Option


def _number(text: str | None, what: str, default: float | None = None) -> float | None:
    """A plain real number option (loss, price, MFU) with a one-line error."""
    from precplan.errors import PrecplanError

    import re

    if text is None:
        return default
    if not re.fullmatch(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*", str(text), re.ASCII) or abs(float(text)) == float("inf"):
        raise PrecplanError(f"{what}: cannot read {text!r} as a number (a plain finite number, e.g. 2.5 or 0.4)")
    return float(text)


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
    gpus: Optional[str] = Opt(None, "--gpus", help="Number of GPUs: with --days, the training budget (GPUs x days); alone, the wall-clock days are reported."),
    days: Optional[str] = Opt(None, "--days", help="Wall-clock days of training on --gpus GPUs (the budget covers training only)."),
    gpu_hours: Optional[str] = Opt(None, "--gpu-hours", help="Budget in GPU-hours (training, plus inference with --inference-tokens), e.g. 368640."),
    dollars: Optional[str] = Opt(None, "--dollars", help="Budget in dollars (with --price), e.g. 2e6."),
    price: Optional[str] = Opt(None, "--price", help="Dollars per GPU-hour (one per --gpu, e.g. 2.5,5.0)."),
    mfu: Optional[str] = Opt(None, "--mfu", help="Training model-FLOPs utilization, in (0, 1] (default 0.5)."),
    prefill_mfu: Optional[str] = Opt(None, "--prefill-mfu", help="Inference prefill MFU (default 0.5)."),
    input_tokens: Optional[str] = Opt(None, "--input-tokens", help="Input (prompt) tokens per request (default 70)."),
    output_tokens: Optional[str] = Opt(None, "--output-tokens", help="Output tokens per request (default 215)."),
    batch: Optional[str] = Opt(None, "--batch", help="Sequences decoded together (default 64, assumed): decode reads the weights once per step."),
    context: Optional[str] = Opt(None, "--context", help="Tokens each sequence's KV cache holds (default: input + output tokens)."),
    gqa: Optional[str] = Opt(None, "--gqa", help="Query heads per KV head (default 1: multi-head attention)."),
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
    """Choose parameters, tokens and training precision that minimize predicted loss under a budget.

    --law a,b,c plans with each law side by side and shows the spread."""
    from dataclasses import replace

    import numpy as np

    from precplan.cli._checks_round3 import check_optimize_extras, kv_card_warnings
    from precplan.errors import PrecplanError
    from precplan.optimize._planner import make_planner
    from precplan.optimize._checks import parse_bits_spec
    from precplan.units import parse_bytes, parse_count, parse_count_or_sweep

    if csv == "-" and (json_out or json_columns):
        raise PrecplanError(f"--csv - and {'--json' if json_out else '--json-columns'} both write to stdout; pick one (or give --csv a file name)")
    if json_out and json_columns:
        raise PrecplanError("--json and --json-columns both write JSON to stdout; pick one (--json-columns: one array per column)")
    check_outputs({"--csv": csv, "--plot": plot}, [law, base, hardware], force)
    check_optimize_extras(gpu, hardware, serve_memory, serve_kv, serve_activations, inference_tokens, json_columns, mfu,
                          prefill_mfu, price, batch, input_tokens, output_tokens, context)
    if compare is not None and not [c for c in compare.split(",") if c.strip()]:
        raise PrecplanError("--compare: an empty list; give precisions such as 4,8,16 (or leave --compare out)")
    from precplan.optimize._uncertainty import annotate

    lvl = parse_level(level)
    laws = load_cli_laws(law, base)
    the_law = laws[0]
    budgets = None if budget is None else parse_count_or_sweep(budget, "--budget")
    from precplan.optimize._hardware import gpu_format_names, hardware_request, serving_memory

    if gpu is not None:  # on a GPU, fp8/fp6/fp4 name its format (e4m3, e3m2, e2m1)
        precision, precisions, compare = (gpu_format_names(x) for x in (precision, precisions, compare))
    bits_range, listed = parse_bits_spec(precisions) if precisions is not None else (None, None)
    hw = hardware_request(gpu, gpus=gpus, days=days, gpu_hours=gpu_hours, dollars=dollars, price=price, mfu=mfu, prefill_mfu=prefill_mfu,
                          input_tokens=input_tokens, output_tokens=output_tokens, batch=batch, context=context, gqa=gqa,
                          hardware=hardware, budgets=budgets)
    serve_bytes, card, kv_memory = serving_memory(serve_memory, hardware, hw.specs, context, batch, gqa)
    common = dict(
        has_budget=budgets is not None or hw.hours is not None,
        params=None if params is None else parse_count(params, "--params"),
        tokens=None if tokens is None else parse_count(tokens, "--tokens"),
        precision=precision,
        precisions=listed,
        bits_range=bits_range,
        continuous=continuous,
        untied=untied,
        memory=None if memory is None else parse_bytes(memory, "--memory"),
        serve_memory=serve_bytes,
        inference_precision=inference_precision,
        inference_tokens=None if inference_tokens is None else _tokens(inference_tokens),
        target_loss=_number(target_loss, "--target-loss"),
        compare=None if compare is None else [c for c in compare.split(",") if c.strip()],
        serve_activations=serve_activations,
        serve_kv=serve_kv,
        kv_memory=kv_memory,
        budget_inference=hw.days is None,
    )
    if len(laws) > 1:
        from precplan.cli._optimize_spread import plan_each

        if json_columns:
            raise PrecplanError("--json-columns writes one law's sweep; with several laws (--law a,b,c) use --json")
        if len(hw.specs) > 1:
            raise PrecplanError("several laws and several GPUs at once: compare laws on one GPU, or GPUs with one law")
        spec = hw.specs[0] if hw.specs else None
        if hw.hours is not None:
            budgets = np.atleast_1d(spec.budget_units(hw.hours[0]))
        plan_each(laws, lambda one: make_planner(one, gpu=spec, **common), budgets, lvl, json_out, csv, plot)
        return
    extra = law_warnings(the_law)
    card_note = None if card is None else f"--serve-memory {serve_memory} = {card}: {serve_bytes:,.0f} B ({serve_bytes / 2**30:.2f}GiB, {serve_bytes / 1e9:.2f}GB)"
    if len(hw.specs) > 1:
        from precplan.optimize._hardware import plan_across

        planner, plans = plan_across(the_law, hw.specs, hw.hours, budgets, common)
        chosen = plans[0]
        one = planner.sweep(None if chosen.budget is None else [chosen.budget]) if csv is not None else None
        _one_plan(planner, annotate(planner, plans, lvl)[0], one, extra, card_note, json_out, csv, plot)
        return
    spec = hw.specs[0] if hw.specs else None
    planner = make_planner(the_law, gpu=spec, **common)
    if hw.hours is not None:
        budgets = np.atleast_1d(spec.budget_units(hw.hours[0]))
    sweep = _solve(planner, budgets, lvl)
    if card_note is not None:
        sweep = replace(sweep, shared_notes=(card_note,) + sweep.shared_notes)
    sweep.lead_warnings[:] = extra + kv_card_warnings(sweep, spec)
    if sweep.count == 1 and not json_columns:
        _one_plan(planner, sweep[0], sweep, [], None, json_out, csv, plot)
        return
    from precplan.cli._optimize_render import render_sweep, sweep_header, write_csv

    if csv is not None:
        write_csv(sweep, csv)
    if json_out or json_columns:
        from precplan.cli._render import write_json_table

        write_json_table(sweep_header(sweep), sweep.columns(), columnar=json_columns)
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


def _solve(planner, budgets, level: float):
    """The sweep with its intervals; a progress bar (stderr, on a terminal) when it takes over a
    second. Budgets too small for any model the law describes are refused first."""
    import numpy as np

    from precplan.optimize._limits import check_meaningful_budgets
    from precplan.optimize._uncertainty import annotate_sweep
    from precplan.progress import progress_bar

    n = 1 if budgets is None else int(np.size(budgets))
    with progress_bar(n > 1, "solving budgets", n) as advance:
        sweep = planner.sweep(budgets, advance)
    if budgets is not None and planner.problem.mode == "budget":
        check_meaningful_budgets(planner.groups, planner.problem, budgets, sweep.params, sweep.loss)
    with progress_bar(n > 1 and planner.law.has_samples, "intervals over the law's coefficient samples", n) as advance:
        return annotate_sweep(planner, sweep, level, advance)


def _one_plan(planner, plan, sweep, extra: list[str], card_note: str | None, json_out: bool, csv: str | None, plot: str | None) -> None:
    """Print one plan (table or JSON); write its CSV (from ``sweep``, the one-budget sweep it
    comes from) and plot."""
    from precplan.cli._optimize_render import render_plan, write_csv

    plan.warnings[:0] = extra
    if card_note is not None:
        plan.notes.insert(0, card_note)
    if csv is not None:
        write_csv(sweep, csv)
    if json_out:
        from precplan.cli._render import print_json

        print_json(plan)
        print_json_warnings(plan.warnings)
    elif csv != "-":
        render_plan(plan)
    else:  # the CSV is on stdout: the warnings still reach stderr
        print_json_warnings(plan.warnings)
    if plot is not None:
        _plot(planner, [plan], plot, json_out or csv == "-")


def _plot(planner, plans, path: str, quiet: bool) -> None:
    """Draw the plan's curves to ``path`` (and say so, unless stdout carries JSON or CSV)."""
    from precplan.optimize._curves import plan_curves
    from precplan.plots._common import save_figure
    from precplan.plots._optimize import plot_optimize

    written = save_figure(plot_optimize(plan_curves(planner, plans)), path)
    if not quiet:
        from precplan.cli._render import print_notes

        print_notes([f"plot written to {written}"])


def _tokens(text: str) -> float:
    from precplan.units import parse_count

    if str(text).strip() in ("0", "0.0"):
        return 0.0
    return parse_count(text, "--inference-tokens")


def register(app: typer.Typer) -> None:
    """Add this command to the app."""
    app.command("optimize")(optimize)
