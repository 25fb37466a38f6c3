"""Benchmark: the cost of the numeric N/D solves of ``optimize`` (issue 15, "fast at scale").

For a sweep of budgets (default 10,000, log-spaced 1e21..1e25, law kumar2024) times
:meth:`precplan.optimize.Planner.solve` for each request kind and prints its per-budget cost
divided by that of the plain request (a budget, integer bits 3..16: a closed form per
candidate). Target: at most 5x for the inference-aware, PTQ-aware and memory-capped/untied
kinds. Target-loss requests (one solve, no budget axis) are printed for information, in ms.
Times are medians of ``--repeat`` runs of CPU time (``time.process_time``: this process only,
so a loaded machine skews them less), kinds interleaved with the plain run.
Run: ``python benchmarks/bench_solve.py [--budgets 10000] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time

TARGET = 5.0


def cases():
    from precplan.costs import GpuSpec

    return {
        "inference tokens 1e13": {"inference_tokens": 1e13},
        "PTQ to 4 bits": {"inference_precision": 4},
        "inference 1e13 + PTQ 4": {"inference_tokens": 1e13, "inference_precision": 4},
        "memory 8GB": {"memory": 8e9},
        "memory 8GB + untied": {"memory": 8e9, "untied": True},
        "serve memory 8GB + PTQ 4": {"serve_memory": 8e9, "inference_precision": 4},
        "h100 + inference 1e13": {"gpu": GpuSpec("h100"), "inference_tokens": 1e13},
    }


TARGET_CASES = {
    "target 3.0 + inference 1e13": {"target_loss": 3.0, "inference_tokens": 1e13},
    "target 3.0 + inference 1e13 + PTQ 4": {"target_loss": 3.0, "inference_tokens": 1e13, "inference_precision": 4},
    "target 3.0 + PTQ 4": {"target_loss": 3.0, "inference_precision": 4},
}


def cpu_time(fn, repeat: int) -> float:
    gc.collect()
    t = time.process_time()
    for _ in range(repeat):
        fn()
    return (time.process_time() - t) / repeat


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budgets", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    import numpy as np

    from precplan.laws import load_law
    from precplan.optimize import make_planner

    law = load_law("kumar2024")
    budgets = np.logspace(21, 25, args.budgets)
    plain = make_planner(law, has_budget=True)
    plain.solve(budgets)  # warm up
    print(f"Planner.solve over {args.budgets:,} budgets (1e21..1e25, kumar2024): per-budget CPU time relative to the plain"
          f" request (median of {args.repeat})")
    ok = True
    base_runs = []
    for name, options in cases().items():
        planner = make_planner(law, has_budget=True, **options)
        planner.solve(budgets)  # warm up
        base, runs = [], []
        for _ in range(args.repeat):
            base.append(cpu_time(lambda: plain.solve(budgets), 1))
            runs.append(cpu_time(lambda: planner.solve(budgets), 1))
        base_runs += base
        b, t = statistics.median(base), statistics.median(runs)
        ratio = t / b
        ok &= ratio <= TARGET
        print(f"  {name:<28} {t / args.budgets * 1e6:8.2f} us/budget   plain {b / args.budgets * 1e6:6.2f} us/budget"
              f"   ratio {ratio:5.2f}x (target <= {TARGET:g}x) {'PASS' if ratio <= TARGET else 'FAIL'}")
    one = np.array([1e23])
    single = statistics.median(cpu_time(lambda: plain.solve(one), 20) for _ in range(args.repeat))
    print(f"target-loss mode (one solve; a plain one-budget solve takes {single * 1e3:.2f} ms), for information:")
    for name, options in TARGET_CASES.items():
        planner = make_planner(law, has_budget=False, **options)
        planner.solve()
        t = statistics.median(cpu_time(planner.solve, 5) for _ in range(args.repeat))
        print(f"  {name:<36} {t * 1e3:8.2f} ms")
    print(f"target: inference-aware, PTQ-aware and memory-capped/untied solves <= {TARGET:g}x the plain one per budget:"
          f" {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
