"""Run records: the JSON lines ``precplan validate`` writes, one per finished run, and the one
policy every reader of a results store follows (``fit`` and ``validate --report`` alike).

A record is a JSON object with ``run_id``, ``params`` (N) and ``tokens`` (D) as positive
numbers, ``loss`` (a number, unless the run ``diverged``), optional ``weight_bits``,
``activation_bits`` and ``kv_bits`` (whole bits from 1 to 64; missing means high precision) and
``ptq``, an object from post-training bits (as text) to the loss after quantization. Other keys
(``config``, ``device``, ``preset``, ...) travel along.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Sequence

from precplan.errors import PrecplanError

__all__ = ["check_records", "is_number", "looks_like_store", "parse_store", "record_problem"]


def parse_store(data: bytes, where: str | Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The records of a results store, under the one policy every command reads a store with.

    A store is appended to under a lock, one fsynced line per run, so the only damage a healthy
    store can show is a partial last line (a writer killed mid-write): that line is ignored with a
    note, and the run is trained again by the next sweep. Any other line that is not a JSON run
    record (an object with ``run_id``) means the file is damaged or is not a store: an error
    naming the file and the line, for ``fit`` and ``validate --report`` alike.

    Parameters
    ----------
    data : bytes
        The store file's content.
    where : str or Path
        The file's name, for notes and errors.

    Returns
    -------
    records : list of dict
        One per complete line, in file order.
    notes : list of str
        A note when a partial last line was ignored.

    Raises
    ------
    PrecplanError
        A complete line that is not JSON, or not an object with ``run_id``.

    Example
    -------
    >>> parse_store(b'{"run_id": "a", "params": 1e6}\\n{"run_', "runs.jsonl")[1]
    ['runs.jsonl: ignored a partial last line (6 bytes; a writer was killed mid-write)']
    """
    lines = data.split(b"\n")
    notes: list[str] = []
    if lines and lines[-1].strip():
        notes.append(f"{where}: ignored a partial last line ({len(lines[-1])} bytes; a writer was killed mid-write)")
    records = []
    for k, line in enumerate(lines[:-1], 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            raise PrecplanError(f"{where}: line {k}: not a JSON line; a results store holds one run record per line"
                                " (only a partial last line, left by a killed writer, is ignored)") from None
        if not isinstance(rec, dict) or "run_id" not in rec:
            raise PrecplanError(f"{where}: line {k}: not a run record (no run_id); a results store holds the"
                                " records precplan validate writes")
        records.append(rec)
    return records, notes


def looks_like_store(stripped: str) -> bool:
    """Whether a text (leading white space stripped) is a results store of ``precplan validate``:
    JSON lines whose first record has a ``run_id``."""
    if not stripped.startswith("{"):
        return False
    try:
        first = json.loads(stripped.split("\n", 1)[0])
    except ValueError:
        return False
    return isinstance(first, dict) and "run_id" in first


def is_number(v: Any, positive: bool = False) -> bool:
    """A finite int or float (not a bool), and > 0 when ``positive``."""
    ok = not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)
    return ok and (not positive or v > 0)


def record_problem(rec: Any) -> str | None:
    """What makes ``rec`` not a run record written by ``precplan validate``.

    Parameters
    ----------
    rec : Any
        One parsed JSON line.

    Returns
    -------
    str or None
        The first problem found (the key, its value and what would be valid), ``None`` for a
        valid record. A diverged run needs no loss.

    Example
    -------
    >>> record_problem({"run_id": "a", "params": 1e6, "tokens": 2e7, "loss": "3.1"})
    "loss = '3.1' is not a number"
    """
    if not isinstance(rec, dict):
        return "not a JSON object"
    for key in ("params", "tokens"):
        if not is_number(rec.get(key), positive=True):
            return f"{key} = {rec.get(key)!r} is not a positive number"
    for key in ("weight_bits", "activation_bits", "kv_bits"):
        if key in rec and not (is_number(rec[key]) and 1 <= rec[key] <= 64 and float(rec[key]).is_integer()):
            return f"{key} = {rec[key]!r} is not a bit count from 1 to 64"
    if rec.get("diverged"):
        return None
    loss = rec.get("loss")
    if loss is None or isinstance(loss, bool) or not isinstance(loss, (int, float)):
        return f"loss = {loss!r} is not a number"
    ptq = rec.get("ptq", {})
    if ptq is None:
        return None
    if not isinstance(ptq, dict):
        return f"ptq = {ptq!r} is not an object from post bits to loss"
    for bits, value in ptq.items():
        if not (str(bits).isdigit() and 1 <= int(bits) <= 64) or not is_number(value, positive=True):
            return f"ptq entry {bits!r}: {value!r} is not a bit count with a positive loss"
    return None


def check_records(records: Sequence[Any]) -> None:
    """Refuse stores that are not ``validate`` results (unrelated JSON lines with a ``run_id``,
    a ``loss`` that is text).

    Parameters
    ----------
    records : sequence
        Parsed records (:func:`parse_store`).

    Raises
    ------
    PrecplanError
        One line naming the first bad record, its problem (:func:`record_problem`) and how
        many records are bad.

    Example
    -------
    >>> check_records([{"run_id": "a", "params": 1e6, "tokens": 2e7, "loss": 3.1}])  # valid: no error
    """
    bad = [(r, why) for r in records if (why := record_problem(r)) is not None]
    if not bad:
        return
    rec, why = bad[0]
    rid = rec.get("run_id") if isinstance(rec, dict) else None
    raise PrecplanError(
        f"{len(bad)} of {len(records)} records in the store are not precplan validate runs (first: run_id {rid!r}: {why});"
        " give folders written by precplan validate"
    )
