"""The results store: one JSON line per finished run, appended atomically, and run claims.

A line is written with a single ``os.write`` on an ``O_APPEND`` descriptor, under an
exclusive ``flock``, then ``fsync``-ed: a run killed while training leaves no line (and is
redone on resume); a writer killed mid-write can leave at most a trailing partial line,
which readers ignore and the next writer truncates before appending. Shards write their own
file (``runs-<i>of<n>.jsonl``) so several machines never append to one file; readers merge
every ``runs*.jsonl`` of a folder, de-duplicated by ``run_id``.

Exactly once: a worker trains a run only while it holds the run's claim, an exclusive
``flock`` on ``claims/<run_id>.lock`` in the store folder, and only if, once it holds the
claim, no store of the folder has the run. The kernel drops a ``flock`` when its holder dies
(SIGKILL included), so a killed worker's run is free again at once; the finished run's
record is appended before the claim is let go. The claim file also names its holder (host,
pid, start time and a heartbeat rewritten every ``HEARTBEAT_S``): on file systems whose
``flock`` does not reach across machines (some NFS and Lustre mounts), a claim held on another
host with a heartbeat younger than ``STALE_S`` is respected too, and a claim of a dead pid on
this host is taken over. Any number of processes, on any number of machines sharing the
folder, may run the same sweep.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence, TypeVar

from precplan.errors import PrecplanError
from precplan.records import parse_store  # the store's reading policy lives with the record schema

__all__ = [
    "CLAIMS", "HEARTBEAT_S", "HOLDER_BYTES", "STALE_S", "STORE_GLOB", "Claim", "append_record", "claim_run",
    "claims_dir", "finished_ids", "holder_is_live", "live_claims", "parse_shard", "prune_claims", "read_folders",
    "read_store", "shard_slice", "store_files", "store_path",
]

STORE_GLOB = "runs*.jsonl"
CLAIMS = "claims"
HEARTBEAT_S = 30.0  # a claim's holder rewrites its heartbeat this often
STALE_S = 600.0  # a claim from another host whose heartbeat is older than this is abandoned
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
    """The complete records of one store file (:func:`parse_store`'s policy), and notes."""
    p = Path(path)
    return parse_store(p.read_bytes(), p)


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


def _holder_doc() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid(), "started": time.time(), "heartbeat": time.time()}


def _read_holder(fd: int) -> dict[str, Any] | None:
    size = os.fstat(fd).st_size
    if not size:
        return None
    try:
        doc = json.loads(os.pread(fd, size, 0).strip() or b"null")
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def holder_is_live(doc: dict[str, Any] | None, now: float | None = None, stale_s: float = STALE_S) -> bool:
    """Whether the holder named in a claim file whose ``flock`` we could take may still be working.
    On this host ``flock`` is authoritative (a live holder would still hold it, even on an NFS
    mount without lock support, whose locks are then local), so no: its pid is dead or the claim
    was let go. On another host, whose pids cannot be checked: while its heartbeat is younger
    than ``stale_s``."""
    if not doc or doc.get("host") == socket.gethostname():
        return False
    beat = doc.get("heartbeat")
    return isinstance(beat, (int, float)) and (time.time() if now is None else now) - beat < stale_s


HOLDER_BYTES = 512  # a claim file's fixed size: rewritten in place, never seen empty or half-long


def _write_holder(fd: int, doc: dict[str, Any]) -> None:
    """One pwrite of the holder document, padded to HOLDER_BYTES, so a reader on another host
    never catches the file truncated between two heartbeats."""
    data = json.dumps(doc).encode()
    os.pwrite(fd, data.ljust(max(HOLDER_BYTES, len(data))), 0)
    os.fsync(fd)


@dataclass
class Claim:
    """A held claim on one run (release it with :meth:`release`, or use it as a context manager)."""

    run_id: str
    path: Path
    fd: int
    _stop: threading.Event = field(default_factory=threading.Event)
    _beat: threading.Thread | None = None

    def _heartbeat(self, every: float) -> None:
        while not self._stop.wait(every):
            try:
                doc = _read_holder(self.fd) or _holder_doc()
                doc["heartbeat"] = time.time()
                _write_holder(self.fd, doc)
            except OSError:  # a vanished folder must not kill training; the flock still holds
                pass

    def release(self, finished: bool = True) -> None:
        """Let the run go. ``finished``: its record is in the store, so the claim file is removed."""
        if self.fd < 0:
            return
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
        try:
            if finished:
                self.path.unlink(missing_ok=True)  # removed while still locked: waiters see a dead inode
            else:
                os.ftruncate(self.fd, 0)
        finally:
            os.close(self.fd)  # closing drops the flock
            self.fd = -1

    def __enter__(self) -> "Claim":
        return self

    def __exit__(self, *exc) -> None:
        self.release(finished=exc[0] is None)


def claims_dir(out_dir: str | Path) -> Path:
    return Path(out_dir) / CLAIMS


def claim_run(out_dir: str | Path, run_id: str, heartbeat_s: float = HEARTBEAT_S, stale_s: float = STALE_S) -> Claim | str:
    """Claim ``run_id`` for this process: a :class:`Claim`, or why not (``"finished"`` when a store
    of ``out_dir`` has it, ``"claimed"`` when a live worker holds it). Never blocks."""
    path = claims_dir(out_dir) / f"{run_id}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return "claimed"
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if not same:  # the holder finished and removed this file while we waited: look again
            os.close(fd)
            continue
        break
    try:
        if holder_is_live(_read_holder(fd), stale_s=stale_s):  # flock does not reach its host
            os.close(fd)
            return "claimed"
        if run_id in finished_ids(out_dir):  # read after taking the claim: a finisher appends first
            os.close(fd)
            path.unlink(missing_ok=True)
            return "finished"
        _write_holder(fd, _holder_doc())
    except BaseException:
        os.close(fd)
        raise
    c = Claim(run_id, path, fd)
    if heartbeat_s > 0:
        c._beat = threading.Thread(target=c._heartbeat, args=(heartbeat_s,), daemon=True, name=f"claim-{run_id}")
        c._beat.start()
    return c


def prune_claims(out_dir: str | Path) -> int:
    """Remove the claim files of finished runs that nobody holds (a worker killed between
    appending its record and removing its claim leaves one); how many were removed."""
    folder = claims_dir(out_dir)
    if not folder.is_dir():
        return 0
    done, removed = finished_ids(out_dir), 0
    for path in folder.glob("*.lock"):
        if path.stem not in done:
            continue
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                path.unlink()
                removed += 1
        except (BlockingIOError, FileNotFoundError):
            pass
        finally:
            os.close(fd)
    return removed


def live_claims(out_dir: str | Path) -> set[str]:
    """Run ids a live worker holds a claim on now (for ``--list``)."""
    out = set()
    folder = claims_dir(out_dir)
    if not folder.is_dir():
        return out
    for path in folder.glob("*.lock"):
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                out.add(path.stem)
                continue
            if holder_is_live(_read_holder(fd)):
                out.add(path.stem)
        finally:
            os.close(fd)
    return out
