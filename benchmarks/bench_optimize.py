"""Speed targets of ``precplan optimize`` (issue 3). Run: ``python benchmarks/bench_optimize.py``.

(a) cold wall time of ``precplan optimize --budget 1e21`` in a fresh interpreter, divided by the
    time of ``python -c "import numpy, scipy.optimize, typer, rich, yaml"`` (target <= 1.3);
(b) a 1,000-budget sweep through the Python API, planner included (target < 1 s on one core).
Medians over several repetitions; both commands are run alternately so that disk caches and
machine load affect them alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

BASELINE = [sys.executable, "-c", "import numpy, scipy.optimize, typer, rich, yaml"]
COMMAND = [sys.executable, "-m", "precplan", "optimize", "--budget", "1e21"]


def wall(cmd: list[str]) -> float:
    env = dict(os.environ, COLUMNS="120")
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t0


def startup(reps: int) -> tuple[float, float]:
    wall(BASELINE), wall(COMMAND)  # warm the file cache once
    base, cmd = [], []
    for _ in range(reps):
        base.append(wall(BASELINE))
        cmd.append(wall(COMMAND))
    return statistics.median(cmd), statistics.median(base)


def sweep(reps: int, count: int = 1000) -> float:
    import numpy as np

    from precplan import load_law
    from precplan.optimize._planner import optimize_sweep

    law = load_law("kumar2024")
    budgets = np.logspace(19, 25, count)
    optimize_sweep(law, budgets[:10])  # first-call imports out of the timing
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        plans = optimize_sweep(law, budgets)
        times.append(time.perf_counter() - t0)
        assert len(plans) == count and {p.bits.weights for p in plans} == {7.0}
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=9, help="repetitions per measurement (median reported)")
    args = parser.parse_args()
    cmd, base = startup(args.reps)
    ratio = cmd / base
    print(f"(a) cold start: precplan optimize --budget 1e21 {cmd:.3f} s; import numpy, scipy.optimize, typer, rich, yaml {base:.3f} s")
    print(f"    ratio {ratio:.2f} (target <= 1.3): {'PASS' if ratio <= 1.3 else 'FAIL'}")
    t = sweep(args.reps)
    print(f"(b) 1,000-budget sweep via precplan.optimize._planner.optimize_sweep: {t * 1000:.1f} ms (target < 1000 ms): {'PASS' if t < 1 else 'FAIL'}")


if __name__ == "__main__":
    main()
