"""Renderers shared by every command: JSON for scripts, rich tables for people, and the
table-cell formatters. Result objects are plain dataclasses (:func:`precplan.io.to_jsonable`
turns them into JSON-ready data). Nothing here computes law math."""

from __future__ import annotations

import json
import math
import sys
from typing import Any, Iterable, Sequence

from precplan.io import to_jsonable

__all__ = [
    "MIN_WIDTH", "ROWS_PER_WRITE", "bits_num", "bits_text", "bits_triple", "console", "csv_table", "fmt", "json_cells",
    "json_texts", "pct", "plain", "print_json", "print_notes", "print_warnings", "table", "write_json_table",
]


def print_json(obj: Any) -> None:
    """Write ``obj`` as indented JSON to stdout (library argument names in its text as flags)."""
    sys.stdout.write(json.dumps(as_flags(to_jsonable(obj)), indent=2) + "\n")


def as_flags(doc: Any) -> Any:
    """JSON-ready data with every text's `argument` named by its flag (notes, warnings, reasons)."""
    from precplan.cli._flags import cli_message

    if isinstance(doc, str):
        return cli_message(doc) if "`" in doc else doc
    if isinstance(doc, list):
        return [as_flags(x) for x in doc]
    if isinstance(doc, dict):
        return {k: as_flags(v) for k, v in doc.items()}
    return doc


def json_cells(values: Any) -> list[Any]:
    """One column as JSON-ready cells: numbers as floats (NaN and infinities as null), text and
    booleans as they are."""
    import numpy as np

    if isinstance(values, np.ndarray):
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            return np.where(np.isfinite(values), values, None).tolist()
        return values.tolist()
    return list(values)


ROWS_PER_WRITE = 1000  # JSON rows serialized per write: output memory stays bounded


def json_texts(values: Any) -> list[str]:
    """One column as JSON text per cell, encoded once per column: floats as ``repr`` (what
    :mod:`json` writes), NaN and infinities as ``null``, booleans ``true``/``false``, text quoted."""
    import numpy as np

    if isinstance(values, np.ndarray) and values.dtype.kind == "f":
        finite = np.isfinite(values)
        if values.size and (not finite.any() or (finite.all() and (values == values.flat[0]).all())):
            one = float.__repr__(float(values.flat[0])) if finite.any() else "null"
            return [one] * values.size  # a constant column (bits, E, a null): encoded once
        cells = values.tolist()
        if finite.all():
            return list(map(float.__repr__, cells))
        return [float.__repr__(x) if math.isfinite(x) else "null" for x in cells]
    if isinstance(values, np.ndarray) and values.dtype.kind == "b":
        return ["true" if x else "false" for x in values.tolist()]
    cache: dict[Any, str] = {}  # few distinct values (text, flags): encode each once
    return [cache[x] if x in cache else cache.setdefault(x, json.dumps(to_jsonable(x))) for x in json_cells(values)]


def write_json_table(header: dict[str, Any], columns: dict[str, Any], columnar: bool) -> None:
    """A table as JSON on stdout: ``header`` (notes, warnings, ...), then either ``"columns"``
    (name -> list of values, ``columnar``) or ``"rows"`` (one object per row, one per line, written
    in blocks so a large table never sits in memory twice)."""
    out = sys.stdout
    names = list(columns)
    head = json.dumps(as_flags(to_jsonable(header)), indent=2)[:-2]
    texts = [json_texts(columns[k]) for k in names]
    if columnar:
        body = ",\n".join(f"    {json.dumps(k)}: [{', '.join(t)}]" for k, t in zip(names, texts))
        out.write(f'{head},\n  "columns": {{\n{body}\n  }}\n}}\n')
        return
    n = len(texts[0]) if texts else 0
    row = "    {" + ", ".join(f"{json.dumps(k)}: %s" for k in names) + "}"  # each cell is JSON already
    out.write(f'{head},\n  "columns": {json.dumps(names)},\n  "rows": [\n')
    for start in range(0, n, ROWS_PER_WRITE):
        block = zip(*(t[start:start + ROWS_PER_WRITE] for t in texts))
        out.write(",\n".join(row % cells for cells in block) + (",\n" if start + ROWS_PER_WRITE < n else "\n"))
    out.write("  ]\n}\n")


def csv_table(columns: dict[str, Any]) -> str:
    """Named columns as CSV text: numbers in full precision (repr), missing values empty,
    booleans ``true``/``false``."""
    import csv
    import io

    def cell(x: Any) -> str:
        if x is None:
            return ""
        if isinstance(x, bool):
            return "true" if x else "false"
        if isinstance(x, float):
            return repr(x) if math.isfinite(x) else ""
        return str(x)

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(list(columns))
    cells = [json_cells(v) for v in columns.values()]
    writer.writerows([cell(x) for x in row] for row in zip(*cells))
    return buf.getvalue()


