"""``precplan optimize``: the N, D and training precision that minimize predicted loss under a
budget (or the lifetime compute that reaches a target loss), with the alternatives' cost."""

from __future__ import annotations

from typing import Optional

import typer

from precplan.cli._common import (
    BaseOpt, ForceOpt, JsonOpt, LawOpt, PlotOpt, check_outputs, handle_errors, law_warnings, load_cli_law, print_json_warnings,
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
    serve_memory: Optional[str] = Opt(None, "--serve-memory", help="Served weights (at --inference-precision if given) must fit, e.g. 8GB."),
    inference_precision: Optional[str] = Opt(None, "--inference-precision", help="Quantize the weights to this after training (PTQ): the loss includes the degradation."),
    inference_tokens: Optional[str] = Opt(None, "--inference-tokens", help="Tokens served over the model's life (input + output), e.g. 2T: adds (2/16) N T P_serve FLOPs."),
    target_loss: Optional[str] = Opt(None, "--target-loss", help="Instead of minimizing loss, minimize (lifetime) compute to reach this loss."),
    compare: Optional[str] = Opt(None, "--compare", help="Precisions (bits or formats) for the comparison table. Default: the --precisions list when one is given, else 4,8,16 (memory mode 4,6,8,16,32), predicted by the plan's law (float formats by its float variant)."),
    gpu: Optional[str] = Opt(None, "--gpu", help="h100 or a100: report GPU-hours (and dollars with --price)."),
    price: Optional[str] = Opt(None, "--price", help="Dollars per GPU-hour."),
    mfu: Optional[str] = Opt(None, "--mfu", help="Training model-FLOPs utilization (default 0.5)."),
    prefill_mfu: Optional[str] = Opt(None, "--prefill-mfu", help="Inference prefill MFU (default 0.5)."),
    decode_mfu: Optional[str] = Opt(None, "--decode-mfu", help="Inference decode MFU (default 0.2)."),
    input_tokens: Optional[str] = Opt(None, "--input-tokens", help="Input (prompt) tokens per request (default 70)."),
    output_tokens: Optional[str] = Opt(None, "--output-tokens", help="Output tokens per request (default 215)."),
    csv: Optional[str] = Opt(None, "--csv", help="Also write the plan(s) as CSV to FILE ('-' for stdout)."),
    plot: Optional[str] = PlotOpt,
    force: bool = ForceOpt,
    law: str = LawOpt,
    base: Optional[str] = BaseOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Choose parameters, tokens and training precision that minimize predicted loss under a budget."""
    from precplan.errors import PrecplanError
    from precplan.optimize._planner import make_planner
    from precplan.optimize._checks import parse_bits_spec
    from precplan.units import parse_bytes, parse_count, parse_count_or_sweep

    if csv == "-" and json_out:
        raise PrecplanError("--csv - and --json both write to stdout; pick one (or give --csv a file name)")
    check_outputs({"--csv": csv, "--plot": plot}, [law, base], force)
    if compare is not None and not [c for c in compare.split(",") if c.strip()]:
        raise PrecplanError("--compare: an empty list; give precisions such as 4,8,16 (or leave --compare out)")
    the_law = load_cli_law(law, base)
    budgets = None if budget is None else parse_count_or_sweep(budget, "--budget")
    bits_range, listed = parse_bits_spec(precisions) if precisions is not None else (None, None)
    planner = make_planner(
        the_law,
        has_budget=budgets is not None,
        params=None if params is None else parse_count(params, "--params"),
        tokens=None if tokens is None else parse_count(tokens, "--tokens"),
        precision=precision,
        precisions=listed,
        bits_range=bits_range,
        continuous=continuous,
        untied=untied,
        memory=None if memory is None else parse_bytes(memory, "--memory"),
        serve_memory=None if serve_memory is None else parse_bytes(serve_memory, "--serve-memory"),
        inference_precision=inference_precision,
        inference_tokens=None if inference_tokens is None else _tokens(inference_tokens),
        target_loss=_number(target_loss, "--target-loss"),
        compare=None if compare is None else [c for c in compare.split(",") if c.strip()],
        gpu=_gpu_spec(gpu, price, mfu, prefill_mfu, decode_mfu, input_tokens, output_tokens),
    )
    plans = planner.plans(budgets)
    if budgets is not None and planner.problem.mode == "budget":
        from precplan.optimize._limits import check_meaningful_budgets

        check_meaningful_budgets(planner.groups, planner.problem, budgets, [p.params for p in plans], [p.loss for p in plans])
    extra = law_warnings(the_law)
    for p in plans:
        p.warnings[:0] = extra
    if csv is not None:
        from precplan.cli._optimize_render import write_csv

        write_csv(plans, csv)
    if json_out:
        from precplan.cli._render import print_json

        print_json(plans if budgets is not None and budgets.size > 1 else plans[0])
        print_json_warnings(extra + planner.range_warnings(plans) if len(plans) > 1 else plans[0].warnings)
    elif csv != "-":
        from precplan.cli._optimize_render import render_plan, render_sweep

        if len(plans) > 1:
            render_sweep(plans, extra + planner.range_warnings(plans))
        else:
            render_plan(plans[0])
    if plot is not None:
        from precplan.optimize._curves import plan_curves
        from precplan.plots._common import save_figure
        from precplan.plots._optimize import plot_optimize

        path = save_figure(plot_optimize(plan_curves(planner, plans)), plot)
        if not json_out and csv != "-":
            from precplan.cli._render import print_notes

            print_notes([f"plot written to {path}"])


def _tokens(text: str) -> float:
    from precplan.units import parse_count

    if str(text).strip() in ("0", "0.0"):
        return 0.0
    return parse_count(text, "--inference-tokens")


def _gpu_spec(gpu, price, mfu, prefill_mfu, decode_mfu, input_tokens, output_tokens):
    """A GpuSpec from the options, or None without --gpu (GPU options alone are an error)."""
    from precplan.errors import PrecplanError
    from precplan.costs import GpuSpec

    given = {"--price": price, "--mfu": mfu, "--prefill-mfu": prefill_mfu, "--decode-mfu": decode_mfu,
             "--input-tokens": input_tokens, "--output-tokens": output_tokens}
    if gpu is None:
        extra = [k for k, v in given.items() if v is not None]
        if extra:
            raise PrecplanError(f"{extra[0]} needs --gpu h100 or --gpu a100")
        return None
    d = GpuSpec()
    return GpuSpec(
        gpu=gpu.strip().lower(),
        price=_number(price, "--price"),
        mfu=_number(mfu, "--mfu", d.mfu),
        prefill_mfu=_number(prefill_mfu, "--prefill-mfu", d.prefill_mfu),
        decode_mfu=_number(decode_mfu, "--decode-mfu", d.decode_mfu),
        input_tokens=_number(input_tokens, "--input-tokens", d.input_tokens),
        output_tokens=_number(output_tokens, "--output-tokens", d.output_tokens),
    )


def register(app: typer.Typer) -> None:
    """Add this command to the app."""
    app.command("optimize")(optimize)
