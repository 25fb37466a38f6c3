"""Benchmark: ``validate --preset smoke --executor slurm:local`` without ``--threads`` against
the same with ``--threads 1``.

Issue 24: submitit's local backend starts one task per core, and each task's torch used every
core (64 s against 26 s with ``--threads 1`` on a quiet 2-core machine). Each worker now sets
torch's threads to its share of the machine (cores / workers running at once), so the default
should cost no more than 1.5x ``--threads 1``. Run on a quiet machine (other load distorts both
timings, not only the ratio): ``python benchmarks/bench_threads.py [--preset smoke] [--repeat 1]``.
Prints each wall time, the ratio and whether it meets the target.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 1.5
ROOT = Path(__file__).resolve().parents[1]


def one(preset: str, threads: bool) -> float:
    """Wall seconds of one whole sweep into a fresh folder (training, report included)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "precplan", "validate", "--preset", preset, "--executor", "slurm:local",
               "--device", "cpu", "--out", str(Path(tmp) / "out"), "--fit-grid", "coarse", "--json"]
        if threads:
            cmd += ["--threads", "1"]
        env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
        t0 = time.perf_counter()
        res = subprocess.run(cmd, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if res.returncode != 0:
            raise SystemExit(f"validate failed (exit {res.returncode}): {res.stderr[-1000:]}")
        return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="smoke")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{cores} cores, load average {load:.2f} at start")
    default, single = [], []
    for _ in range(args.repeat):  # interleaved, so slow drifts in load hit both alike
        default.append(one(args.preset, threads=False))
        single.append(one(args.preset, threads=True))
    d, s = min(default), min(single)
    print(f"without --threads: {', '.join(f'{x:.1f}' for x in default)} s")
    print(f"with --threads 1:  {', '.join(f'{x:.1f}' for x in single)} s")
    ratio = d / s
    print(f"ratio {ratio:.2f}x (target <= {TARGET}x): {'met' if ratio <= TARGET else 'NOT met'}")


if __name__ == "__main__":
    main()
