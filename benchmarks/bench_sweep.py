"""Benchmark: budget sweeps of ``precplan optimize`` (issue 15). Run: ``python benchmarks/bench_sweep.py``.

Prints, in one run:
(a) the 10,000-budget CLI sweep (``--budget 1e19:1e25:10000 --json`` to /dev/null) divided by a
    single-budget CLI call (``--budget 1e21 --json``): target at most 2; and the sweep's peak
    memory (max RSS of the process): target under 150 MB. The same for ``--json-columns`` and
    ``--csv``.
(b) per-budget cost of a whole sweep through the library (``Planner.sweep``: solve, comparison
    rows, decomposition, costs) for inference-aware, PTQ-aware and memory-capped requests,
    divided by the plain request's: target at most 5x.

Each CLI measurement is a fresh process; the commands run alternately, several times, and the
median is reported, so machine load and disk caches affect both sides alike. CPU time (user +
sys) is printed next to wall time because a shared machine stretches wall time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

SINGLE = ["--budget", "1e21", "--json"]
SWEEP = ["--budget", "1e19:1e25:10000"]
RATIO_TARGET = 2.0
MEMORY_TARGET_MB = 150.0
PER_BUDGET_TARGET = 5.0


def run_cli(args: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of ``precplan optimize ARGS`` in a fresh process."""
    cmd = [sys.executable, "-m", "precplan", "optimize", *args]
    env = dict(os.environ, COLUMNS="120", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0


def cli(reps: int) -> None:
    variants = {"--json": SWEEP + ["--json"], "--json-columns": SWEEP + ["--json-columns"], "--csv -": SWEEP + ["--csv", "-"]}
    run_cli(SINGLE)  # warm the file cache
    single: list[tuple[float, float, float]] = []
    swept: dict[str, list[tuple[float, float, float]]] = {k: [] for k in variants}
    for _ in range(reps):
        single.append(run_cli(SINGLE))
        for k, args in variants.items():
            swept[k].append(run_cli(args))
    med = lambda rows, j: statistics.median(r[j] for r in rows)  # noqa: E731
    s_wall, s_cpu = med(single, 0), med(single, 1)
    print(f"(a) single budget (optimize --budget 1e21 --json): wall {s_wall:.3f} s, CPU {s_cpu:.3f} s, peak {med(single, 2):.0f} MB")
    for k, rows in swept.items():
        wall, cpu, peak = med(rows, 0), med(rows, 1), max(r[2] for r in rows)
        ok = wall / s_wall <= RATIO_TARGET and peak < MEMORY_TARGET_MB
        print(f"    10,000 budgets {k:15s} wall {wall:.3f} s ({wall / s_wall:.2f}x), CPU {cpu:.3f} s ({cpu / s_cpu:.2f}x), peak {peak:.0f} MB"
              f"  (targets <= {RATIO_TARGET:g}x, < {MEMORY_TARGET_MB:g} MB): {'PASS' if ok else 'FAIL'}")


def per_budget(reps: int, count: int = 10_000) -> None:
    import numpy as np

    from precplan import load_law
    from precplan.optimize import make_planner

    law = load_law("kumar2024")
    budgets = np.logspace(21, 25, count)
    cases = {
        "plain": {},
        "inference-aware (1e13 tokens served)": dict(inference_tokens=1e13),
        "PTQ-aware (served at 4 bits)": dict(inference_precision=4),
        "PTQ + inference": dict(inference_precision=4, inference_tokens=1e13),
        "memory-capped (--memory 8e9)": dict(memory=8e9),
        "serve-memory-capped at 4 bits": dict(serve_memory=8e9, inference_precision=4),
    }
    times = {}
    for name, options in cases.items():
        planner = make_planner(law, has_budget=True, **options)
        planner.sweep(budgets[:16])  # first-call imports out of the timing
        runs = []
        for _ in range(reps):
            t0 = time.perf_counter()
            planner.sweep(budgets)
            runs.append(time.perf_counter() - t0)
        times[name] = statistics.median(runs) / count
    base = times["plain"]
    print(f"(b) per-budget cost of Planner.sweep over {count:,} budgets (solve + comparison rows + costs), relative to plain:")
    for name, t in times.items():
        if name == "plain":
            print(f"    {name:40s} {t * 1e6:8.1f} us/budget")
            continue
        r = t / base
        print(f"    {name:40s} {t * 1e6:8.1f} us/budget  {r:6.2f}x  (target <= {PER_BUDGET_TARGET:g}x): {'PASS' if r <= PER_BUDGET_TARGET else 'FAIL'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="repetitions per measurement (median reported)")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    cli(args.reps)
    per_budget(args.reps)


if __name__ == "__main__":
    main()
