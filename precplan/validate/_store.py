"""The results store: one JSON line per finished run, each writer appending to its own file,
and run claims that need no lock across machines.

Files: every writer (a host and process) appends to its own ``runs-<host>-<pid>.jsonl`` in the
store folder (``runs-<i>of<n>-<host>-<pid>.jsonl`` under ``--shard i/n``); readers merge every
``runs*.jsonl`` of the folder (the single ``runs.jsonl`` / ``runs-<i>of<n>.jsonl`` of earlier
versions included), de-duplicated by ``run_id``, in run_id order. No two processes ever append to
one file, so nothing depends on ``flock`` reaching other machines (NFS mounted ``nolock`` or
``local_lock``, Lustre): a line is one ``os.write`` on an ``O_APPEND`` descriptor, ``fsync``-ed;
a writer killed mid-write leaves at most a partial last line in its own file, which readers
ignore with a note and which only that file's writer could repair. A run that failed is
logged in ``failed-<host>-<pid>.jsonl`` (:func:`failure_record`), never in a store file.

Exactly once: a worker trains a run only while it holds the run's claim,
``claims/<run_id>.lock``, created atomically (written under a private name, then hard-linked:
``link`` fails when the name exists, on NFS too), and only if, once it holds it, no store has
the run. The claim names its holder (host, pid, token) and a heartbeat rewritten every
``HEARTBEAT_S``; it is a lease: a claim whose holder is dead (a pid gone on this host) or whose
heartbeat is older than ``STALE_S`` (another host) is taken over by an atomic rename. ``flock``
on the claim file is kept as an optimization on one machine only. The finished run's record is
appended before the claim is let go.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence, TypeVar

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

__all__ = [
    "Claim", "StoreReader", "append_record", "claim_run", "claims_of", "failure_record", "finished_ids", "holder_is_live",
    "live_claims", "parse_shard", "parse_store", "prune_claims", "read_failures", "read_folders", "read_store",
    "shard_slice", "store_files", "store_path", "writer_path",
]


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


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "host"


def writer_path(out_dir: str | Path, shard: tuple[int, int] = (0, 1), kind: str = "runs") -> Path:
    """This process's own store file in ``out_dir``: ``runs-<host>-<pid>.jsonl`` (with a shard,
    ``runs-<i>of<n>-<host>-<pid>.jsonl``); ``kind="failed"``: its failure log
    ``failed-<host>-<pid>.jsonl``. One writer per file, so no lock is needed across machines."""
    i, n = shard
    tag = f"{_safe(socket.gethostname())}-{os.getpid()}"
    return Path(out_dir) / (f"{kind}-{tag}.jsonl" if n == 1 else f"{kind}-{i}of{n}-{tag}.jsonl")


def store_path(out_dir: str | Path, shard: tuple[int, int] = (0, 1)) -> Path:
    """The single-file store name of earlier versions (``runs.jsonl``, ``runs-<i>of<n>.jsonl``),
    still read and still a valid place to append to."""
    i, n = shard
    return Path(out_dir) / ("runs.jsonl" if n == 1 else f"runs-{i}of{n}.jsonl")


def _repair(fd: int) -> int:
    """Truncate a trailing partial line (this file's writer killed mid-write) so the next line
    starts clean; the bytes removed (0: none)."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return 0
    pos, chunk = size, 1 << 16
    while pos > 0:
        start = max(0, pos - chunk)
        block = os.pread(fd, pos - start, start)
        k = block.rfind(b"\n")
        if k >= 0:
            os.ftruncate(fd, start + k + 1)
            return size - (start + k + 1)
        pos = start
    os.ftruncate(fd, 0)
    return size


def append_record(path: str | Path, record: dict[str, Any]) -> int:
    """Append ``record`` as one JSON line: one write call, fsync-ed, to a file only this process
    writes (``flock`` is taken too, an optimization where it works). A partial last line (left by
    a killed earlier writer of this file) is removed first: the bytes removed are returned (0
    normally), for the caller to note."""
    data = (json.dumps(record, allow_nan=False, sort_keys=True) + "\n").encode("utf-8")
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    created = not p.exists()
    fd = os.open(p, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        repaired = _repair(fd)
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
    return repaired


def read_store(path: str | Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The complete records of one store file (:func:`parse_store`'s policy), and notes."""
    p = Path(path)
    return parse_store(p.read_bytes(), p)


def store_files(folder: str | Path, pattern: str = STORE_GLOB) -> list[Path]:
    """The store files of ``folder`` (every writer's, and the single files of earlier versions), sorted."""
    return sorted(p for p in Path(folder).glob(pattern) if not p.name.startswith("."))


def read_folders(folders: Iterable[str | Path]) -> tuple[list[dict[str, Any]], list[str]]:
    """Every record in the stores of ``folders`` (a store file may be named directly), merged
    over all writers' files, de-duplicated by run_id (the last one read, files in name order,
    wins), sorted by run_id so the result does not depend on which writer stored what; and notes."""
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
    return [by_id[k] for k in sorted(by_id)], notes


def finished_ids(folder: str | Path) -> set[str]:
    """Run ids already recorded in any store of ``folder`` (empty when there is none)."""
    out: set[str] = set()
    for path in store_files(folder):
        out.update(r["run_id"] for r in read_store(path)[0])
    return out


class StoreReader:
    """An incremental reader of one store folder: each :meth:`poll` reads only the bytes appended
    to each writer's file since the last poll (per-file offsets), so watching a large sweep costs
    what it appends, not what it holds. A line is taken once complete; a file that shrank (a
    partial line repaired) is read again from its start."""

    def __init__(self, folder: str | Path, pattern: str = STORE_GLOB):
        self.folder, self.pattern = Path(folder), pattern
        self._offsets: dict[Path, int] = {}
        self.records: dict[str, dict[str, Any]] = {}
        self.counts: dict[str, int] = {}  # lines read per run_id (a failure log holds one per attempt)

    def poll(self) -> list[dict[str, Any]]:
        """Records appended since the last poll (also merged into :attr:`records`)."""
        new: list[dict[str, Any]] = []
        if not self.folder.is_dir():
            return new
        for path in store_files(self.folder, self.pattern):
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                continue
            off = self._offsets.get(path, 0)
            if size < off:
                off = 0
            if size == off:
                continue
            with open(path, "rb") as fh:
                fh.seek(off)
                data = fh.read(size - off)
            end = data.rfind(b"\n") + 1
            if not end:
                continue
            recs, _ = parse_store(data[:end], path)
            self._offsets[path] = off + end
            for rec in recs:
                self.records[rec["run_id"]] = rec
                self.counts[rec["run_id"]] = self.counts.get(rec["run_id"], 0) + 1
            new += recs
        return new

    def partial_lines(self) -> list[str]:
        """A note per file whose last line is incomplete now (a writer killed mid-write, or one
        still writing)."""
        notes = []
        for path, off in sorted(self._offsets.items()):
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                continue
            if size > off:
                notes.append(f"{path}: ignored a partial last line ({size - off} bytes; a writer was killed mid-write)")
        return notes

    def ids(self) -> set[str]:
        self.poll()
        return set(self.records)


FAILED_GLOB = "failed*.jsonl"


def failure_record(run_id: str, cause: str, kind: str, log: str | None, **about: Any) -> dict[str, Any]:
    """A failed run's line (in the writer's ``failed-<host>-<pid>.jsonl``, beside the store, so
    readers of the results never meet it): the cause in one line, its class (``kind``), where the
    full log is, and what the run was (``about``: params, micro_batch, ...)."""
    import datetime as _dt

    line = " ".join(str(cause).split()) or kind
    return {"run_id": run_id, "status": "failed", "kind": kind, "cause": line[:300], "log": log,
            "host": socket.gethostname(), "pid": os.getpid(),
            "failed_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), **about}


def read_failures(folder: str | Path) -> dict[str, dict[str, Any]]:
    """Runs of ``folder`` whose last attempt failed and that no store holds: run_id -> its last
    failure record (with ``attempts``, how many failures were recorded)."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    out: dict[str, dict[str, Any]] = {}
    for path in store_files(folder, FAILED_GLOB):
        for rec in read_store(path)[0]:
            prev = out.get(rec["run_id"])
            n = (prev or {}).get("attempts", 0) + 1
            if prev is None or str(rec.get("failed_at", "")) >= str(prev.get("failed_at", "")):
                out[rec["run_id"]] = {**rec, "attempts": n}
            else:
                prev["attempts"] = n
    done = finished_ids(folder)
    return {k: v for k, v in sorted(out.items()) if k not in done}


def _holder_doc(lease_s: float = STALE_S) -> dict[str, Any]:
    now = time.time()
    return {"host": socket.gethostname(), "pid": os.getpid(), "started": now, "heartbeat": now, "lease_s": lease_s,
            "token": f"{socket.gethostname()}-{os.getpid()}-{time.monotonic_ns()}"}


def _read_holder(fd: int) -> dict[str, Any] | None:
    size = os.fstat(fd).st_size
    if not size:
        return None
    try:
        doc = json.loads(os.pread(fd, size, 0).strip() or b"null")
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def holder_is_live(doc: dict[str, Any] | None, now: float | None = None, stale_s: float = STALE_S) -> bool:
    """Whether the holder named in a claim file may still be working: on this host, while its
    pid is alive; on another host, whose pids cannot be checked, while its heartbeat is younger
    than its lease (``stale_s``, or the ``lease_s`` it wrote if shorter). A claim naming no holder
    (``{}``) is not live."""
    if not doc or not doc.get("host"):
        return False
    if doc.get("host") == socket.gethostname():
        return _pid_alive(doc.get("pid"))
    beat = doc.get("heartbeat")
    lease = min(stale_s, float(doc.get("lease_s") or stale_s))
    return isinstance(beat, (int, float)) and (time.time() if now is None else now) - beat < lease


HOLDER_BYTES = 512  # a claim file's fixed size: rewritten in place, never seen empty or half-long


def _write_holder(fd: int, doc: dict[str, Any]) -> None:
    """One pwrite of the holder document, padded to HOLDER_BYTES, so a reader on another host
    never catches the file truncated between two heartbeats."""
    data = json.dumps(doc).encode()
    os.pwrite(fd, data.ljust(max(HOLDER_BYTES, len(data))), 0)
    os.fsync(fd)


def _flock_held(fd: int) -> bool:
    """Whether another descriptor holds an flock on ``fd``'s file (one machine only: an optimization)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:  # a file system without flock: say nothing
        return False
    fcntl.flock(fd, fcntl.LOCK_UN)
    return False


@dataclass
class Claim:
    """A held claim on one run (release it with :meth:`release`, or use it as a context manager)."""

    run_id: str
    path: Path
    fd: int
    token: str = ""
    _stop: threading.Event = field(default_factory=threading.Event)
    _beat: threading.Thread | None = None

    def _heartbeat(self, every: float) -> None:
        while not self._stop.wait(every):
            try:
                doc = _read_holder(self.fd) or _holder_doc()
                doc["heartbeat"] = time.time()
                _write_holder(self.fd, doc)
            except OSError:  # a vanished folder must not kill training
                pass

    def release(self, finished: bool = True) -> None:
        """Let the run go: the claim file is removed (if it is still ours), whether the run
        finished, failed (its failure is recorded) or was interrupted (it is free again)."""
        if self.fd < 0:
            return
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
        try:
            try:
                with open(self.path, "rb") as fh:
                    doc = json.loads(fh.read().strip() or b"null")
            except (OSError, ValueError):
                doc = None
            if isinstance(doc, dict) and doc.get("token") == self.token:
                self.path.unlink(missing_ok=True)
        finally:
            os.close(self.fd)  # closing drops the flock
            self.fd = -1

    def __enter__(self) -> "Claim":
        return self

    def __exit__(self, *exc) -> None:
        self.release(finished=exc[0] is None)


def claims_dir(out_dir: str | Path) -> Path:
    return Path(out_dir) / CLAIMS


def _create_claim(path: Path, doc: dict[str, Any]) -> int | None:
    """Create ``path`` holding ``doc``, atomically and only if it does not exist: the document is
    written to a private file first, then hard-linked to ``path`` (``link`` fails when the name
    exists, on NFS too, where ``O_EXCL`` was long unreliable), so nobody ever sees the claim
    empty. The descriptor (flock-ed, an optimization on one machine), or None when taken."""
    tmp = path.with_name(f".{path.name}.{doc['token']}")
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            pass
        _write_holder(fd, doc)
        try:
            os.link(tmp, path)
        except FileExistsError:
            os.close(fd)
            return None
        return fd
    except BaseException:
        os.close(fd)
        raise
    finally:
        tmp.unlink(missing_ok=True)


def _take_over(path: Path, stale: bytes) -> bool:
    """Remove a dead holder's claim file, atomically: rename it to a private name (one taker
    wins), then check it is the stale one judged; a live claim moved by mistake (it replaced the
    stale one meanwhile) is linked back."""
    aside = path.with_name(f".{path.name}.stale-{socket.gethostname()}-{os.getpid()}-{time.monotonic_ns()}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return True  # gone already: try to create it
    try:
        if aside.read_bytes() != stale:
            try:
                os.link(aside, path)
            except FileExistsError:
                pass
            return False
        return True
    finally:
        aside.unlink(missing_ok=True)


def claim_run(out_dir: str | Path, run_id: str, heartbeat_s: float = HEARTBEAT_S, stale_s: float = STALE_S,
              is_done: Callable[[str], bool] | None = None) -> Claim | str:
    """Claim ``run_id`` for this process: a :class:`Claim`, or why not (``"finished"`` when
    ``is_done(run_id)`` (default: a store of ``out_dir`` has the run), ``"claimed"`` when a live
    worker holds it). Never blocks, and needs no lock across machines: the claim file is created
    atomically (:func:`_create_claim`), and a dead holder's claim, or one whose heartbeat is older
    than ``stale_s`` (its lease), is taken over by an atomic rename."""
    path = claims_dir(out_dir) / f"{run_id}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = _holder_doc(stale_s)
    for _ in range(8):
        fd = _create_claim(path, doc)
        if fd is not None:
            break
        try:
            other = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue  # let go meanwhile: try again
        try:
            held = _flock_held(other)
            stale = os.pread(other, max(os.fstat(other).st_size, 1), 0)
        finally:
            os.close(other)
        try:
            holder = json.loads(stale.strip() or b"null")
        except ValueError:
            holder = None
        if held or holder_is_live(holder if isinstance(holder, dict) else None, stale_s=stale_s):
            return "claimed"
        if not _take_over(path, stale):
            return "claimed"
    else:
        return "claimed"
    c = Claim(run_id, path, fd, doc["token"])
    try:
        done = is_done(run_id) if is_done is not None else run_id in finished_ids(out_dir)
    except BaseException:
        c.release()
        raise
    if done:  # read after taking the claim: a finisher appends its record before letting go
        c.release()
        return "finished"
    if heartbeat_s > 0:
        c._beat = threading.Thread(target=c._heartbeat, args=(heartbeat_s,), daemon=True, name=f"claim-{run_id}")
        c._beat.start()
    return c


def _claim_is_live(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        return _flock_held(fd) or holder_is_live(_read_holder(fd))
    finally:
        os.close(fd)


def prune_claims(out_dir: str | Path) -> int:
    """Remove the claim files of finished runs whose holder is gone (a worker killed between
    appending its record and removing its claim leaves one); how many were removed."""
    folder = claims_dir(out_dir)
    if not folder.is_dir():
        return 0
    done, removed = finished_ids(out_dir), 0
    for path in folder.glob("*.lock"):
        if path.stem in done and not _claim_is_live(path):
            try:
                path.unlink()
                removed += 1
            except FileNotFoundError:
                pass
    return removed


def live_claims(out_dir: str | Path) -> set[str]:
    """Run ids a live worker holds a claim on now (for ``--list``)."""
    out: set[str] = set()
    folder = claims_dir(out_dir)
    if not folder.is_dir():
        return out
    for path in folder.glob("*.lock"):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            doc = _read_holder(fd)
            if _flock_held(fd) or holder_is_live(doc):
                out.add(path.stem)
        finally:
            os.close(fd)
    return out


def claims_of(out_dir: str | Path, pid: int, host: str | None = None) -> list[str]:
    """Run ids whose claim file names ``pid`` on ``host`` (default this host) as its holder: what
    a worker that died by a signal was training."""
    host = host or socket.gethostname()
    out = []
    folder = claims_dir(out_dir)
    for path in sorted(folder.glob("*.lock")) if folder.is_dir() else []:
        try:
            doc = json.loads(path.read_bytes().strip() or b"null")
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and doc.get("pid") == pid and doc.get("host") == host:
            out.append(path.stem)
    return out
