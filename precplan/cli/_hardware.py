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


@app.command("list")
@handle_errors
def list_hardware(hardware: Optional[str] = HardwareOpt, json_out: bool = JsonOpt) -> None:
    """List the GPUs in the catalog."""
    from precplan.cli._render import console, print_json, print_notes, table
    from precplan.hardware import load_catalog

    cat = load_catalog(hardware)
    if json_out:
        print_json([gpu_mapping(g) for g in cat.gpus.values()])
        return
    rows = []
    for g in cat.gpus.values():
        peaks = ", ".join(f"{f.name} {_peak(f.flops)}" + ("" if f.native else " (not faster)") for f in g.formats.values())
        rows.append((g.id, g.name, f"{g.memory_bytes / 2**30:.1f}GiB", f"{g.bandwidth / 1e12:.2f}TB/s", ", ".join(f.name for f in g.training_formats()), peaks))
    console().print(table("Hardware catalog (use with --gpu NAME)", ["id", "name", "memory", "bandwidth", "trains in", "dense peak FLOP/s"], rows))
    print_notes([f"catalog: {cat.origin}; every number's source: precplan hardware show NAME"])


@app.command("show")
@handle_errors
def show_hardware(
    name: str = typer.Argument(..., help="A GPU id or alias (h100, b200, mi300x, tpu-v5p), or N x one (2xh100)."),
    hardware: Optional[str] = HardwareOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Show one GPU: each format's dense peak, memory and bandwidth, with sources."""
    from precplan.cli._render import console, print_json, print_notes, table
    from precplan.hardware import load_catalog

    g = load_catalog(hardware).get(name)
    if json_out:
        print_json(gpu_mapping(g))
        return
    out = console()
    out.print(f"[bold]{g.id}[/bold]: {g.label}" + (f"    aliases: {', '.join(g.aliases)}" if g.aliases else ""))
    training = {"bf16", "fp16", "fp8", "fp6", "fp4"}
    rows = []
    for f in g.formats.values():
        use = "train + serve" if f.native and f.name in training else ("serve" if f.native and f.name in ("int8", "int4") else ("not faster" if not f.native else "-"))
        rows.append((f.name, f"{f.bits:g}", _peak(f.flops), use, f.source, f.note))
    out.print(table("native formats (dense peak, per card)", ["format", "bits", "FLOP/s", "use", "source", "note"], rows))
    mem = [
        ("memory", f"{g.total_memory:,.0f} B = {g.total_memory / 2**30:.2f}GiB = {g.total_memory / 1e9:.2f}GB", g.memory_source, g.memory_note),
        ("bandwidth", f"{g.bandwidth / 1e12:.3g}TB/s" + (" per card" if g.count > 1 else ""), g.bandwidth_source, ""),
    ]
    out.print(table("memory", ["", "value", "source", "note"], mem))
    if g.unsupported:
        out.print(table("not native (and why)", ["format", "why"], list(g.unsupported.items())))
    print_notes(["dense = without 2:4 sparsity; FLOP/s for float formats, OP/s for integers"])


def register(root: typer.Typer) -> None:
    """Add the ``hardware`` command group to the app."""
    root.add_typer(app, name="hardware")
