"""Renderers of a :class:`ValidationReport`: terminal tables, ``report.md`` and ``report.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Sequence

from precplan.io import atomic_write_text
from precplan.cli._render import bits_triple, fmt
from precplan.io import to_jsonable
from precplan.laws import law_to_mapping
from precplan.units import format_count
from precplan.validate import ValidationReport

__all__ = ["KIND_LABEL", "header", "markdown", "print_report", "report_json", "tables", "write_report"]

KIND_LABEL = {"16-bit": "16-bit (base fit)", "quantized": "quantized training", "ptq": "post-training quantization", "all": "all"}


Table = tuple[str, list[str], list[list[str]], str | None]  # title, columns, rows, caption under it


def tables(r: ValidationReport, max_rows: int | None = None, ptq_rows: bool = True) -> list[Table]:
    """The report as (title, columns, rows, caption) tables, shared by the terminal and markdown
    renderers. ``max_rows`` and ``ptq_rows=False`` shorten the per-run table (the terminal's)."""
    out = format_tables(r.formats)
    out += _fit_tables(r, max_rows, ptq_rows)
    out += _seed_and_claim_tables(r)
    return out


def _fit_tables(r: ValidationReport, max_rows: int | None, ptq_rows: bool) -> list[Table]:
    """The base fit, measured vs predicted by kind and per run, the constants and the unidentified ones."""
    out: list[Table] = []
    mark = " *" if r.ptq_note else ""  # the PTQ rows carry a caveat, printed under their table
    ptq_caption = f"* {r.ptq_note}" if r.ptq_note else None
    if r.base:
        c = r.base["coefficients"]
        out.append((f"Base law fitted on the {r.base['runs']} 16-bit runs (Hoffmann et al. 2022 procedure)",
                    ["E", "A", "B", "alpha", "beta", "R^2"],
                    [[fmt(c["E"]), fmt(c["A"]), fmt(c["B"]), fmt(c["alpha"]), fmt(c["beta"]), fmt(r.base["r2"])]], None))
    if r.quality:
        rows = [[KIND_LABEL.get(k, k) + (mark if k == "ptq" else ""), str(int(q["n"])), fmt(q["r2"]),
                 f"{100 * q['mean_abs_rel_error']:.2f}%", f"{100 * q['max_abs_rel_error']:.2f}%", f"{q['mean_error']:+.4f}"]
                for k, q in r.quality.items()]
        out.append((f"Measured vs predicted ({r.law} precision/PTQ terms on the fitted base)",
                    ["runs", "n", "R^2", "mean |rel err|", "max |rel err|", "mean error"], rows,
                    ptq_caption if "ptq" in r.quality else None))
    comps = [c for c in r.comparisons if ptq_rows or c.kind != "ptq"]
    shown = comps if max_rows is None else comps[:max_rows]
    rows = [[c.kind, format_count(c.params), format_count(c.tokens), bits_triple(c.weight_bits, c.activation_bits, c.kv_bits)]
            + ([("-" if c.post_bits is None else str(c.post_bits))] if ptq_rows else [])
            + [fmt(c.measured), fmt(c.predicted), "-" if c.error is None else f"{c.error:+.4f}",
               "-" if c.rel_error is None else f"{100 * c.rel_error:+.2f}%"] for c in shown]
    title = "Every run: measured vs predicted loss (nats/token)" + _shown(len(shown), len(comps), len(r.comparisons))
    cols = ["kind", "N", "D", "w/a/kv bits"] + (["PTQ bits"] if ptq_rows else []) + ["measured", "predicted", "error", "rel"]
    if r.comparisons or not r.formats:
        out.append((title, cols, rows, ptq_caption if any(c.kind == "ptq" for c in shown) else None))
    if r.constants:
        out.append((f"Precision and PTQ constants: {r.law} beside a refit on these runs (base fixed)",
                    ["constant", r.law, "refit", "source of refit value"],
                    [[k.name, fmt(k.law), fmt(k.fitted), k.source] for k in r.constants], None))
    if r.unidentified:
        out.append(("Refitted constants these runs cannot identify (do not quote them)", ["operand", "constants", "why"],
                    [[u["operand"], ", ".join(f"{k} = {fmt(v)}" for k, v in u["values"].items()), u["reason"]]
                     for u in r.unidentified], None))
    return out


def _seed_and_claim_tables(r: ValidationReport) -> list[Table]:
    """The seed noise, the paper's claims, and the details of the N_eff and PTQ-damage claims."""
    out: list[Table] = []
    if r.seeds and r.seeds["pooled_sd"] is not None:
        sd = r.seeds["pooled_sd"]
        out.append((f"Seed noise: {r.seeds['seeds_min']}-{r.seeds['seeds_max']} seeds per configuration, pooled sd"
                    f" {sd:.4f} nats ({r.seeds['pooled_df']} degrees of freedom)",
                    ["N", "D", "w/a/kv bits", "seeds", "mean loss", "sd"],
                    [[format_count(x["params"]), format_count(x["tokens"]), "/".join(map(str, x["bits"])), str(x["seeds"]),
                      fmt(x["mean_loss"]), fmt(x["sd"], 3)] for x in r.seeds["rows"]],
                    f"An effect is 'not resolved' when it is within {r.seeds['resolve_sigmas']:g} standard errors of the"
                    " seed noise (pooled sd x sqrt(1/n1 + 1/n2) for a difference of means over n1 and n2 seeds)."))
    if r.claims:
        out.append(("The paper's claims on this data", ["claim", "verdict", "evidence"],
                    [[c.claim, c.verdict, c.evidence] for c in r.claims], None))
    eff = next((c for c in r.claims if c.claim.startswith("Lower training precision")), None)
    if eff and eff.details:
        out.append(("Effective parameters of weight-quantized runs (N_eff / N; losses are means over seeds)",
                    ["N", "D", "w bits", "seeds", "loss", "16-bit loss", "measured", r.law, "refit"],
                    [[format_count(d["params"]), format_count(d["tokens"]), str(d["weight_bits"]), str(d.get("seeds", 1)),
                      fmt(d["loss"]), fmt(d["loss_16"]),
                      "not resolved" if d.get("resolved") is False else fmt(d.get("n_eff_fraction"), 3),
                      fmt(d.get("law_fraction"), 3), fmt(d.get("refit_fraction"), 3)] for d in eff.details], None))
    ptq = next((c for c in r.claims if c.claim.startswith("PTQ damage")), None)
    if ptq and ptq.details:
        out.append(("PTQ degradation (post-PTQ loss minus loss) against D, 16-bit-trained runs",
                    ["N", "PTQ bits", "D", "degradation", "rises with D"],
                    [[format_count(d["params"]), str(d["post_bits"]), ", ".join(format_count(t) for t in d["tokens"]),
                      ", ".join(f"{x:.4f}" for x in d["degradation"]),
                      "not resolved" if d.get("resolved") is False else ("yes" if d["rises"] else "no")] for d in ptq.details],
                    None))
    return out


def format_tables(formats: dict[str, Any] | None) -> list[Table]:
    """One table per (N, D) of training-format runs: loss and gap to bf16 (empty without format runs)."""
    if not formats:
        return []
    out: list[Table] = []
    points = sorted({(x["params"], x["tokens"]) for x in formats["rows"]})
    sd = formats["pooled_sd"]
    caption = (f"gap = mean loss - bf16's; rel = gap / bf16's loss; 'noise?' says whether the gap exceeds"
               f" {formats['resolve_sigmas']:g} standard errors of the seed noise (pooled sd {sd:.4f} nats)"
               if sd is not None else "gap = mean loss - bf16's; rel = gap / bf16's loss; one seed each: the seed noise"
               " is not measured (--seeds 2 or more)")
    for n_, d_ in points:
        rows = [[x["label"], str(x["element_bits"]), str(x["seeds"]), fmt(x["mean_loss"]),
                 "-" if x["sd"] is None else f"{x['sd']:.4f}", "-" if x["gap"] is None else f"{x['gap']:+.4f}",
                 "-" if x["rel_gap"] is None else f"{100 * x['rel_gap']:+.2f}%",
                 {None: "-", True: "resolved", False: "within"}[x["resolved"]] + (f", {x['diverged']} diverged" if x["diverged"] else "")]
                for x in formats["rows"] if (x["params"], x["tokens"]) == (n_, d_)]
        out.append((f"Training formats at N = {format_count(n_)}, D = {format_count(d_)}: loss vs bf16 (nats/token,"
                    " means over seeds)", ["format", "bits", "seeds", "loss", "sd", "gap", "rel", "noise?"], rows, caption))
    return out


def _shown(shown: int, kept: int, total: int) -> str:
    """What the per-run table holds when it is not every comparison: ``kept`` rows pass the
    PTQ filter (all ``total`` without it), of which the first ``shown`` are printed."""
    if shown == total:
        return ""
    parts = [f"first {shown} of {kept}" if shown < kept else f"all {kept}"]
    parts[0] += " training-loss rows" if kept < total else " rows"
    if kept < total:
        parts.append(f"none of the {total - kept} PTQ rows")
    return f" ({', '.join(parts)}; all {total} in report.md)"


def header(r: ValidationReport) -> list[str]:
    return [
        f"law: {r.law}; runs: {r.runs} ({len(r.diverged)} diverged); presets: {', '.join(r.presets)}",
        f"data: {'; '.join(r.data)}",
        f"device: {'; '.join(r.devices)}",
    ]


def print_report(r: ValidationReport, max_rows: int = 40) -> None:
    from precplan.cli._render import console, print_notes, print_warnings, table

    out = console()
    if r.formats:
        out.print(r.formats["verdict"], style="bold", soft_wrap=True)
    for line in header(r):
        out.print(line)
    for title, cols, rows, caption in tables(r, max_rows, ptq_rows=False):
        out.print(table(title, cols, rows))
        if caption:
            out.print(caption, style="yellow")
    print_notes(r.notes)
    print_warnings(r.warnings)


def _md_table(cols: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    esc = lambda s: str(s).replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(esc(c) for c in cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(r: ValidationReport, command: str | None = None, summary: Any = None) -> str:
    parts = ["# precplan validate: report", ""]
    if command:
        parts += [f"Command: `{command}`", ""]
    if r.formats:
        parts += [f"**{r.formats['verdict']}**", ""]
    parts += [f"- {line}" for line in header(r)]
    if summary is not None:
        parts.append(f"- sweep: ran {summary.ran}, skipped {summary.skipped} finished, {summary.diverged} diverged,"
                     f" {summary.wall_s:.0f} s wall")
        parts += [f"- {line}" for line in getattr(summary, "failures", [])]  # failed runs: one line per cause
    parts.append("")
    for title, cols, rows, caption in tables(r):
        parts += [f"## {title}", "", _md_table(cols, rows), ""] + ([caption, ""] if caption else [])
    for label, items in (("Notes", r.notes), ("Warnings", r.warnings)):
        if items:
            parts += [f"## {label}", ""] + [f"- {x}" for x in items] + [""]
    return "\n".join(parts)


def report_json(r: ValidationReport, summary: Any = None) -> dict[str, Any]:
    data = to_jsonable(r)
    if r.refit and r.refit.get("law") is not None:
        data["refit"]["law"] = law_to_mapping(r.refit["law"])
    if summary is not None:
        data["sweep"] = to_jsonable(summary)
    return data


def write_report(out_dir: str | Path, r: ValidationReport, command: str | None = None, summary: Any = None) -> list[Path]:
    """``report.md`` and ``report.json`` in ``out_dir``, written atomically."""
    import json

    d = Path(out_dir)
    return [
        atomic_write_text(d / "report.md", markdown(r, command, summary)),
        atomic_write_text(d / "report.json", json.dumps(report_json(r, summary), indent=2) + "\n"),
    ]
