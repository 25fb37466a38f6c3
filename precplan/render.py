"""Renderers shared by every command: JSON for scripts, rich tables for people.

Result objects are plain dataclasses; :func:`to_jsonable` turns them (and numpy values) into
JSON-ready data. Nothing here computes law math.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from typing import Any, Iterable, Sequence

import numpy as np


def to_jsonable(obj: Any) -> Any:
    """Dataclasses, mappings, sequences and numpy values -> JSON-ready Python data.
    Non-finite floats become ``null`` (JSON has no NaN/inf)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj) if not f.name.startswith("_")}
    if isinstance(obj, dict) or hasattr(obj, "items"):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return [to_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def print_json(obj: Any) -> None:
    """Write ``obj`` as indented JSON to stdout."""
    sys.stdout.write(json.dumps(to_jsonable(obj), indent=2) + "\n")


def console(stderr: bool = False):  # -> rich.console.Console
    """A rich console (imported lazily: rich costs start-up time)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], caption: str | None = None):
    """A rich table with right-aligned numeric columns, its title on a line of its own above it
    (a title inside a rich table would wrap at the table's width)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    rows = [[str(c) for c in row] for row in rows]
    t = Table(caption=caption, caption_justify="left")
    for i, col in enumerate(columns):
        numeric = i > 0 and all(_looks_numeric(r[i]) for r in rows if i < len(r))
        t.add_column(col, justify="right" if numeric else "left")
    for row in rows:
        t.add_row(*row)
    return Group(Text.from_markup(title, style="italic"), t) if title else t


def _looks_numeric(cell: str) -> bool:
    """A table cell that reads as a number (possibly marked up, suffixed or signed)."""
    import re

    plain = re.sub(r"\[/?[a-z ]*\]", "", cell).strip()
    return plain in ("", "-") or re.fullmatch(r"[-+]?[\d.,]+(e[-+]?\d+)?\s*[%KMBTPEx]?[A-Za-z]{0,3}( ± .*)?", plain) is not None


def print_warnings(warnings: Iterable[str]) -> None:
    """Warnings in yellow on stderr (so stdout stays clean for scripts)."""
    out = console(stderr=True)
    for w in warnings:
        out.print(f"[yellow]warning:[/yellow] {w}", markup=True, highlight=False)


def print_notes(notes: Iterable[str]) -> None:
    """Notes (assumptions, format mappings) dimmed, on stdout after the result."""
    out = console()
    for n in notes:
        out.print(f"[dim]note: {n}[/dim]")


def fmt(value: float, digits: int = 4) -> str:
    """A number for a table cell: fixed for ordinary magnitudes, scientific otherwise."""
    v = float(value)
    if not math.isfinite(v):
        return "-" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if v == 0 or 1e-3 <= abs(v) < 1e5:
        return f"{v:.{digits}f}"
    return f"{v:.{max(digits - 1, 2)}e}"
