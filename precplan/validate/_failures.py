"""Failed runs, as a batch system treats them: each failure classified and said in one line,
the sweep going on to its next run, and one summary line per class at the end.

Classes (``kind``): ``oom`` (CUDA or host memory), ``nan`` (a non-finite value where the store
needs a number: a diverged run is *not* a failure, it is recorded as diverged), ``signal`` (the
worker died by a signal: SIGKILL, SIGBUS, a preemption), ``data`` (the corpus failed to read),
``queue`` (waited longer than the queue timeout for resources), ``task`` (a cluster task
failed outside any run) and ``error`` (anything else). ``--retry K`` retries the transient
classes (:data:`TRANSIENT`) up to K more times within the sweep; a later sweep retries failed
runs only when asked (``retry_failed``).

Test hook: when the environment variable ``PRECPLAN_TEST_FAIL_RUN`` is set, a run whose id
contains its value raises before training (:func:`maybe_inject_failure`); with
``PRECPLAN_TEST_FAIL_ONCE=DIR`` set too, only the first attempt fails (a marker file in DIR
records it). ``PRECPLAN_TEST_SIGNAL_RUN=<part of a run id>`` instead kills the worker with
SIGKILL when it starts that run (the first time only, with a marker file beside the store's
claims). Only the tests set these; they let a test make one run of a real sweep fail on
every executor without touching the trainer.
"""

from __future__ import annotations

import os
import signal as _signal
from pathlib import Path
from typing import Any, Iterable

from precplan.errors import PrecplanError

__all__ = ["TRANSIENT", "classify", "maybe_inject_failure", "signal_cause", "summarize_failures", "InjectedFailure"]

TRANSIENT = frozenset({"oom", "signal", "data", "error"})
FAIL_ENV = "PRECPLAN_TEST_FAIL_RUN"
ONCE_ENV = "PRECPLAN_TEST_FAIL_ONCE"
SIGNAL_ENV = "PRECPLAN_TEST_SIGNAL_RUN"


class InjectedFailure(RuntimeError):
    """The test hook's failure."""


def maybe_inject_failure(run_id: str, out_dir: str | Path | None = None) -> None:
    """Raise :class:`InjectedFailure` (or die by SIGKILL) when a test hook names ``run_id`` (see
    the module docstring)."""
    kill = os.environ.get(SIGNAL_ENV)
    if kill and kill in run_id and out_dir is not None:
        marker = Path(out_dir) / "claims" / f".killed-once-{run_id}"
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:
            pass
        else:
            os.kill(os.getpid(), _signal.SIGKILL)
    want = os.environ.get(FAIL_ENV)
    if not want or want not in run_id:
        return
    once = os.environ.get(ONCE_ENV)
    if once:
        marker = Path(once) / f"failed-once-{run_id}"
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return
        os.close(fd)
    raise InjectedFailure(f"injected failure for the tests ({FAIL_ENV}={want})")


def classify(exc: BaseException) -> tuple[str, str]:
    """(kind, cause in one line) of an exception raised by a run."""
    text = " ".join(str(exc).split())
    name = type(exc).__name__
    low = text.lower()
    if "out of memory" in low or name in ("OutOfMemoryError", "MemoryError"):
        first = text.split(". ")[0] if text else name
        return "oom", first if "out of memory" in first.lower() else f"out of memory ({name})"
    if isinstance(exc, ValueError) and ("nan" in low or "not json compliant" in low or "out of range float" in low):
        return "nan", f"non-finite value: {text}"
    if isinstance(exc, PrecplanError):
        return "error", text
    if "data loading failed" in low or "shrank" in low or isinstance(exc, (OSError, EOFError)):
        return "data", f"{name}: {text}" if text else name
    return "error", f"{name}: {text}" if text else name


def signal_cause(returncode: int) -> str:
    """One line for a worker's exit status: 'killed by SIGBUS (a memory-mapped file was
    truncated?)', 'exit 3'."""
    if returncode < 0 or returncode > 128:
        num = -returncode if returncode < 0 else returncode - 128
        try:
            name = _signal.Signals(num).name
        except ValueError:
            name = f"signal {num}"
        hint = {"SIGBUS": " (a memory-mapped file was truncated or its storage went away?)",
                "SIGKILL": " (out of host memory, a time limit or a preemption?)",
                "SIGSEGV": " (a crash in native code)"}.get(name, "")
        return f"worker killed by {name}{hint}"
    return f"worker exited with status {returncode}"


def _about(rec: dict[str, Any]) -> str:
    from precplan.units import format_count

    bits = []
    if rec.get("params"):
        bits.append(f"N={format_count(rec['params'])}")
    if rec.get("micro_batch"):
        bits.append(f"micro-batch {rec['micro_batch']}")
    return ", ".join(bits)


def summarize_failures(failures: Iterable[dict[str, Any]]) -> list[str]:
    """One line per failure class and cause: 'N runs failed: <cause> (N=.., micro-batch ..); see <log>'."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for rec in failures:
        groups.setdefault((rec.get("kind", "error"), rec.get("cause", "")), []).append(rec)
    lines = []
    for (_, cause), recs in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        about = sorted({a for r in recs if (a := _about(r))})
        shown = "; ".join(about[:3]) + (f"; +{len(about) - 3} more" if len(about) > 3 else "")
        logs = sorted({str(r["log"]) for r in recs if r.get("log")})
        where = f"; see {logs[0]}" + (f" (+{len(logs) - 1} more logs)" if len(logs) > 1 else "") if logs else ""
        n = len(recs)
        lines.append(f"{n} run{'s' if n != 1 else ''} failed: {cause}" + (f" ({shown})" if shown else "") + where)
    return lines
