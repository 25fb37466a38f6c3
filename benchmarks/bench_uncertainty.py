"""Benchmark: the cost of intervals in ``optimize``.

Times ``optimize`` (make the planner, solve one budget, build the plan with its comparison rows)
with a law without coefficient samples, and the same with 1,000 samples (the plan plus
:func:`precplan.optimize._uncertainty.annotate`, which re-solves the plan for every sample at
once), and prints the ratio. Target (issue 13): at most 5x for the default request (a budget,
the integer precision search 3..16). The other request shapes are printed for information:
each multiplies the planner's candidate grid by the sample count.
Run: ``python benchmarks/bench_uncertainty.py [--samples 1000] [--repeat 21]``.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time

TARGET = 5.0
CASES = {
    "default (budget, 3..16 bits)": {},
    "memory-capped": {"memory": 2e9},
    "continuous bits": {"continuous": True},
    "inference tokens 1T": {"inference_tokens": 1e12},
    "PTQ to 4 bits": {"inference_precision": 4},
    "untied (w/a/kv)": {"untied": True},
}


def with_samples(law, count: int, seed: int = 0):
    """``law`` with ``count`` coefficient vectors drawn around its values (5% log-normal spread)."""
    from dataclasses import replace

    import numpy as np

    from precplan.laws import BASE
    from precplan.laws._law import Samples

    rng = np.random.default_rng(seed)
    names = tuple(BASE)
    values = np.column_stack([law.c(n) * np.exp(rng.normal(0.0, 0.05, count)) for n in names])
    return replace(law, samples=Samples(names, values, f"benchmark: {count} synthetic draws"))


def timed_pair(plain, sampled, repeat: int) -> tuple[float, float]:
    """Median CPU time (``time.process_time``: this process only, so a loaded machine does not
    skew it) of ``repeat`` single calls of each, the two interleaved, garbage collected before
    each call."""
    plain(), sampled()  # warm up
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for k, fn in enumerate((plain, sampled)):
            gc.collect()
            t = time.process_time()
            fn()
            times[k].append(time.process_time() - t)
    return statistics.median(times[0]), statistics.median(times[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=21)
    ap.add_argument("--budget", type=float, default=1e23)
    args = ap.parse_args()

    from precplan.laws import load_law
    from precplan.optimize import make_planner
    from precplan.optimize._uncertainty import annotate

    plain_law = load_law("kumar2024")
    sampled_law = with_samples(plain_law, args.samples)

    def run(law, options, intervals):
        planner = make_planner(law, has_budget=True, **options)
        plans = planner.plans(args.budget)
        return annotate(planner, plans) if intervals else plans

    print(f"optimize --budget {args.budget:g}: plain vs {args.samples} coefficient samples (median CPU time of {args.repeat}, interleaved)")
    ok = True
    for name, options in CASES.items():
        plain, sampled = timed_pair(lambda: run(plain_law, options, False), lambda: run(sampled_law, options, True), args.repeat)
        ratio = sampled / plain
        verdict = ""
        if name.startswith("default"):
            verdict = "  PASS" if ratio <= TARGET else "  FAIL"
            ok &= ratio <= TARGET
        print(f"  {name:<30} plain {plain * 1e3:8.1f} ms   with samples {sampled * 1e3:8.1f} ms   ratio {ratio:6.2f}x{verdict}")
    print(f"target: default request <= {TARGET:g}x: {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
