"""Where a sweep's runs execute: this process, one worker process per device of this machine,
a SLURM job array (through submitit) or a Ray cluster. Never a scheduler of our own: the
claims of the store (:func:`precplan.validate._store.claim_run`) make any set of workers train
each run once, so every executor below just starts workers that each get a group of runs, and
a run some other worker holds is skipped by whoever comes second.

A worker is :func:`run_group` on a plain dict (:func:`job`), so that it pickles for submitit and
Ray and reads the same in a fresh process: which runs, which data, where the store is, which
device. The data source is rebuilt in the worker from its name and the preset's needs, so every
worker reads the same corpus (same fingerprint, same run ids).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from precplan.errors import PrecplanError

__all__ = [
    "EXECUTORS", "POLL_S", "cuda_devices", "execute", "groups", "job", "main", "parse_time", "run_devices",
    "run_group", "run_ray", "run_submitit", "slurm_params", "watch",
]

EXECUTORS = ("local", "slurm", "slurm:local", "ray")
POLL_S = 2.0


__all__ = [
    "EXECUTORS", "ClusterOptions", "RayResources", "Tracker", "array_chunking", "ray_connect", "check_cluster", "cuda_devices", "execute", "groups", "job",
    "max_array_size", "parse_time", "ray_gpus", "run_devices", "run_group", "run_ray", "run_submitit", "slurm_params",
    "thread_share", "watch",
]


def job(specs: Sequence[Any], data: str | None, need: tuple[int, int], out_dir: str | Path, preset: str,
        device: str = "auto", threads: int | None = None, compile: bool = False,
        checkpoints: int | None = None, workers: int | None = None, retry: int = 0, retry_failed: bool = False,
        shard: tuple[int, int] = (0, 1), log: str | None = None) -> dict[str, Any]:
    """A worker's orders as plain data (RunSpecs as dicts; ``checkpoints`` None: the default).
    ``threads`` None: the worker's share of its machine (:func:`thread_share`, ``workers``
    running at once there); ``log``: a file the worker writes its output to (Ray tasks)."""
    return {"specs": [asdict(s) for s in specs], "data": data, "need": list(need), "out_dir": str(out_dir),
            "preset": preset, "device": device, "threads": threads, "compile": compile, "checkpoints": checkpoints,
            "workers": workers, "retry": retry, "retry_failed": retry_failed, "shard": list(shard), "log": log}


def thread_share(workers: int | None, cores: int | None = None) -> int:
    """torch threads for one of ``workers`` workers sharing this machine: its cores (the CPUs
    this process may run on, or SLURM_CPUS_PER_TASK inside a SLURM task) divided among them,
    at least 1. ``workers`` None: the whole allocation."""
    if cores is None:
        slurm = os.environ.get("SLURM_CPUS_PER_TASK", "")
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # not Linux
            cores = os.cpu_count() or 1
        if slurm.isdigit() and workers is None:
            cores = min(cores, int(slurm))
    return max(1, cores // max(1, workers or 1))


def run_group(order: dict[str, Any]) -> dict[str, Any]:
    """Train the runs of ``order`` (a :func:`job`) that nobody else has finished or holds; the
    sweep summary as a dict. What a worker process, a SLURM task or a Ray task runs. A run that
    fails is recorded as failed and the next one is trained (:func:`run_sweep`)."""
    import contextlib
    import faulthandler

    log = order.get("log")
    with contextlib.ExitStack() as stack:
        if log:
            Path(log).parent.mkdir(parents=True, exist_ok=True)
            fh = stack.enter_context(open(log, "a", buffering=1))
            stack.enter_context(contextlib.redirect_stdout(fh))
            stack.enter_context(contextlib.redirect_stderr(fh))
        try:  # a SIGBUS or SIGSEGV prints where it happened to the task's log before the process dies
            faulthandler.enable(file=sys.stderr, all_threads=True)
        except (AttributeError, ValueError, OSError):
            pass
        return _run_group(order)


def _run_group(order: dict[str, Any]) -> dict[str, Any]:
    import torch

    from precplan.validate._data import load_source
    from precplan.validate._sweep import run_sweep
    from precplan.validate._train import CHECKPOINTS, RunSpec, placement

    torch.set_num_threads(int(order.get("threads") or thread_share(order.get("workers"))))
    specs = [RunSpec(**{**s, "ptq_bits": tuple(s["ptq_bits"])}) for s in order["specs"]]
    source = load_source(order["data"], need=tuple(order["need"]))
    where = placement(order["device"])
    checkpoints = order.get("checkpoints")
    summary = run_sweep(specs, source, where, order["out_dir"], order["preset"], compile=order.get("compile", False),
                        checkpoints=CHECKPOINTS if checkpoints is None else int(checkpoints),
                        retry=int(order.get("retry") or 0), retry_failed=bool(order.get("retry_failed")),
                        file_shard=tuple(order.get("shard") or (0, 1)))
    out = asdict(summary)
    out["threads"] = torch.get_num_threads()
    return out


def groups(items: Sequence[Any], size: int) -> list[list[Any]]:
    """Consecutive groups of ``size`` (the last may be shorter)."""
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def cuda_devices(text: str) -> list[str]:
    """``--devices`` -> CUDA_VISIBLE_DEVICES values, one per worker (``cpu`` -> one CPU worker,
    ``""``). ``all`` counts the GPUs without creating a CUDA context in this process."""
    text = text.strip()
    if text == "cpu":
        return [""]
    if text == "all":
        n = _count_gpus()
        if n == 0:
            raise PrecplanError("--devices all: no CUDA GPU is visible (use --devices cpu, or run on a GPU machine)")
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        ids = [x for x in visible.split(",") if x.strip()] if visible else [str(i) for i in range(n)]
        return ids[:n]
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part.startswith("cuda:") or not part[5:].isdigit():
            raise PrecplanError(f"--devices {text!r}: expected all, cpu, or a list of cuda:N (e.g. cuda:0,cuda:2)")
        out.append(part[5:])
    if len(set(out)) != len(out):
        raise PrecplanError(f"--devices {text!r}: a device is listed twice")
    return out


def _count_gpus() -> int:
    """The number of visible CUDA devices, asked in a child process so this one stays free of CUDA."""
    code = "import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)"
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        return int(out.stdout.strip() or 0)
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return 0


class Tracker:
    """What the driver knows of a sweep's runs, read incrementally from the store folder (only
    what was appended since the last poll): stored, and failed since the sweep began. The
    driver records the runs of a worker or task that died (:meth:`record`) in its own failure
    log."""

    def __init__(self, out_dir: str | Path, run_ids: Sequence[str]):
        from precplan.validate._store import StoreReader

        self.out_dir, self.wanted = Path(out_dir), set(run_ids)
        self.stored, self.failures = StoreReader(out_dir), StoreReader(out_dir, "failed*.jsonl")
        self.failures.poll()
        self._before = dict(self.failures.counts)

    def poll(self) -> tuple[set[str], set[str]]:
        """(stored, failed in this sweep and not stored) among the wanted runs."""
        self.stored.poll()
        self.failures.poll()
        ok = self.wanted & set(self.stored.records)
        bad = {r for r in self.wanted - ok if self.failures.counts.get(r, 0) > self._before.get(r, 0)}
        return ok, bad

    def unfinished(self, ids: Sequence[str]) -> list[str]:
        ok, bad = self.poll()
        return [r for r in ids if r not in ok and r not in bad]

    def record(self, ids: Sequence[str], cause: str, kind: str, log: str | None) -> None:
        from precplan.validate._store import append_record, failure_record, writer_path

        for rid in ids:
            append_record(writer_path(self.out_dir, kind="failed"), failure_record(rid, cause, kind, log))


def watch(tracker: Tracker, is_done: Callable[[], bool], console: Any, label: str,
          check: Callable[[], None] = lambda: None) -> None:
    """One progress view for workers elsewhere: runs stored or failed, with ETA, until
    ``is_done()``; ``check()`` is called every poll (it records dead workers' runs)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    cols = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("runs"), TimeElapsedColumn(),
            TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.fields[failed]}"))
    with Progress(*cols, console=console, transient=False) as progress:
        task = progress.add_task(label, total=max(1, len(tracker.wanted)), failed="")
        while True:
            check()
            finished = is_done()
            ok, bad = tracker.poll()
            progress.update(task, completed=len(ok) + len(bad), failed=f"{len(bad)} failed" if bad else "")
            if finished:
                return
            time.sleep(POLL_S)


