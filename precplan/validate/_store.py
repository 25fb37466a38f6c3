"""The results store: one JSON line per finished run, appended atomically.

A line is written with a single ``os.write`` on an ``O_APPEND`` descriptor, under an
exclusive ``flock``, then ``fsync``-ed: a run killed while training leaves no line (and is
redone on resume); a writer killed mid-write can leave at most a trailing partial line,
which readers ignore and the next writer truncates before appending. Shards write their own
file (``runs-<i>of<n>.jsonl``) so several machines never append to one file; readers merge
every ``runs*.jsonl`` of a folder, de-duplicated by ``run_id``.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any, Iterable, Sequence, TypeVar

from precplan.errors import PrecplanError

STORE_GLOB = "runs*.jsonl"
T = TypeVar("T")


def parse_shard(text: str | None) -> tuple[int, int]:
    """``"i/n"`` (0 <= i < n) -> (i, n); ``None`` -> (0, 1), the whole sweep."""
    if text is None:
        return 0, 1
    try:
        i, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise PrecplanError(f"--shard {text!r}: expected i/n, e.g. 0/4 (shards are numbered 0..n-1)") from None
    if n < 1 or not 0 <= i < n:
        raise PrecplanError(f"--shard {text}: needs n >= 1 and 0 <= i < n (shards of {n} are 0/{n} .. {n - 1}/{n})")
    return i, n


def shard_slice(items: Sequence[T], i: int, n: int) -> list[T]:
    """Shard i of n: every n-th item from the i-th (disjoint, and together they cover all)."""
    return list(items[i::n])


def store_path(out_dir: str | Path, shard: tuple[int, int] = (0, 1)) -> Path:
    i, n = shard
    return Path(out_dir) / ("runs.jsonl" if n == 1 else f"runs-{i}of{n}.jsonl")


def _repair(fd: int) -> None:
    """Truncate a trailing partial line (a writer killed mid-write) so the next line starts clean."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return
    pos, chunk = size, 1 << 16
    while pos > 0:
        start = max(0, pos - chunk)
        block = os.pread(fd, pos - start, start)
        k = block.rfind(b"\n")
        if k >= 0:
            os.ftruncate(fd, start + k + 1)
            return
        pos = start
    os.ftruncate(fd, 0)


def append_record(path: str | Path, record: dict[str, Any]) -> None:
    """Append ``record`` as one JSON line: one write call, under a lock, fsync-ed."""
    data = (json.dumps(record, allow_nan=False, sort_keys=True) + "\n").encode("utf-8")
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    created = not p.exists()
    fd = os.open(p, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _repair(fd)
        written = os.write(fd, data)
        if written != len(data):  # a short write (disk full): the partial line is repaired next time
            raise OSError(f"{p}: short write ({written} of {len(data)} bytes)")
        os.fsync(fd)
    finally:
        os.close(fd)  # closing releases the lock
    if created:  # make the new file's directory entry durable too
        dfd = os.open(p.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def read_store(path: str | Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The complete records of one store file, and notes about anything skipped."""
    p = Path(path)
    data = p.read_bytes()
    lines = data.split(b"\n")
    notes: list[str] = []
    if lines and lines[-1]:
        notes.append(f"{p}: ignored a partial last line ({len(lines[-1])} bytes; a writer was killed mid-write)")
    records = []
    for k, line in enumerate(lines[:-1], 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            notes.append(f"{p}:{k}: not a JSON line, skipped")
            continue
        if not isinstance(rec, dict) or "run_id" not in rec:
            notes.append(f"{p}:{k}: not a run record (no run_id), skipped")
            continue
        records.append(rec)
    return records, notes


def store_files(folder: str | Path) -> list[Path]:
    return sorted(Path(folder).glob(STORE_GLOB))


def read_folders(folders: Iterable[str | Path]) -> tuple[list[dict[str, Any]], list[str]]:
    """Every record in the stores of ``folders`` (a store file may be named directly),
    de-duplicated by run_id (the last one read wins), and notes."""
    by_id: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    for folder in folders:
        f = Path(folder)
        if not f.exists():
            raise PrecplanError(f"{f}: no such folder")
        files = [f] if f.is_file() else store_files(f)
        if not files:
            raise PrecplanError(f"{f}: no results store here (expected {STORE_GLOB} files written by precplan validate)")
        for path in files:
            recs, more = read_store(path)
            notes += more
            for rec in recs:
                by_id[rec["run_id"]] = rec
    return list(by_id.values()), notes


def finished_ids(folder: str | Path) -> set[str]:
    """Run ids already recorded in any store of ``folder`` (empty when there is none)."""
    out: set[str] = set()
    for path in store_files(folder):
        out.update(r["run_id"] for r in read_store(path)[0])
    return out
