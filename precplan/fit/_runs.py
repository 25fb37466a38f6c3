"""Training runs to fit a law to: CSV, JSONL, the ``validate`` results store, or records.

Standard columns: ``params`` (N), ``tokens`` (D), ``loss``; optional ``weight_bits``,
``activation_bits``, ``kv_bits`` (training precision; missing means high precision, i.e. the
law's 16-bit reference), ``post_bits`` and ``post_loss`` (weights quantized after training to
``post_bits``, reaching ``post_loss``). Other names map with ``columns={"params": "Parameters"}``.

A store record (one JSON line written by ``precplan validate``) has the standard keys plus
``ptq`` (post bits as a string -> post-PTQ loss) and ``diverged``; it expands to one row per
post precision, and diverged runs are skipped with a warning.

Every problem is a :class:`PrecplanError` naming the file, the line and what would be valid.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from precplan.errors import PrecplanError
from precplan.io import bundled_dir, decode_text, read_regular_file
from precplan.records import looks_like_store, parse_store
from precplan.fit._fastcsv import FAST_BYTES, read_csv
from precplan.fit._table import COLUMNS, Runs, build_runs

__all__ = ["EXAMPLES", "MAX_RUNS_BYTES", "example_runs", "load_runs", "parse_columns"]

MAX_RUNS_BYTES = 256 << 20  # 256 MiB: millions of rows (training curves), not a disk image


# ------------------------------------------------------------------------ parsing
def parse_columns(text: str | None) -> dict[str, str]:
    """``params=Parameters,tokens=Tokens,loss="Smoothed Loss"`` -> mapping standard -> file name."""
    if not text:
        return {}
    out: dict[str, str] = {}
    for part in next(csv.reader([text], skipinitialspace=True)):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip().strip("\"'")
        if not sep or not value:
            raise PrecplanError(f"`columns`: {part!r} must be STANDARD=NAME, e.g. params=Parameters")
        if key not in COLUMNS:
            raise PrecplanError(f"`columns`: {key!r} is not a standard column (valid: {', '.join(COLUMNS)})")
        if key in out:
            raise PrecplanError(f"`columns`: {key} is mapped twice ({out[key]!r} and {value!r}); map each standard column once")
        out[key] = value
    return out


EXAMPLES: Mapping[str, tuple[str, str]] = {
    # name: (file under data/, column mapping); sources and licenses in data/README.md
    "sardana2024": ("sardana2024_training_runs.csv", 'params=Parameters,tokens=Tokens,loss="Smoothed Loss"'),
}


def example_runs(name: str) -> tuple[Path, str]:
    """A bundled example data set: its file and its column mapping (``data/README.md``)."""
    if name not in EXAMPLES:
        raise PrecplanError(f"unknown example {name!r} (bundled: {', '.join(EXAMPLES)})")
    file, columns = EXAMPLES[name]
    return bundled_dir("data") / file, columns


def _store_folder(folder: Path) -> list[dict[str, Any]]:
    """The records of a ``validate`` results folder: every writer's ``runs*.jsonl`` merged, one
    record per run id (a run is stored by exactly one writer), in run-id order."""
    files = sorted(folder.glob("runs*.jsonl"))
    if not files:
        raise PrecplanError(f"{folder}: a folder, and no results store in it (runs*.jsonl); give a runs file or a"
                            " precplan validate --out folder")
    merged: dict[str, dict[str, Any]] = {}
    for f in files:
        records, _ = parse_store(read_regular_file(f, MAX_RUNS_BYTES, "results store", missing="no such file"), f)
        merged.update((str(r["run_id"]), r) for r in records)
    return [merged[k] for k in sorted(merged)]


def load_runs(path_or_records: str | Path | Sequence[Mapping[str, Any]], columns: Mapping[str, str] | str | None = None) -> Runs:
    """Read and validate runs from a CSV or JSONL file (the ``validate`` store included) or from a
    list of records (dicts). ``columns`` maps standard names to the data's names."""
    mapping = parse_columns(columns) if isinstance(columns, str) else dict(columns or {})
    for key in mapping:
        if key not in COLUMNS:
            raise PrecplanError(f"columns: {key!r} is not a standard column (valid: {', '.join(COLUMNS)})")
    if isinstance(path_or_records, (str, Path)) and Path(path_or_records).is_dir():
        return replace(load_runs(_store_folder(Path(path_or_records)), mapping), path=str(path_or_records))
    if isinstance(path_or_records, (str, Path)):
        p = Path(path_or_records)
        raw = read_regular_file(p, MAX_RUNS_BYTES, "runs file", missing="no such file")
        where, digest = str(p), hashlib.sha256(raw).hexdigest()
        if len(raw) >= FAST_BYTES and (fast := read_csv(p, raw, mapping, digest)) is not None:
            return fast  # a large CSV: read by numpy's parser, checked column by column (same errors)
        text = decode_text(raw, p, "save the runs as UTF-8 CSV or JSONL text")
        try:
            records, lines, header, store_notes = _read_text(text, p)
        except csv.Error as exc:
            raise PrecplanError(f"{p}: malformed CSV ({exc})") from None
        except RecursionError:
            raise PrecplanError(f"{p}: JSON nested too deeply; a run is one flat object") from None
    else:
        records = [dict(r) for r in path_or_records]
        if not all(isinstance(r, Mapping) for r in path_or_records):
            raise PrecplanError("records: every run must be a mapping of column name to value")
        where, store_notes = "<records>", []
        digest = hashlib.sha256(json.dumps(records, sort_keys=True, default=str).encode()).hexdigest()
        lines = list(range(1, len(records) + 1))
        header = sorted({k for r in records for k in r})
    if not records:
        raise PrecplanError(f"{where}: no runs in the data")
    runs = build_runs(records, lines, header, mapping, where, digest)
    return replace(runs, warnings=tuple(store_notes) + runs.warnings) if store_notes else runs


