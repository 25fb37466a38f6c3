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
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Sequence

from precplan.errors import PrecplanError

__all__ = [
    "EXECUTORS", "POLL_S", "cuda_devices", "execute", "groups", "job", "main", "parse_time", "run_devices",
    "run_group", "run_ray", "run_submitit", "slurm_params", "watch",
]

EXECUTORS = ("local", "slurm", "slurm:local", "ray")
POLL_S = 2.0


def job(specs: Sequence[Any], data: str | None, need: tuple[int, int], out_dir: str | Path, preset: str,
        device: str = "auto", threads: int | None = None, compile: bool = False,
        checkpoints: int | None = None) -> dict[str, Any]:
    """A worker's orders as plain data (RunSpecs as dicts; ``checkpoints`` None: the default)."""
    return {"specs": [asdict(s) for s in specs], "data": data, "need": list(need), "out_dir": str(out_dir),
            "preset": preset, "device": device, "threads": threads, "compile": compile, "checkpoints": checkpoints}


def run_group(order: dict[str, Any]) -> dict[str, Any]:
    """Train the runs of ``order`` (a :func:`job`) that nobody else has finished or holds; the
    sweep summary as a dict. What a worker process, a SLURM task or a Ray task runs."""
    import torch

    from precplan.validate._data import load_source
    from precplan.validate._sweep import run_sweep
    from precplan.validate._train import CHECKPOINTS, RunSpec, placement

    if order.get("threads"):
        torch.set_num_threads(int(order["threads"]))
    specs = [RunSpec(**{**s, "ptq_bits": tuple(s["ptq_bits"])}) for s in order["specs"]]
    source = load_source(order["data"], need=tuple(order["need"]))
    where = placement(order["device"])
    checkpoints = order.get("checkpoints")
    summary = run_sweep(specs, source, where, order["out_dir"], order["preset"], compile=order.get("compile", False),
                        checkpoints=CHECKPOINTS if checkpoints is None else int(checkpoints))
    return asdict(summary)


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