def _same_precplan_env() -> dict[str, str]:
    """This environment with PYTHONPATH leading to the precplan package this process runs, so a
    worker started from it (a device worker, a submitit task) runs the same code."""
    import precplan

    root = str(Path(precplan.__file__).resolve().parents[1])
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {**os.environ, "PYTHONPATH": os.pathsep.join([root] + [p for p in parts if p != root])}


def _last_line(text: str) -> str:
    """The last meaningful line of a log or an error's text (the exception's own line)."""
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip() and not ln.strip().startswith("^")]
    return lines[-1] if lines else ""


def _tail(path: Path, size: int = 8192) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, path.stat().st_size - size))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


MAX_RESTARTS = 3  # a device worker killed by a signal is started again this often, for the runs left


def run_devices(orders: list[tuple[str, dict[str, Any]]], out_dir: str | Path, run_ids: Sequence[str], console: Any) -> list[dict[str, Any]]:
    """One worker process per (CUDA_VISIBLE_DEVICES value, order), pinned to its GPU before torch
    is imported (so no worker makes a context on another's GPU); logs in ``<out>/logs``. A worker
    killed by a signal has the run it held recorded as failed (cause: the signal) and is started
    again for the runs left (up to MAX_RESTARTS times)."""
    from precplan.validate._failures import signal_cause
    from precplan.validate._store import claims_of

    logs = Path(out_dir) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    tracker = Tracker(out_dir, run_ids)
    workers: list[dict[str, Any]] = []

    def start(w: dict[str, Any]) -> None:
        env = {**_same_precplan_env(), "CUDA_VISIBLE_DEVICES": w["visible"]}
        w["fh"] = open(w["log"], "a")
        w["proc"] = subprocess.Popen([sys.executable, "-m", "precplan.validate._executors", str(w["order_file"])],
                                     env=env, stdout=w["fh"], stderr=subprocess.STDOUT)

    for k, (visible, order) in enumerate(orders):
        name = f"worker-{k}-{'gpu' + visible if visible else 'cpu'}"
        order_file = logs / f"{name}.json"
        order_file.write_text(json.dumps(order))
        (logs / f"{name}.log").write_text("")
        w = {"name": name, "visible": visible, "order_file": order_file, "log": logs / f"{name}.log", "restarts": 0,
             "ids": [r for r in run_ids], "handled": False}
        start(w)
        workers.append(w)

    def check() -> None:
        for w in workers:
            p = w["proc"]
            if w["handled"] or p.poll() in (None, 0):
                continue
            w["handled"] = True
            w["fh"].close()
            rc = p.returncode
            cause = signal_cause(rc) if rc < 0 else (_last_line(_tail(w["log"])) or signal_cause(rc))
            kind = "signal" if rc < 0 else "task"
            tracker.record(claims_of(out_dir, p.pid), cause, kind, str(w["log"]))
            if rc < 0 and w["restarts"] < MAX_RESTARTS and tracker.unfinished(w["ids"]):
                w["restarts"] += 1
                w["handled"] = False
                start(w)

    def is_done() -> bool:
        check()
        return all(w["proc"].poll() is not None and (w["handled"] or w["proc"].returncode == 0) for w in workers)

    try:
        watch(tracker, is_done, console, f"{len(workers)} device worker(s)")
    except BaseException:
        for w in workers:  # ours to stop: a worker killed mid-run leaves its run to the next sweep
            if w["proc"].poll() is None:
                w["proc"].terminate()
        raise
    finally:
        for w in workers:
            w["proc"].wait()
            if not w["fh"].closed:
                w["fh"].close()
    left = tracker.unfinished(list(run_ids))
    if left:  # every worker gone and these never tried: say why
        causes = [_last_line(_tail(w["log"])) for w in workers if w["proc"].returncode]
        tracker.record(left, f"not trained: every worker exited ({causes[0] if causes else 'no cause in the logs'})",
                       "task", str(workers[0]["log"]))
    out = []
    for w in workers:
        res = Path(str(w["order_file"]) + ".result")
        if res.exists():
            out.append(json.loads(res.read_text()))
    return out


