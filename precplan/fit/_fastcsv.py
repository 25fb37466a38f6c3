"""Reading a large CSV of runs (a million rows, or a million checkpoints) fast and in bounded
memory: numpy's C parser reads the standard columns straight into arrays, without a Python
record per row, and the checks of :func:`precplan.fit.load_runs` run over whole columns.

Anything this reader does not handle as the row-by-row reader would, it leaves to that reader
(:func:`read_csv` returns ``None``): a missing or doubled column, a ``diverged`` or ``ptq``
column, a cell that is not a plain number (``220M``, ``fp8``, ``1_000``), ragged rows. A cell
that is a number but not a valid one (a negative loss, bits above 64) is reported by the row-by-row
reader's own check on that one row, so the message is the same whichever reader ran.
"""

from __future__ import annotations

import csv
import io
import itertools
import warnings as _warnings
from pathlib import Path
from typing import Mapping

import numpy as np

from precplan.fit._table import BITS, COLUMNS, OPTIONAL, REQUIRED, Runs, build_runs, check_duplicates, scale_warnings

__all__ = ["FAST_BYTES", "read_csv"]

FAST_BYTES = 1 << 20  # files from this size up take this reader (smaller ones: the row-by-row reader)


def read_csv(path: Path, raw: bytes, mapping: Mapping[str, str], digest: str) -> Runs | None:
    """The runs of the CSV (or TSV) file ``path`` whose bytes are ``raw``; ``None`` when the
    file needs the row-by-row reader. Raises the row-by-row reader's error for an invalid row."""
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json") or raw[:4096].decode(
            "utf-8-sig", errors="replace").lstrip().startswith(("{", "[")):
        return None
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    first = raw.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace")
    header = [h.strip() for h in next(csv.reader([first], delimiter=delimiter), [])]
    names = {c: mapping.get(c, c) for c in COLUMNS}
    if (not header or len(set(header)) != len(header) or "diverged" in header or "ptq" in header
            or any(names[c] not in header for c in REQUIRED) or any(v not in header for v in mapping.values())):
        return None
    present = [c for c in OPTIONAL if names[c] in header]
    if ("post_loss" in present) != ("post_bits" in present):
        return None
    wanted = list(REQUIRED) + present
    cols = [header.index(names[c]) for c in wanted]
    table = _load(path, delimiter, cols, [header.index(names[c]) for c in present])
    if table is None or table.shape[0] == 0:
        return None
    arrays = {c: np.ascontiguousarray(table[:, j]) for j, c in enumerate(wanted)}
    del table
    where = str(path)
    bad = _first_invalid(arrays, present)
    if bad is not None:
        _raise_for_row(raw, delimiter, header, bad, mapping, where, digest)
        return None  # the row-by-row reader did not object after all: let it read the whole file
    n = arrays["params"].shape[0]
    post = "post_bits" in present
    runs = Runs(
        params=arrays["params"], tokens=arrays["tokens"], loss=arrays["loss"],
        **{c: arrays.get(c) for c in BITS},
        post_bits=arrays["post_bits"] if post and np.isfinite(arrays["post_bits"]).any() else None,
        post_loss=arrays["post_loss"] if post and np.isfinite(arrays["post_loss"]).any() else None,
        lines=np.arange(2, n + 2), path=where, n_source_rows=n, sha256=digest,
        columns=dict(mapping) or None, warnings=tuple(scale_warnings(arrays["params"], arrays["tokens"], names)),
    )
    if _has_duplicates(arrays):
        check_duplicates(runs, where)  # raises, naming the lines
    return runs


def _has_duplicates(arrays: dict[str, np.ndarray]) -> bool:
    """Whether two rows are equal in every column read (as ``_runs._check_duplicates`` compares
    them, NaN equal to NaN), by one sort of the rows (a fraction of ``np.unique(axis=0)``)."""
    cols = [np.nan_to_num(v, nan=-1.0) for v in arrays.values()]
    order = np.lexsort(cols[::-1])
    same = np.ones(order.size - 1, dtype=bool)
    for c in cols:
        s = c[order]
        same &= s[1:] == s[:-1]
    return bool(same.any())


def _load(path: Path, delimiter: str, cols: list[int], optional: list[int]) -> np.ndarray | None:
    """The columns ``cols`` as floats (n, len(cols)): numpy's C parser, first with no empty cell
    allowed, then with empty cells of the optional columns read as NaN. ``None`` if neither parses."""
    def empty_is_nan(text: str) -> float:
        return float(text) if text.strip() else np.nan

    tries = [None] + ([{c: empty_is_nan for c in optional}] if optional else [])
    for converters in tries:
        try:
            with _warnings.catch_warnings():
                _warnings.simplefilter("ignore")  # "input contained no data": the caller reports it
                return np.loadtxt(path, delimiter=delimiter, skiprows=1, usecols=cols, dtype=float, comments=None,
                                  ndmin=2, quotechar='"', encoding="utf-8-sig", converters=converters)
        except (ValueError, TypeError, UnicodeDecodeError):
            continue
    return None


def _first_invalid(arrays: dict[str, np.ndarray], present: list[str]) -> int | None:
    """The first row that the row-by-row reader's checks would reject (``_runs._build``)."""
    bad = np.zeros(arrays["params"].shape[0], dtype=bool)
    for c in REQUIRED:
        v = arrays[c]
        bad |= ~np.isfinite(v) | (v <= 0)
    for c in present:
        v = arrays[c]
        with np.errstate(invalid="ignore"):
            bad |= np.isinf(v) | (np.isfinite(v) & (v <= 0))
            if c in BITS + ("post_bits",):
                bad |= v > 64
    if "post_bits" in present:
        bad |= np.isnan(arrays["post_bits"]) != np.isnan(arrays["post_loss"])
    hits = np.flatnonzero(bad)
    return int(hits[0]) if hits.size else None


def _raise_for_row(raw: bytes, delimiter: str, header: list[str], row: int, mapping: Mapping[str, str],
                   where: str, digest: str) -> None:
    """Run the row-by-row reader's checks on data row ``row`` alone (it raises its own message)."""
    text = io.StringIO(raw.decode("utf-8-sig", errors="replace"))
    reader = csv.DictReader(text, delimiter=delimiter)
    record = next(itertools.islice(reader, row, row + 1), None)
    if record is None:
        return
    record = {k.strip() if isinstance(k, str) else k: v for k, v in record.items()}
    build_runs([record], [row + 2], header, mapping, where, digest)
