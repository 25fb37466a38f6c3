"""``precplan hardware list`` and ``precplan hardware show NAME``: the hardware catalog."""

from __future__ import annotations

from typing import Optional

import typer

from precplan.cli._common import JsonOpt, handle_errors

__all__ = ["gpu_mapping", "list_hardware", "register", "show_hardware"]

app = typer.Typer(help="The hardware catalog: GPUs, native formats, peak throughput, memory and bandwidth, with sources.", no_args_is_help=True)
HardwareOpt = typer.Option(None, "--hardware", help="A hardware catalog YAML file to use instead of the bundled one.")


def _peak(x: float) -> str:
    return f"{x / 1e12:,.1f}T"


def gpu_mapping(g) -> dict:
    """One GPU as JSON-ready data (every number with its source)."""
    return {
        "id": g.id, "name": g.name, "aliases": list(g.aliases), "count": g.count,
        "memory_bytes": g.memory_bytes, "memory_gib": g.memory_bytes / 2**30, "memory_source": g.memory_source, "memory_note": g.memory_note,
        "bandwidth_bytes_per_s": g.bandwidth, "bandwidth_source": g.bandwidth_source,
        "formats": {k: {"bits": f.bits, "flops": f.flops, "native": f.native, "precision": f.precision.name, "source": f.source, "note": f.note}
                    for k, f in g.formats.items()},
        "training_formats": [f.name for f in g.training_formats()],
        "unsupported": dict(g.unsupported),
    }


LIST_FORMATS = ("bf16", "fp8", "fp6", "fp4", "int8", "int4")


def _pflops(f) -> str:
    """A dense peak in PFLOP/s (POP/s for integers); in parentheses where it runs no faster than a wider format."""
    if f is None:
        return "-"
    text = f"{f.flops / 1e15:.3g}"
    return text if f.native else f"({text})"


@app.command("list")
@handle_errors
def list_hardware(hardware: Optional[str] = HardwareOpt, json_out: bool = JsonOpt) -> None:
    """List the GPUs in the catalog: one line each."""
    from precplan.cli._footnotes import whole_table
    from precplan.cli._render import console, print_json, print_notes
    from precplan.hardware import load_catalog

    cat = load_catalog(hardware)
    if json_out:
        print_json([gpu_mapping(g) for g in cat.gpus.values()])
        return
    rows = [
        (g.id, f"{g.memory_bytes / 2**30:.1f}", f"{g.bandwidth / 1e12:.2f}", *(_pflops(g.formats.get(k)) for k in LIST_FORMATS))
        for g in cat.gpus.values()
    ]
    cols = ["id", "GiB", "TB/s", *LIST_FORMATS]
    console().print(whole_table("Hardware catalog: dense peak PFLOP/s per card (use with --gpu ID)", cols, rows))
    print_notes([
        "(x): accepted, but no faster than a wider format; -: not native. Names, sources, tf32 and every"
        f" digit: precplan hardware show ID. Catalog: {cat.origin}",
    ])


@app.command("show")
@handle_errors
def show_hardware(
    name: str = typer.Argument(..., help="A GPU id or alias (h100, b200, mi300x, tpu-v5p), or N x one (2xh100)."),
    hardware: Optional[str] = HardwareOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Show one GPU: each format's dense peak, memory and bandwidth, with sources (one line each, sources as footnotes)."""
    from precplan.cli._footnotes import Footnotes, whole_table
    from precplan.cli._render import console, print_json, print_notes
    from precplan.hardware import load_catalog

    g = load_catalog(hardware).get(name)
    if json_out:
        print_json(gpu_mapping(g))
        return
    out, notes = console(), Footnotes()
    out.print(f"[bold]{g.id}[/bold]: {g.label}" + (f" (aliases: {', '.join(g.aliases)})" if g.aliases else ""), soft_wrap=True)
    rows = [(f.name, f"{f.bits:g}", _peak(f.flops), _use(f), notes.mark(f.source, f.note)) for f in g.formats.values()]
    per = " per card" if g.count > 1 else ""
    rows += [
        ("memory", "", f"{g.total_memory / 2**30:,.2f}GiB", f"{g.total_memory:,.0f} B", notes.mark(g.memory_source, g.memory_note)),
        ("bandwidth", "", f"{g.bandwidth / 1e12:.3g}TB/s", per.strip() or "-", notes.mark(g.bandwidth_source)),
    ]
    out.print(whole_table("dense peak FLOP/s (OP/s for integers), memory and bandwidth", ["", "bits", "value", "use", "source"], rows))
    notes.print("sources:")
    if g.unsupported:
        out.print("not native: " + "; ".join(f"{k}: {v}" for k, v in g.unsupported.items()), markup=False, soft_wrap=True)
    print_notes(["dense = without 2:4 sparsity"])


def _use(f) -> str:
    if not f.native:
        return "not faster"
    if f.name in {"bf16", "fp16", "fp8", "fp6", "fp4"}:
        return "train + serve"
    return "serve" if f.name in ("int8", "int4") else "-"


def register(root: typer.Typer) -> None:
    """Add the ``hardware`` command group to the app."""
    root.add_typer(app, name="hardware")