def max_array_size(default: int = 1001) -> int:
    """SLURM's MaxArraySize (``scontrol show config``), or ``default`` (SLURM's own) without scontrol."""
    import shutil

    if not shutil.which("scontrol"):
        return default
    try:
        out = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return default
    for line in out.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "MaxArraySize" and value.strip().isdigit():
            return int(value.strip())
    return default


def array_chunking(n_runs: int, runs_per_task: int | None, max_array: int) -> tuple[int, str | None]:
    """Runs per array task so the array has at most ``max_array`` tasks (SLURM refuses larger
    arrays: indices run from 0 to MaxArraySize - 1), and a note when the size was raised."""
    size = runs_per_task or 1
    tasks = -(-n_runs // size)
    if tasks <= max_array:
        return size, None
    size = -(-n_runs // max_array)
    tasks = -(-n_runs // size)
    return size, (f"{n_runs:,} runs in {tasks:,} array tasks of up to {size} runs each"
                  f" (SLURM's MaxArraySize is {max_array:,}; --runs-per-task sets it)")


def run_submitit(orders: list[dict[str, Any]], out_dir: str | Path, run_ids: Sequence[str], console: Any, local: bool,
                 params: dict[str, Any], wait: bool = True) -> list[Any]:
    """A job array of ``orders`` through submitit: SLURM, or its local backend (``local``: the
    same path without a cluster, one process per task on this machine). A task's outcome is read
    from its result or exception, not from the scheduler's state (submitit's local backend
    reports a task that raised as FINISHED): the runs of a task that failed outside any run are
    recorded as failed with its error's last line and its log."""
    try:
        import submitit
    except ImportError:
        raise PrecplanError("--executor slurm needs submitit: pip install 'precplan[slurm]'") from None
    folder = Path(out_dir) / "submitit"
    os.environ["PYTHONPATH"] = _same_precplan_env()["PYTHONPATH"]  # tasks inherit it (sbatch exports the environment)
    ex = submitit.AutoExecutor(folder=folder, cluster="local" if local else "slurm")
    ex.update_parameters(**params)
    try:
        jobs = ex.map_array(run_group, orders)
    except Exception as exc:  # sbatch refused the array (a bad partition, account, QOS, time)
        raise PrecplanError(f"SLURM refused the job array: {_last_line(str(exc)) or type(exc).__name__}") from None
    if not wait:
        return jobs
    tracker = Tracker(out_dir, run_ids)
    handled: set[int] = set()
    ids_of = [o["ids"] for o in orders]

    def check() -> None:
        for k, j in enumerate(jobs):
            if k in handled or not j.done():
                continue
            handled.add(k)
            try:
                exc = j.exception()
            except Exception as e:  # no result at all (killed, cancelled, node failure)
                exc = e
            if exc is None:
                continue
            text = _last_line(str(exc)) or type(exc).__name__
            kind = "signal" if any(w in text.lower() for w in ("signal", "killed", "cancelled", "timeout")) else "task"
            log = str(getattr(j.paths, "stderr", folder))
            tracker.record(tracker.unfinished(ids_of[k]), f"task {j.job_id} failed: {text}", kind, log)

    watch(tracker, lambda: all(j.done() for j in jobs), console, f"{len(jobs)} submitit task(s)", check)
    check()
    out = []
    for j in jobs:
        try:
            out.append(j.result())
        except Exception:
            continue
    return out


@dataclass(frozen=True)
class RayResources:
    """What each Ray task asks for: GPUs, CPUs and memory in bytes (None: Ray's default, none)."""

    gpus: float = 0.0
    cpus: float = 1.0
    memory: float | None = None

    def options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {"num_gpus": self.gpus, "num_cpus": self.cpus}
        if self.memory:
            opts["memory"] = int(self.memory)
        return opts

    def describe(self) -> str:
        from precplan.units import format_bytes

        parts = [f"{self.cpus:g} CPU", f"{self.gpus:g} GPU"]
        if self.memory:
            parts.append(f"{format_bytes(self.memory)} memory")
        return ", ".join(parts)


def _describe_cluster(resources: dict[str, Any]) -> str:
    from precplan.units import format_bytes

    parts = [f"{resources.get('CPU', 0):g} CPU", f"{resources.get('GPU', 0):g} GPU"]
    if resources.get("memory"):
        parts.append(f"{format_bytes(resources['memory'])} memory")
    return ", ".join(parts)


AUTH_WORDS = ("auth", "token", "unauthenticated", "permission denied", "forbidden", "401", "403")


def ray_connect(ray: Any, address: str | None = None) -> None:
    """Connect to the Ray cluster at ``address`` (RAY_ADDRESS; none: start a local one), shipping
    this precplan package to the workers through the runtime environment (``py_modules``), so
    the cluster runs the driver's code whether or not precplan is installed there (the workers
    need torch and numpy installed). Connection and authentication failures are one line each."""
    if ray.is_initialized():
        return
    import logging

    import precplan

    address = address if address is not None else (os.environ.get("RAY_ADDRESS") or None)
    env = {"py_modules": [str(Path(precplan.__file__).resolve().parent)]}
    where = f"the Ray cluster at {address}" if address else "a local Ray cluster"
    try:
        ray.init(address=address, runtime_env=env, log_to_driver=False, ignore_reinit_error=True,
                 logging_level=logging.WARNING)
    except Exception as exc:  # ray raises ConnectionError, RuntimeError, grpc errors...
        text = _last_line(str(exc)) or type(exc).__name__
        if any(w in text.lower() for w in AUTH_WORDS):
            raise PrecplanError(f"Ray: {where} refused authentication ({text}); check the cluster's token"
                                " (RAY_AUTH_TOKEN or your ray:// credentials)") from None
        raise PrecplanError(f"Ray: cannot connect to {where} ({type(exc).__name__}: {text}); is it running,"
                            " and is RAY_ADDRESS right (ray://head:10001, or auto on a cluster node)?") from None


def ray_gpus() -> float:
    """GPUs in the Ray cluster (connecting to it): what ``--device auto`` decides on."""
    try:
        import ray
    except ImportError:
        raise PrecplanError("--executor ray needs ray: pip install 'precplan[ray]'") from None
    ray_connect(ray)
    return float(ray.cluster_resources().get("GPU", 0))


def run_ray(orders: list[dict[str, Any]], out_dir: str | Path, run_ids: Sequence[str], console: Any,
            resources: RayResources, queue_timeout: float = 600.0, ray: Any = None) -> list[Any]:
    """One Ray task per order, each asking for ``resources``, on the cluster at RAY_ADDRESS (else
    a local one). A task's outcome is read from ``ray.get``: the runs of a task that failed
    outside any run are recorded as failed with its error. While no task runs, tasks that have
    not started within ``queue_timeout`` seconds are cancelled and their runs recorded as failed,
    saying what each asked for and what the cluster has. Each task's output goes to
    ``<out>/logs/ray-task-<k>.log``. ``ray``: the module (tests pass a stand-in)."""
    if ray is None:
        try:
            import ray
        except ImportError:
            raise PrecplanError("--executor ray needs ray: pip install 'precplan[ray]'") from None
    ray_connect(ray)
    logs = Path(out_dir) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for k, o in enumerate(orders):
        o["log"] = str(logs / f"ray-task-{k}.log")
    task = ray.remote(max_retries=0)(run_group).options(**resources.options())
    refs = [task.remote(o) for o in orders]
    tracker = Tracker(out_dir, run_ids)
    state = {"pending": list(range(len(refs))), "last_event": time.monotonic(), "started": set(), "results": {}}

    def check() -> None:
        if state["pending"]:
            ready, _ = ray.wait([refs[k] for k in state["pending"]], num_returns=len(state["pending"]), timeout=0)
            ready_set = set(ready)
            for k in [k for k in state["pending"] if refs[k] in ready_set]:
                state["pending"].remove(k)
                state["last_event"] = time.monotonic()
                try:
                    state["results"][k] = ray.get(refs[k])
                except Exception as exc:
                    text = _last_line(str(getattr(exc, "cause", None) or exc)) or type(exc).__name__
                    tracker.record(tracker.unfinished(orders[k]["ids"]), f"Ray task {k} failed: {text}", "task",
                                   orders[k]["log"])
        started = {k for k in state["pending"] if Path(orders[k]["log"]).exists()}
        if started - state["started"]:
            state["last_event"] = time.monotonic()
        state["started"] |= started
        waiting = [k for k in state["pending"] if k not in state["started"]]
        if waiting and not (set(state["pending"]) & state["started"]) and time.monotonic() - state["last_event"] > queue_timeout:
            have, free = ray.cluster_resources(), ray.available_resources()
            cause = (f"waited over {queue_timeout:g} s for resources: each task asks for {resources.describe()}; the"
                     f" cluster has {_describe_cluster(have)} ({_describe_cluster(free)} free)")
            for k in waiting:
                try:
                    ray.cancel(refs[k], force=True)
                except Exception:
                    pass
                state["pending"].remove(k)
                tracker.record(tracker.unfinished(orders[k]["ids"]), cause, "queue", None)

    watch(tracker, lambda: not state["pending"], console, f"{len(refs)} Ray task(s)", check)
    return [state["results"][k] for k in sorted(state["results"])]


def main(argv: Sequence[str]) -> None:
    """A device worker: ``python -m precplan.validate._executors ORDER.json``; the summary goes
    to ``ORDER.json.result``."""
    path = Path(argv[0])
    summary = run_group(json.loads(path.read_text()))
    Path(str(path) + ".result").write_text(json.dumps(summary))




def parse_time(text: str | None) -> int | None:
    """``--time``: minutes (``240``) or ``H:MM`` / ``H:MM:SS`` / ``D-HH:MM:SS`` as SLURM writes it -> minutes."""
    if text is None:
        return None
    t = text.strip()
    try:
        days = 0
        if "-" in t:
            d, t = t.split("-", 1)
            days = int(d)
        parts = [int(x) for x in t.split(":")]
        if len(parts) == 1 and not days:
            minutes = parts[0]
        elif 2 <= len(parts) <= 3 or (days and len(parts) == 1):
            h, m, sec = (parts + [0, 0])[:3]
            minutes = days * 1440 + h * 60 + m + (1 if sec else 0)
        else:
            raise ValueError
    except ValueError:
        raise PrecplanError(f"--time {text!r}: expected minutes (240) or H:MM[:SS] / D-HH:MM:SS, e.g. 4:00:00") from None
    if minutes < 1:
        raise PrecplanError(f"--time {text!r}: must be at least a minute")
    return minutes


def slurm_params(partition: str | None, time_min: int | None, gpus_per_node: int, extra: Sequence[str], local: bool,
                 name: str) -> dict[str, Any]:
    """submitit's update_parameters for one GPU task per array element; ``extra`` ``key=value``
    pairs go through to SLURM (as ``slurm_<key>``: account, qos, constraint, mem, ...), each
    checked against submitit's SLURM settings (under ``local`` too, though it ignores them)."""
    params: dict[str, Any] = {"timeout_min": time_min or 24 * 60, "gpus_per_node": gpus_per_node, "tasks_per_node": 1,
                              "nodes": 1, "name": name}
    slurm: dict[str, Any] = {}
    for item in extra:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise PrecplanError(f"--slurm-param {item!r}: expected key=value, e.g. account=myproj or constraint=h100")
        v: Any = value
        if value.isdigit():
            v = int(value)
        slurm[key.strip().replace("-", "_")] = v
    known = _slurm_keys()
    for key in slurm:
        if known and key not in known:
            raise PrecplanError(f"--slurm-param {key}=...: not a SLURM setting submitit passes on (valid: {', '.join(sorted(known))})")
    if local:
        params["gpus_per_node"] = 0 if gpus_per_node is None else gpus_per_node
        params.pop("name")
        return params
    if partition:
        params["slurm_partition"] = partition
    params.update({f"slurm_{k}": v for k, v in slurm.items()})
    return params


def _slurm_keys() -> set[str]:
    """The SLURM settings submitit knows (empty without submitit: nothing to check against)."""
    try:
        from submitit.slurm import slurm as _slurm
    except ImportError:
        return set()
    return set(_slurm._get_default_parameters()) - {"job_name", "time", "nodes", "setup", "teardown"}


def check_cluster(executor: str, time_limit: str | None = None, slurm_extra: Sequence[str] = (),
                  partition: str | None = None) -> None:
    """What can be checked before submitting (and before the results folder is created), each
    in one line: the executor's package, SLURM's commands, ``time_limit`` and the SLURM settings."""
    import shutil

    if executor not in EXECUTORS:
        raise PrecplanError(f"--executor {executor!r}: expected one of {', '.join(EXECUTORS)}")
    if executor in ("slurm", "slurm:local"):
        try:
            import submitit  # noqa: F401
        except ImportError:
            raise PrecplanError(f"--executor {executor} needs submitit: pip install 'precplan[slurm]'") from None
        slurm_params(partition, parse_time(time_limit), 1, slurm_extra, False, "check")
        if executor == "slurm":
            missing = [c for c in ("sbatch", "srun") if not shutil.which(c)]
            if missing:
                raise PrecplanError(f"--executor slurm: no {' or '.join(missing)} on PATH (run it on a SLURM login node;"
                                    " --executor slurm:local tries the same path on this machine)")
    elif time_limit is not None or slurm_extra or partition:
        raise PrecplanError("--time, --partition and --slurm-param are SLURM settings: give them with --executor slurm")
    if executor == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise PrecplanError("--executor ray needs ray: pip install 'precplan[ray]'") from None


@dataclass(frozen=True)
class ClusterOptions:
    """How runs are spread over a cluster: runs per task (None: automatic), SLURM settings, Ray
    resources and queue timeout, retries."""

    runs_per_task: int | None = None
    partition: str | None = None
    time_limit: str | None = None
    gpus_per_node: int = 1
    slurm_extra: tuple[str, ...] = ()
    ray: RayResources | None = None
    queue_timeout: float = 600.0
    retry: int = 0
    retry_failed: bool = False
    wait: bool = True


def execute(executor: str, devices: str | None, specs: Sequence[Any], source: Any, data: str | None,
            need: tuple[int, int], out_dir: str | Path, preset: str, device: str, threads: int | None,
            compile: bool, console: Any, options: ClusterOptions = ClusterOptions(), shard: tuple[int, int] = (0, 1),
            checkpoints: int | None = None) -> Any:
    """Run ``specs`` (this shard's, not yet finished ones) through ``executor`` / on ``devices``;
    the SweepSummary of all workers together. Paths are made absolute here, on the driver, so
    workers elsewhere (a Ray raylet, a SLURM node) find the same store and data. ``threads``
    None: each worker takes its share of its machine's cores (:func:`thread_share`)."""
    from precplan.validate._sweep import SweepSummary, pending

    check_cluster(executor, options.time_limit, options.slurm_extra, options.partition)
    t0 = time.perf_counter()
    out_dir = Path(out_dir).resolve()
    if data is not None and Path(data).exists():
        data = str(Path(data).resolve())
    todo, skipped = pending(specs, source, out_dir, shard, options.retry_failed)
    ids = [s.run_id(source.fingerprint) for s in todo]
    out_dir.mkdir(parents=True, exist_ok=True)

    def order(g: Sequence[Any], dev: str, workers: int | None, **kw: Any) -> dict[str, Any]:
        o = job(g, data, need, out_dir, preset, dev, threads, compile, checkpoints, workers, options.retry,
                options.retry_failed, shard, **kw)
        o["ids"] = [s.run_id(source.fingerprint) for s in g]
        return o

    results: list[Any] = []
    label, notes = executor, []
    if todo and executor == "local":
        visible = cuda_devices(devices or "cpu")
        dev = "cpu" if visible == [""] else "cuda"
        # every worker gets the whole list: claims share it out, the fastest device takes the most
        results = run_devices([(v, order(todo, dev, len(visible))) for v in visible], out_dir, ids, console)
        label = f"{len(visible)} worker(s) on {devices or 'cpu'}"
    elif todo and executor in ("slurm", "slurm:local"):
        local = executor == "slurm:local"
        cores = thread_share(None)
        if local:
            size = options.runs_per_task or max(1, -(-len(todo) // cores))
        else:
            size, note = array_chunking(len(todo), options.runs_per_task, max_array_size())
            notes += [note] if note else []
        dev = device if device != "auto" else ("cpu" if local and not options.gpus_per_node else "cuda")
        gpn = options.gpus_per_node if not (local and dev == "cpu") else 0
        parts = groups(todo, size)
        orders = [order(g, dev, min(len(parts), cores) if local else None) for g in parts]
        params = slurm_params(options.partition, parse_time(options.time_limit), gpn, options.slurm_extra, local,
                              f"precplan-{preset}")
        for n in notes:
            console.print(f"[yellow]note:[/yellow] {n}")
        results = run_submitit(orders, out_dir, ids, console, local, params, options.wait)
        if not options.wait:
            return [j.job_id for j in results]
        label = f"submitit {'local' if local else 'SLURM'}: {len(orders)} task(s) of up to {size} run(s)"
    elif todo and executor == "ray":
        res = options.ray or RayResources(gpus=0.0 if device == "cpu" else 1.0)
        dev = device if device != "auto" else ("cuda" if res.gpus else "cpu")
        orders = [order(g, dev, None) for g in groups(todo, options.runs_per_task or 1)]
        if threads is None:
            for o in orders:
                o["threads"] = max(1, int(res.cpus))
        results = run_ray(orders, out_dir, ids, console, res, options.queue_timeout)
        label = f"Ray: {len(orders)} task(s), each {res.describe()}"
    return _summary(SweepSummary, results, label, notes, preset, out_dir, shard, todo, skipped, ids, t0, source)


def _summary(cls: Any, results: list[Any], label: str, notes: list[str], preset: str, out_dir: Path,
             shard: tuple[int, int], todo: Sequence[Any], skipped: int, ids: Sequence[str], t0: float, source: Any) -> Any:
    from precplan.validate._store import finished_ids, read_failures

    devices_seen = sorted({r["device"] for r in results if r.get("ran")}) or [label]
    warnings = sorted({w for r in results for w in r.get("warnings", [])} | set(notes))
    done, failed = finished_ids(out_dir), read_failures(out_dir)
    return cls(
        preset=preset, store=str(out_dir), shard=shard, planned=len(todo) + skipped, skipped=skipped,
        ran=sum(r["ran"] for r in results), diverged=sum(r["diverged"] for r in results),
        wall_s=time.perf_counter() - t0, device=f"{label} ({'; '.join(devices_seen)})", data=source.name,
        warnings=warnings, elsewhere=sum(1 for i in ids if i not in done and i not in failed),
        failed=sum(1 for i in ids if i in failed), retried=sum(r.get("retried", 0) for r in results),
    )


if __name__ == "__main__":
    main(sys.argv[1:])
