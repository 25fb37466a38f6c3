"""Renderers for ``precplan optimize``: rich tables for people, CSV for spreadsheets."""

from __future__ import annotations

import csv
import io

from precplan.optimize._result import Plan
from precplan.cli._render import bits_num, bits_text, console, fmt, plain, print_notes, print_warnings, table
from precplan.units import format_bytes, format_count


def _flops(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"


def _title(p: Plan) -> str:
    if p.mode == "target-loss":
        what = "lifetime compute" if p.inference_tokens else "training compute"
        if p.gpu is not None:
            what = "lifetime GPU-hours" if p.inference_tokens else "training GPU-hours"
        return f"{p.law}: least {what} reaching loss {p.target_loss:g}"
    if p.mode == "budget" and p.budget_gpu_hours is not None:
        cluster = f" ({p.gpus} GPUs x {p.budget_gpu_hours / p.gpus / 24:.3g} days)" if p.gpus and p.wall_days is not None else ""
        return f"{p.law}: lowest-loss plan for {plain(p.budget_gpu_hours)} {(p.gpu or '').upper()} GPU-hours{cluster}"
    if p.mode == "budget":
        return f"{p.law}: lowest-loss plan for {p.budget:.3g} FLOPs (16-bit equivalent)"
    return f"{p.law}: best training precision for the given size and tokens"


def render_plan(p: Plan) -> None:
    """Headline (N*, D*, tokens/param, P*, loss and its decomposition), then comparisons."""
    out = console()
    d = p.decomposition
    from precplan.cli._spread import band

    u = p.uncertainty  # intervals over the law's coefficient samples (None: a point estimate)
    rows = [
        ("parameters N*", format_count(p.params) + band(u, "params", format_count)),
        ("training tokens D*", format_count(p.tokens) + band(u, "tokens", format_count)),
        ("tokens per parameter", plain(p.tokens_per_param) + band(u, "tokens_per_param", plain)),
        ("cost model", "hardware (the GPU's native formats at their dense peak)" if p.cost_model == "hardware" else "idealized: C = (6/16) N D P"),
        ("training precision P*", bits_text(p.bits) + _format_text(p) + band(u, "bits", bits_num)),
        ("[bold]predicted loss[/bold]", f"[bold]{fmt(p.loss)}{band(u, 'loss', fmt)}[/bold]"),
        ("  irreducible E", fmt(d.irreducible)),
        (f"  parameter term (N_eff = {d.effective_fraction:.1%} of N)", fmt(d.param_term)),
        ("  data term", fmt(d.data_term)),
    ]
    if p.inference_precision is not None:
        rows.append((f"  PTQ degradation at {bits_num(p.inference_precision)} bits", fmt(d.ptq_degradation)))
    rows.append(("training FLOPs (16-bit equiv.)", _flops(p.train_flops)))
    if p.inference_tokens:
        rows += [
            (f"inference FLOPs ({format_count(p.inference_tokens)} tokens at {bits_num(p.serve_bits)} bits)", _flops(p.inference_flops)),
            ("lifetime FLOPs", _flops(p.total_flops)),
        ]
    rows.append((f"weights memory at {bits_num(p.bits.weights)} bits", format_bytes(p.weights_memory_bytes)))
    if p.inference_precision is not None:
        rows.append((f"served weights at {bits_num(p.inference_precision)} bits", format_bytes(p.serve_memory_bytes)))
    if p.kv_cache_bytes is not None and (p.inference_tokens or p.gpu is None):
        rows.append(("KV cache (assumed shape, see notes)", format_bytes(p.kv_cache_bytes)))
    if p.gpu_cost is not None:
        g = p.gpu_cost
        rows.append((f"{g.gpu.upper()} GPU-hours: training", plain(g.train_gpu_hours)))
        if p.inference_tokens:
            rows += [(f"GPU-hours: inference (served in {g.serve_format})", plain(g.inference_gpu_hours)), ("GPU-hours: total", plain(g.total_gpu_hours))]
        if p.budget_gpu_hours is not None:
            rows.append(("GPU-hours budget", plain(p.budget_gpu_hours)))
        if g.wall_days is not None:
            rows.append((f"wall-clock days of training on {g.gpus} GPUs", f"{g.wall_days:.3g}"))
        rows.append(("cost in dollars", "- (give --price)" if g.total_dollars is None else f"${g.total_dollars:,.0f}" + (f" (training ${g.train_dollars:,.0f})" if p.inference_tokens else "")))
    out.print(f"[bold]{_title(p)}[/bold]")
    out.print(table("", ["", "plan" + (f" [{u['level']:.0%} interval]" if u else "")], rows))
    _hardware_options(p)
    _comparison(p)
    if p.without_ptq is not None:
        s = p.without_ptq
        rows = _size_rows(s, p) + [
            ("training precision", bits_text(s.bits), bits_text(p.bits)),
            (f"loss after PTQ to {bits_num(p.inference_precision)} bits", fmt(s.loss_after_ptq), fmt(p.loss)),
        ]
        out.print(f"How the optimum moves when PTQ to {bits_num(p.inference_precision)} bits is planned for:")
        out.print(table("", ["", "ignoring PTQ", "PTQ-aware"], rows))
    if p.reference is not None:
        r = p.reference
        rows = _size_rows(r, p) + [
            ("training FLOPs", _flops(r.train_flops), _flops(p.train_flops)),
            ("inference FLOPs", _flops(r.inference_flops), _flops(p.inference_flops)),
            ("lifetime FLOPs", _flops(r.total_flops), _flops(p.total_flops)),
        ]
        caption = f"inference-aware sizing saves {r.saved_flops:.3g} FLOPs ({r.saved_fraction:.1%}) over the model's life"
        if r.total_gpu_hours is not None and p.gpu_cost is not None:
            g = p.gpu_cost
            rows += [
                ("training GPU-hours", plain(r.train_gpu_hours), plain(g.train_gpu_hours)),
                ("inference GPU-hours", plain(r.inference_gpu_hours), plain(g.inference_gpu_hours)),
                ("lifetime GPU-hours", plain(r.total_gpu_hours), plain(g.total_gpu_hours)),
            ]
            caption = f"inference-aware sizing saves {plain(r.saved_gpu_hours)} {p.gpu.upper()} GPU-hours ({r.saved_fraction:.1%}) over the model's life"
        out.print("Same loss, training-optimal (inference-blind) vs inference-aware:")
        out.print(table("", ["", "training-optimal", "inference-aware"], rows, caption))
    _tail(p)


def _format_text(p: Plan) -> str:
    """`` (fp8-e4m3)``, or `` (emulated in fp8-e4m3)`` when the width has no native format."""
    if p.emulated and p.train_format:
        return f" (emulated in {p.train_format})"
    name = p.format or p.train_format
    return f" ({name})" if name else ""


def _hardware_options(p: Plan) -> None:
    """The best plan on each GPU of a --gpu list, the chosen one marked."""
    if not p.hardware_options:
        return
    rows = []
    for o in p.hardware_options:
        rows.append([("* " if o.chosen else "  ") + o.gpu, o.train_format or bits_text(o.bits), format_count(o.params), format_count(o.tokens),
                     fmt(o.loss), plain(o.gpu_hours), "-" if o.wall_days is None else f"{o.wall_days:.3g}",
                     "-" if o.dollars is None else f"${o.dollars:,.0f}"])
    console().print("The best plan on each GPU (* = chosen):")
    console().print(table("", ["GPU", "format", "N", "D", "loss", "GPU-hours", "days", "dollars"], rows))


def _size_rows(before, after) -> list[tuple[str, str, str]]:
    """Parameters, tokens and tokens per parameter of two plans, side by side."""
    return [
        ("parameters", format_count(before.params), format_count(after.params)),
        ("tokens", format_count(before.tokens), format_count(after.tokens)),
        ("tokens per parameter", plain(before.tokens_per_param), plain(after.tokens_per_param)),
    ]


def _comparison(p: Plan) -> None:
    if len({a.bits for a in p.comparison}) < 2:
        return  # nothing to compare (e.g. a law without precision terms)
    target = p.mode == "target-loss"
    laws = {a.law for a in p.comparison if a.law is not None}
    show_law = bool(len(laws) > 1 or laws - {p.law})  # say which law predicts a row once they differ
    rows = []
    for a in p.comparison:
        label = a.label
        if a.label.startswith("optimum"):
            label += f" ({p.format or bits_text(a.bits)})"
        row = [label] + ([a.law or "-"] if show_law else [])
        if not a.feasible:
            rows.append(row + ["infeasible", "-", "-", "-", "-"])
            continue
        last = f"{a.flops_ratio:.3f}x" if target else (f"+{a.loss_gap:.4f}" if a.loss_gap >= 0 else f"{a.loss_gap:.4f}")
        rows.append(row + [format_count(a.params), format_count(a.tokens), plain(a.tokens_per_param), fmt(a.loss) if not target else _flops(a.total_flops), last])
    what = "same target loss" if target else ("same budget" if p.mode == "budget" else "same limits")
    how = "the largest N that fits" if p.mode == "fixed" else "its own optimal N, D"
    hw = p.cost_model == "hardware"
    cost_col = "lifetime cost (bf16-rate FLOPs)" if hw else "lifetime FLOPs"
    cols = ["precision"] + (["law"] if show_law else []) + ["N", "D", "D/N", cost_col if target else "loss", ("cost vs P*" if hw else "FLOPs vs P*") if target else "loss gap to P*"]
    console().print(f"The {what} at other training precisions, each with {how}:")
    console().print(table("", cols, rows))


def _tail(p: Plan) -> None:
    notes = list(p.notes)
    if p.assumed:
        notes.append(f"this plan depends on ASSUMED constants no paper reports: {', '.join(p.assumed)} (see precplan laws show {p.law})")
    print_notes(notes)
    print_warnings(p.warnings)


def render_sweep(plans: list[Plan], warnings: list[str]) -> None:
    """One row per budget; ``warnings`` cover the whole sweep (composition, extrapolation)."""
    p0 = plans[0]
    lifetime = bool(p0.inference_tokens)
    # the 16-bit row (bf16, fp16 when formats were listed) is the baseline the gap is shown to
    i16 = next((i for i, a in enumerate(p0.comparison[:-1]) if a.bits.weights == a.bits.activations == a.bits.kv == 16), None)
    gap_col = [f"{p0.comparison[i16].label} loss gap"] if i16 is not None else []
    hours = p0.gpu_hours is not None
    cols = ["budget", "N*", "D*", "D/N", "P*", "loss"] + (["lifetime FLOPs"] if lifetime else []) + (["GPU-hours"] if hours else []) + gap_col
    rows = []
    for p in plans:
        row = [f"{p.budget:.3g}", format_count(p.params), format_count(p.tokens), plain(p.tokens_per_param), bits_text(p.bits) + _format_text(p), fmt(p.loss)]
        if lifetime:
            row.append(_flops(p.total_flops))
        if hours:
            row.append(plain(p.gpu_hours))
        if i16 is not None:
            gap = p.comparison[i16].loss_gap
            row.append("-" if gap is None else f"+{gap:.4f}")
        rows.append(row)
    console().print(f"[bold]{p0.law}: lowest-loss plan per budget (16-bit-equivalent FLOPs)[/bold]")
    console().print(table("", cols, rows))
    notes = list(dict.fromkeys(n for p in plans for n in p.notes))
    if p0.assumed:
        notes.append(f"these plans depend on ASSUMED constants no paper reports: {', '.join(p0.assumed)}")
    print_notes(notes)
    print_warnings(warnings)


CSV_COLUMNS = (
    "budget", "target_loss", "params", "tokens", "tokens_per_param", "bits_weights", "bits_activations", "bits_kv",
    "cost_bits", "loss", "irreducible", "param_term", "data_term", "ptq_degradation", "inference_precision",
    "inference_tokens", "train_flops", "inference_flops", "total_flops", "weights_memory_bytes", "gpu_hours", "dollars",
    "cost_model", "gpu", "gpus", "train_format", "emulated", "wall_days", "serve_format", "kv_cache_bytes",
)


def csv_text(plans: list[Plan]) -> str:
    """The plans as CSV, one row per plan."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for p in plans:
        d = p.decomposition
        writer.writerow([
            "" if p.budget is None else repr(p.budget), "" if p.target_loss is None else repr(p.target_loss),
            repr(p.params), repr(p.tokens), repr(p.tokens_per_param), repr(p.bits.weights), repr(p.bits.activations), repr(p.bits.kv),
            repr(p.cost_bits), repr(p.loss), repr(d.irreducible), repr(d.param_term), repr(d.data_term), repr(d.ptq_degradation),
            "" if p.inference_precision is None else repr(p.inference_precision), repr(p.inference_tokens),
            repr(p.train_flops), repr(p.inference_flops), repr(p.total_flops), repr(p.weights_memory_bytes),
            "" if p.gpu_hours is None else repr(p.gpu_hours), "" if p.dollars is None else repr(p.dollars),
            p.cost_model, p.gpu or "", "" if p.gpus is None else p.gpus, p.train_format or "", "true" if p.emulated else "false",
            "" if p.wall_days is None else repr(p.wall_days), p.serve_format or "", "" if p.kv_cache_bytes is None else repr(p.kv_cache_bytes),
        ])
    return buf.getvalue()


def write_csv(plans: list[Plan], path: str) -> None:
    """CSV to stdout (``-``) or atomically to a file."""
    import sys

    from precplan.io import atomic_write_text

    text = csv_text(plans)
    if path == "-":
        sys.stdout.write(text)
    else:
        atomic_write_text(path, text)