def _read_text(text: str, p: Path) -> tuple[list[dict[str, Any]], list[int], list[str], list[str]]:
    """Records, their line numbers, the header and notes. A results store of ``precplan validate``
    (JSON lines with ``run_id``) is read under the store's own policy (:func:`precplan.records.parse_store`)."""
    stripped = text.lstrip()
    if looks_like_store(stripped):
        records, notes = parse_store(text.encode("utf-8"), p)
        return records, list(range(1, len(records) + 1)), sorted({k for r in records for k in r}), notes
    if p.suffix.lower() in (".jsonl", ".ndjson", ".json") or stripped.startswith(("{", "[")):
        if stripped.startswith("["):
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise PrecplanError(f"{p}: malformed JSON at line {exc.lineno}: {exc.msg}") from None
            if not all(isinstance(r, dict) for r in data):
                raise PrecplanError(f"{p}: a JSON file must hold a list of objects, one per run")
            return data, list(range(1, len(data) + 1)), sorted({k for r in data for k in r}), []
        records, lines = [], []
        for k, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise PrecplanError(f"{p}: line {k}: malformed JSON ({exc.msg}); JSONL needs one object per line") from None
            if not isinstance(rec, dict):
                raise PrecplanError(f"{p}: line {k}: expected a JSON object, got {type(rec).__name__}")
            records.append(rec)
            lines.append(k)
        return records, lines, sorted({k for r in records for k in r}), []
    delimiter = "\t" if p.suffix.lower() == ".tsv" else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    if not reader.fieldnames:
        raise PrecplanError(f"{p}: empty file (expected a CSV header with params, tokens, loss)")
    header = [h.strip() for h in reader.fieldnames]
    reader.fieldnames = header
    records = [dict(r) for r in reader]
    return records, [reader_line + 2 for reader_line in range(len(records))], header, []