def watch(out_dir: str | Path, run_ids: Sequence[str], is_done: Callable[[], bool], console: Any, label: str,
          failed: Callable[[], str | None] = lambda: None) -> None:
    """One progress view for workers elsewhere: runs of ``run_ids`` in the store, with ETA,
    until ``is_done()``; raises if ``failed()`` names a failure."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from precplan.validate._store import finished_ids

    wanted = set(run_ids)
    cols = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("runs"), TimeElapsedColumn(),
            TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*cols, console=console, transient=False) as progress:
        task = progress.add_task(label, total=max(1, len(wanted)))
        while True:
            done = len(wanted & finished_ids(out_dir)) if Path(out_dir).exists() else 0
            progress.update(task, completed=done)
            why = failed()
            if why:
                raise PrecplanError(why)
            if is_done():
                progress.update(task, completed=len(wanted & finished_ids(out_dir)))
                return
            time.sleep(POLL_S)


def _same_precplan_env() -> dict[str, str]:
    """This environment with PYTHONPATH leading to the precplan package this process runs, so a
    worker started from it (a device worker, a submitit task) runs the same code."""
    import precplan

    root = str(Path(precplan.__file__).resolve().parents[1])
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {**os.environ, "PYTHONPATH": os.pathsep.join([root] + [p for p in parts if p != root])}


def run_devices(orders: list[tuple[str, dict[str, Any]]], out_dir: str | Path, run_ids: Sequence[str], console: Any) -> list[dict[str, Any]]:
    """One worker process per (CUDA_VISIBLE_DEVICES value, order), pinned to its GPU before torch
    is imported (so no worker makes a context on another's GPU); logs in ``<out>/logs``."""
    logs = Path(out_dir) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    procs = []
    for k, (visible, order) in enumerate(orders):
        name = f"worker-{k}-{'gpu' + visible if visible else 'cpu'}"
        order_file = logs / f"{name}.json"
        order_file.write_text(json.dumps(order))
        env = {**_same_precplan_env(), "CUDA_VISIBLE_DEVICES": visible}
        log = open(logs / f"{name}.log", "w")
        procs.append((name, subprocess.Popen([sys.executable, "-m", "precplan.validate._executors", str(order_file)],
                                             env=env, stdout=log, stderr=subprocess.STDOUT), log))

    def failed() -> str | None:
        for name, p, _ in procs:
            if p.poll() not in (None, 0):
                return f"{name} failed (exit {p.returncode}); see {logs / (name + '.log')}"
        return None

    try:
        watch(out_dir, run_ids, lambda: all(p.poll() is not None for _, p, _ in procs), console,
              f"{len(procs)} device worker(s)", failed)
    except BaseException:
        for _, p, _ in procs:  # ours to stop: a worker killed mid-run leaves its run to the next sweep
            if p.poll() is None:
                p.terminate()
        raise
    finally:
        for _, p, log in procs:
            p.wait()
            log.close()
    out = []
    for name, _, _ in procs:
        res = logs / f"{name}.json.result"
        if res.exists():
            out.append(json.loads(res.read_text()))
    return out


def run_submitit(orders: list[dict[str, Any]], out_dir: str | Path, run_ids: Sequence[str], console: Any, local: bool,
                 params: dict[str, Any], wait: bool = True) -> list[Any]:
    """A job array of ``orders`` through submitit: SLURM, or its local backend (``local``: the
    same path without a cluster, one process per task on this machine)."""
    try:
        import submitit
    except ImportError:
        raise PrecplanError("--executor slurm needs submitit: pip install 'precplan[slurm]'") from None
    folder = Path(out_dir) / "submitit"
    os.environ["PYTHONPATH"] = _same_precplan_env()["PYTHONPATH"]  # tasks inherit it (sbatch exports the environment)
    ex = submitit.AutoExecutor(folder=folder, cluster="local" if local else "slurm")
    ex.update_parameters(**params)
    jobs = ex.map_array(run_group, orders)
    if not wait:
        return jobs

    def failed() -> str | None:
        for j in jobs:
            if j.done() and j.state not in ("COMPLETED", "FINISHED", "DONE"):
                try:
                    j.result()
                except Exception as exc:  # the task's own error, as submitit re-raises it
                    return f"task {j.job_id} failed: {str(exc).strip().splitlines()[-1] if str(exc).strip() else exc!r}; logs in {folder}"
        return None

    watch(out_dir, run_ids, lambda: all(j.done() for j in jobs), console, f"{len(jobs)} submitit task(s)", failed)
    return [j.result() for j in jobs]


def run_ray(orders: list[dict[str, Any]], out_dir: str | Path, run_ids: Sequence[str], console: Any, gpus: float) -> list[Any]:
    """One Ray task per order, each with ``gpus`` GPUs, on the cluster at RAY_ADDRESS (else a
    local one)."""
    try:
        import ray
    except ImportError:
        raise PrecplanError("--executor ray needs ray: pip install 'precplan[ray]'") from None
    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS") or None, log_to_driver=False)
    task = ray.remote(num_gpus=gpus, max_retries=0)(run_group)
    refs = [task.remote(o) for o in orders]
    pending = list(refs)

    def is_done() -> bool:
        nonlocal pending
        ready, pending = ray.wait(pending, num_returns=len(pending), timeout=0)
        return not pending

    watch(out_dir, run_ids, is_done, console, f"{len(refs)} Ray task(s)")
    return ray.get(refs)


def main(argv: Sequence[str]) -> None:
    """A device worker: ``python -m precplan.validate._executors ORDER.json``; the summary goes
    to ``ORDER.json.result``."""
    path = Path(argv[0])
    summary = run_group(json.loads(path.read_text()))
    Path(str(path) + ".result").write_text(json.dumps(summary))


if __name__ == "__main__":
    main(sys.argv[1:])


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
    pairs go through to SLURM (as ``slurm_<key>``: account, qos, constraint, mem, ...)."""
    params: dict[str, Any] = {"timeout_min": time_min or 24 * 60, "gpus_per_node": gpus_per_node, "tasks_per_node": 1,
                              "nodes": 1, "name": name}
    if local:
        params["gpus_per_node"] = 0 if gpus_per_node is None else gpus_per_node
        params.pop("name")
        return params
    if partition:
        params["slurm_partition"] = partition
    for item in extra:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise PrecplanError(f"--slurm-param {item!r}: expected key=value, e.g. account=myproj or constraint=h100")
        v: Any = value
        if value.isdigit():
            v = int(value)
        params[f"slurm_{key.strip().replace('-', '_')}"] = v
    return params


def execute(executor: str, devices: str | None, specs: Sequence[Any], source: Any, data: str | None,
            need: tuple[int, int], out_dir: str | Path, preset: str, device: str, threads: int | None,
            compile: bool, console: Any, runs_per_task: int | None = None, partition: str | None = None,
            time_limit: str | None = None, gpus_per_node: int = 1, slurm_extra: Sequence[str] = (),
            wait: bool = True, shard: tuple[int, int] = (0, 1), checkpoints: int | None = None) -> Any:
    """Run ``specs`` (this shard's, not yet finished ones) through ``executor`` / on ``devices``;
    the SweepSummary of all workers together."""
    from precplan.validate._sweep import SweepSummary, pending

    if executor not in EXECUTORS:
        raise PrecplanError(f"--executor {executor!r}: expected one of {', '.join(EXECUTORS)}")
    t0 = time.perf_counter()
    todo, skipped = pending(specs, source, out_dir, shard)
    ids = [s.run_id(source.fingerprint) for s in todo]
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    results: list[Any] = []
    label = executor
    if todo and executor == "local":
        visible = cuda_devices(devices or "cpu")
        dev = "cpu" if visible == [""] else "cuda"
        # every worker gets the whole list: claims share it out, the fastest device takes the most
        orders = [(v, job(todo, data, need, out_dir, preset, dev, threads, compile, checkpoints)) for v in visible]
        results = run_devices(orders, out_dir, ids, console)
        label = f"{len(visible)} worker(s) on {devices or 'cpu'}"
    elif todo and executor in ("slurm", "slurm:local"):
        local = executor == "slurm:local"
        size = runs_per_task or (max(1, -(-len(todo) // max(1, os.cpu_count() or 1))) if local else 1)
        dev = device if device != "auto" else ("cpu" if local and not gpus_per_node else "cuda")
        gpn = gpus_per_node if not (local and dev == "cpu") else 0
        orders = [job(g, data, need, out_dir, preset, dev, threads, compile, checkpoints) for g in groups(todo, size)]
        params = slurm_params(partition, parse_time(time_limit), gpn, slurm_extra, local, f"precplan-{preset}")
        results = run_submitit(orders, out_dir, ids, console, local, params, wait)
        if not wait:
            return [j.job_id for j in results]
        label = f"submitit {'local' if local else 'SLURM'}: {len(orders)} task(s)"
    elif todo and executor == "ray":
        dev = device if device != "auto" else "cuda"
        orders = [job(g, data, need, out_dir, preset, dev, threads, compile, checkpoints) for g in groups(todo, runs_per_task or 1)]
        results = run_ray(orders, out_dir, ids, console, 0 if dev == "cpu" else 1)
        label = f"Ray: {len(orders)} task(s)"
    devices_seen = sorted({r["device"] for r in results if r.get("ran")}) or [label]
    warnings = sorted({w for r in results for w in r.get("warnings", [])})
    from precplan.validate._store import finished_ids

    done = finished_ids(out_dir)
    return SweepSummary(
        preset=preset, store=str(Path(out_dir)), shard=shard, planned=len(todo) + skipped, skipped=skipped,
        ran=sum(r["ran"] for r in results), diverged=sum(r["diverged"] for r in results),
        wall_s=time.perf_counter() - t0, device=f"{label} ({'; '.join(devices_seen)})", data=source.name,
        warnings=warnings, elsewhere=sum(1 for i in ids if i not in done),
    )
