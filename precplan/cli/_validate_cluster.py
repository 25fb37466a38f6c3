"""``validate``'s cluster options (executors, retries, Ray resources) checked in one place before
anything is created, and the end-of-sweep failure lines."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any, Sequence

from precplan.errors import PrecplanError

__all__ = ["cluster_options", "failure_lines", "sweep_start"]


def cluster_options(executor: str, devices: str | None, device: str, runs_per_task: int | None, partition: str | None,
                    time_limit: str | None, gpus_per_node: int, slurm_param: Sequence[str], gpus_per_run: float | None,
                    cpus_per_run: float | None, mem_per_run: str | None, queue_timeout: float, retry: int,
                    retry_failed: bool) -> Any:
    """The :class:`ClusterOptions` of these flags, or one line saying which is wrong; checks what
    can be checked before submitting (SLURM's commands, ``--time``, ``--slurm-param``, ray)."""
    from precplan.validate import ClusterOptions, RayResources, check_cluster

    if devices is not None and executor != "local":
        raise PrecplanError("--devices is for one machine (--executor local); a cluster executor gives each task its own GPU")
    if runs_per_task is not None and runs_per_task < 1:
        raise PrecplanError(f"--runs-per-task {runs_per_task}: expected a positive number")
    if retry < 0:
        raise PrecplanError(f"--retry {retry}: expected a number of retries >= 0")
    if queue_timeout <= 0:
        raise PrecplanError(f"--queue-timeout {queue_timeout:g}: expected a positive number of seconds")
    ray_flags = {"--gpus-per-run": gpus_per_run, "--cpus-per-run": cpus_per_run, "--mem-per-run": mem_per_run}
    given = [k for k, v in ray_flags.items() if v is not None]
    if given and executor != "ray":
        raise PrecplanError(f"{given[0]} is a Ray setting: give it with --executor ray (SLURM: --gpus-per-node,"
                            " --slurm-param cpus_per_task=.. mem=..)")
    for flag, v in (("--gpus-per-run", gpus_per_run), ("--cpus-per-run", cpus_per_run)):
        if v is not None and v < 0:
            raise PrecplanError(f"{flag} {v:g}: expected a number >= 0")
    if gpus_per_run == 0 and device == "cuda":
        raise PrecplanError("--gpus-per-run 0 with --device cuda: a run on a GPU needs one")
    check_cluster(executor, time_limit, tuple(slurm_param), partition)
    ray = None
    if executor == "ray":
        from precplan.units import parse_bytes

        memory = parse_bytes(mem_per_run, "--mem-per-run") if mem_per_run is not None else None
        if gpus_per_run is None:
            from precplan.validate import ray_gpus

            # without --device: a GPU per run only where the cluster has GPUs (else every task would wait forever)
            gpus_per_run = 0.0 if device == "cpu" else 1.0 if device == "cuda" else (1.0 if ray_gpus() > 0 else 0.0)
        ray = RayResources(gpus=float(gpus_per_run), cpus=float(cpus_per_run or 1), memory=memory)
    return ClusterOptions(runs_per_task=runs_per_task, partition=partition, time_limit=time_limit,
                          gpus_per_node=gpus_per_node, slurm_extra=tuple(slurm_param), ray=ray,
                          queue_timeout=float(queue_timeout), retry=retry, retry_failed=retry_failed)


def sweep_start() -> str:
    """Now, as failure records write it (seconds): failures at or after it are this sweep's."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def failure_lines(out_dir: str | Path, since: str, run_ids: set[str] | None = None) -> tuple[list[str], list[str]]:
    """(one line per failure class of the runs that failed in this sweep, a note on runs that
    failed in an earlier sweep and were not tried again)."""
    from precplan.validate import summarize_failures
    from precplan.validate import read_failures

    failed = [r for r in read_failures(out_dir).values() if run_ids is None or r["run_id"] in run_ids]
    now = [r for r in failed if str(r.get("failed_at", "")) >= since]
    old = len(failed) - len(now)
    notes = [f"{old} run{'s' if old != 1 else ''} failed in an earlier sweep and {'were' if old != 1 else 'was'} not"
             " tried again (--retry-failed tries them)"] if old else []
    return summarize_failures(now), notes
