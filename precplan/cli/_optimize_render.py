"""Renderers for ``precplan optimize``: rich tables for people, CSV for spreadsheets."""

from __future__ import annotations

from precplan.optimize import Plan, Sweep
from precplan.precision import Bits
from precplan.cli._render import bits_num, bits_text, console, fmt, plain, print_notes, print_warnings, table
from precplan.units import format_bytes, format_count

__all__ = ["TABLE_ROWS", "bits_num", "plain", "render_plan", "render_sweep"]


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


def render_plan(p: Plan, quiet: bool = False) -> None:
    """The verdict first; then the headline (N*, D*, tokens/param, P*, loss and its
    decomposition, memory), the comparisons and the notes, each said once. ``quiet``: the
    verdict and the key numbers only."""
    out = console()
    if p.verdict:
        out.print(f"[bold]{p.verdict}[/bold]", soft_wrap=False, highlight=False)
    if quiet:
        out.print(table("", ["", "plan"], _key_rows(p)))
        return
    d = p.decomposition
    from precplan.cli._spread import band

    u = p.uncertainty  # intervals over the law's coefficient samples (None: a point estimate)
    rows = [
        ("parameters N*", format_count(p.params) + band(u, "params", format_count)),
        ("training tokens D*", format_count(p.tokens) + band(u, "tokens", format_count)),
        ("tokens per parameter", plain(p.tokens_per_param) + band(u, "tokens_per_param", plain)),
        ("cost model", "hardware (native formats at their speedup over bf16)" if p.cost_model == "hardware" else "idealized: C = (6/16) N D P"),
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
    rows += _gpu_rows(p) + _memory_rows(p)
    out.print(f"[bold]{_title(p)}[/bold]")
    out.print(table("", ["", "plan" + (f" [{u['level']:.0%} interval]" if u else "")], rows))
    _hardware_options(p)
    _comparison(p)
    _without_ptq(p)
    _reference(p)
    _tail(p)


def _key_rows(p: Plan) -> list[tuple[str, str]]:
    """The numbers ``--quiet`` keeps: N, D, D/N, format, loss, cost, memory."""
    rows = [("parameters N*", format_count(p.params)), ("training tokens D*", format_count(p.tokens)),
            ("tokens per parameter", plain(p.tokens_per_param)), ("training precision", bits_text(p.bits) + _format_text(p)),
            ("predicted loss", fmt(p.loss))]
    if p.gpu_cost is not None:
        rows.append(("GPU-hours: total", plain(p.gpu_cost.total_gpu_hours)))
    else:
        rows.append(("lifetime FLOPs", _flops(p.total_flops)))
    return rows + _memory_rows(p)


def _memory_rows(p: Plan) -> list[tuple[str, str]]:
    """Training memory per GPU (ZeRO-3), the fewest GPUs, one serving replica (see notes)."""
    rows: list[tuple[str, str]] = []
    t, s = p.training_memory, p.serving_replica
    if t is not None:
        rows.append(("training states (16 B/param, ZeRO-3)", format_bytes(t.state_bytes)))
        if t.total_bytes_per_gpu is not None:
            fits = "" if t.fits is None else (" (fits)" if t.fits else " (does NOT fit)")
            rows.append((f"training memory per GPU ({t.gpus} GPUs)", format_bytes(t.total_bytes_per_gpu) + fits))
        if t.min_gpus is not None:
            rows.append(("fewest GPUs that hold the training", f"{t.min_gpus:,}"))
    if s is not None and (s.kv_cache_bytes or p.inference_tokens or p.gpu is not None):
        rows.append((f"serving replica (weights + KV, GQA {s.gqa:g})", format_bytes(s.total_bytes)))
        if s.gpus_per_replica is not None:
            rows.append(("GPUs per serving replica", f"{s.gpus_per_replica}"))
    return rows


def _gpu_rows(p: Plan) -> list[tuple[str, str]]:
    """GPU-hours, the budget, wall-clock days and dollars of a plan on a GPU (none without one)."""
    rows: list[tuple[str, str]] = []
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
    return rows


def _without_ptq(p: Plan) -> None:
    """How the optimum moves when post-training quantization is planned for."""
    out = console()
    if p.without_ptq is not None:
        s = p.without_ptq
        rows = _size_rows(s, p) + [
            ("training precision", bits_text(s.bits), bits_text(p.bits)),
            (f"loss after PTQ to {bits_num(p.inference_precision)} bits", fmt(s.loss_after_ptq), fmt(p.loss)),
        ]
        out.print(f"How the optimum moves when PTQ to {bits_num(p.inference_precision)} bits is planned for:")
        out.print(table("", ["", "ignoring PTQ", "PTQ-aware"], rows))


def _reference(p: Plan) -> None:
    """The training-optimal plan at the same loss beside the inference-aware one."""
    out = console()
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
        if a.label.startswith("optimum") or a.label == "given precision":
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
    ref = "plan" if any(a.label == "given precision" for a in p.comparison) else "P*"  # a fixed precision is no optimum
    cols = ["precision"] + (["law"] if show_law else []) + ["N", "D", "D/N", cost_col if target else "loss", (f"cost vs {ref}" if hw else f"FLOPs vs {ref}") if target else f"loss gap to {ref}"]
    console().print(f"The {what} at other training precisions, each with {how}:")
    console().print(table("", cols, rows))


def _tail(p: Plan) -> None:
    from precplan.optimize import condensed

    notes, warnings = condensed(p)
    if p.training_memory is not None:
        notes.append(f"training memory: {p.training_memory.assumption}")
    if p.assumed:
        notes.append(f"this plan depends on ASSUMED constants no paper reports: {', '.join(p.assumed)} (see precplan laws show {p.law})")
    print_notes(notes)
    print_warnings(warnings)


TABLE_ROWS = 60  # a sweep table shows at most this many budgets (evenly spaced); --csv and --json have all


def render_sweep(sweep: Sweep) -> None:
    """One row per budget (at most :data:`TABLE_ROWS`, evenly spaced, first and last included),
    then the sweep's notes and warnings once."""
    import numpy as np

    from precplan.cli._spread import band

    console().print(f"[bold]{sweep.verdict}[/bold]", highlight=False)
    n = sweep.count
    shown = np.unique(np.linspace(0, n - 1, min(n, TABLE_ROWS)).round().astype(int))
    lifetime = bool(sweep.inference_tokens)
    # the 16-bit row (bf16, fp16 when formats were listed) is the baseline the gap is shown to
    c16 = next((c for c in sweep.compared if c.bits == 16), None)
    hours = sweep.gpu_hours
    cols = ["budget", "N*", "D*", "D/N", "P*", "loss"] + (["lifetime FLOPs"] if lifetime else []) + (["GPU-hours"] if hours is not None else [])
    cols += [f"{c16.label} loss gap"] if c16 is not None else []
    names = _format_cells(sweep)
    rows = []
    for i in shown.tolist():
        u = sweep.uncertainty[i] if sweep.uncertainty else None  # intervals over the law's samples
        row = [f"{sweep.budget[i]:.3g}", format_count(sweep.params[i]) + band(u, "params", format_count),
               format_count(sweep.tokens[i]) + band(u, "tokens", format_count), plain(sweep.tokens[i] / sweep.params[i]),
               bits_text(Bits(*sweep.bits[i].tolist())) + names[i], fmt(sweep.loss[i]) + band(u, "loss", fmt)]
        if lifetime:
            row.append(_flops(sweep.train_flops[i] + sweep.inference_flops[i]))
        if hours is not None:
            row.append(plain(hours[i]))
        if c16 is not None:
            gap = c16.loss[i] - sweep.loss[i]
            row.append(f"+{gap:.4f}" if np.isfinite(gap) else "-")
        rows.append(row)
    parts = [] if shown.size == n else [f"{shown.size} of {n:,} budgets shown, evenly spaced; --csv FILE or --json has every one"]
    levels = {u["level"] for u in sweep.uncertainty or () if u}
    if levels:
        parts.append(f"\\[lo, hi]: central {levels.pop():.0%} interval over the law's coefficient samples")
    caption = "; ".join(parts) or None
    console().print(f"[bold]{sweep.family.id}: lowest-loss plan per budget (16-bit-equivalent FLOPs)[/bold]")
    console().print(table("", cols, rows, caption))
    from precplan.optimize import condensed

    notes, warnings = condensed(sweep)
    if sweep.assumed:
        notes.append(f"these plans depend on ASSUMED constants no paper reports: {', '.join(sweep.assumed)}")
    print_notes(notes)
    print_warnings(warnings)


def _format_cells(sweep: Sweep) -> list[str]:
    """`` (fp8-e4m3)`` / `` (emulated in fp8-e4m3)`` per plan, as :func:`_format_text` says it."""
    if sweep.gpu_cost is not None:
        return [f" (emulated in {g.train_format})" if g.emulated else f" ({g.train_format})" for g in sweep.gpu_cost]
    if sweep.formats is None:
        return [""] * sweep.count
    return [f" ({sweep.formats[k]})" for k in sweep.index.tolist()]