def console(stderr: bool = False):  # -> rich.console.Console
    """A rich console (imported lazily: rich costs start-up time)."""
    from rich.console import Console

    if not utf8_output(stderr):  # latin-1, ascii: what the stream cannot encode becomes "?", never a crash
        stream = sys.stderr if stderr else sys.stdout
        try:
            stream.reconfigure(errors="replace")
        except (AttributeError, ValueError, OSError):
            pass
    out = Console(stderr=stderr, highlight=False)
    if out.width < MIN_WIDTH:  # COLUMNS=0 would print nothing at all, COLUMNS=1 a letter per line
        out = Console(stderr=stderr, highlight=False, width=MIN_WIDTH)
    return out


MIN_WIDTH = 40


def utf8_output(stderr: bool = False) -> bool:
    """Whether stdout (stderr) encodes UTF-8; tables fall back to ASCII borders when not."""
    stream = sys.stderr if stderr else sys.stdout
    enc = (getattr(stream, "encoding", None) or "utf-8").lower().replace("-", "").replace("_", "")
    return enc.startswith("utf")


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], caption: str | None = None,
          whole: Sequence[int] = ()):
    """A rich table with right-aligned numeric columns, its title on a line of its own above it
    (a title inside a rich table would wrap at the table's width). Columns whose index is in
    ``whole`` (ids a user types back, such as law ids) are never wrapped or truncated: other
    columns shrink for them, and a terminal too narrow wraps the line instead."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    rows = [[str(c) for c in row] for row in rows]
    from rich import box

    t = Table(caption=caption, caption_justify="left", **({} if utf8_output() else {"box": box.ASCII}))
    for i, col in enumerate(columns):
        numeric = i > 0 and all(_looks_numeric(r[i]) for r in rows if i < len(r))
        keep = {}
        if i in whole:
            width = max([len(col)] + [len(r[i]) for r in rows if i < len(r)])
            keep = dict(no_wrap=True, overflow="ignore", min_width=width)
        t.add_column(col, justify="right" if numeric else "left", **keep)
    for row in rows:
        t.add_row(*row)
    return Group(Text.from_markup(title, style="italic"), t) if title else t


def _looks_numeric(cell: str) -> bool:
    """A table cell that reads as a number (possibly marked up, suffixed or signed)."""
    import re

    plain = re.sub(r"\[/?[a-z ]*\]", "", cell).strip()
    return plain in ("", "-") or re.fullmatch(r"[-+]?[\d.,]+(e[-+]?\d+)?\s*[%KMBTPEx]?[A-Za-z]{0,3}( ± .*)?", plain) is not None


def print_warnings(warnings: Iterable[str]) -> None:
    """Warnings in yellow on stderr (so stdout stays clean for scripts); library argument names
    shown as flags."""
    from precplan.cli._flags import cli_message

    out = console(stderr=True)
    for w in warnings:
        out.print(f"[yellow]warning:[/yellow] {cli_message(w)}", markup=True, highlight=False, soft_wrap=True)


def print_notes(notes: Iterable[str]) -> None:
    """Notes (assumptions, format mappings) dimmed, on stdout after the result; library argument
    names shown as flags."""
    from precplan.cli._flags import cli_message

    out = console()
    for n in notes:
        out.print(f"[dim]note: {cli_message(n)}[/dim]")


def fmt(value: float | None, digits: int = 4) -> str:
    """A number for a table cell: fixed for ordinary magnitudes, scientific otherwise; ``-`` for none."""
    if value is None:
        return "-"
    v = float(value)
    if not math.isfinite(v):
        return "-" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if v == 0 or 1e-3 <= abs(v) < 1e5:
        return f"{v:.{digits}f}"
    return f"{v:.{max(digits - 1, 2)}e}"


def plain(x: float | None) -> str:
    """Ratios and hours, one style: 3 significant digits, thousands separators, never an exponent
    (``0.0672``, ``13.4``, ``1,903``, ``33,370``)."""
    if x is None:
        return "-"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.3g}" if abs(x) >= 1e-4 or x == 0 else f"{x:.2e}"


def pct(x: float | None) -> str:
    """A fraction as a percentage with 2 decimals (``0.0512`` -> ``5.12%``)."""
    return "-" if x is None else f"{100 * x:.2f}%"


def bits_num(x: float) -> str:
    """One bit count, everywhere alike: ``7`` when whole, else 2 decimals (``7.00``)."""
    return f"{x:g}" if abs(x - round(x)) < 1e-9 else f"{x:.2f}"


def bits_text(b) -> str:
    """``7-bit`` for 7/7/7, ``w/a/kv 4/8/8`` when untied; reals with 2 decimals."""
    vals = (b.weights, b.activations, b.kv)
    if vals[0] == vals[1] == vals[2]:
        return f"{bits_num(vals[0])}-bit"
    return "w/a/kv " + "/".join(bits_num(v) for v in vals)


def bits_triple(weights: float, activations: float, kv: float) -> str:
    """Training bits of weights/activations/KV as ``4/16/16``."""
    return f"{weights:g}/{activations:g}/{kv:g}"
