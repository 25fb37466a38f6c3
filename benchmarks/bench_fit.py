"""Benchmark: Hoffmann's full 4,500-start grid fit of the Chinchilla form on 250 runs.

Target (issue 5): under 10 s on a 2-core machine. Also times the straightforward way (scipy's
L-BFGS-B run start by start, on a sample of starts, extrapolated to 4,500) and prints the
ratio. Run: ``python benchmarks/bench_fit.py [--runs 250] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

TARGET_S = 10.0


def synthetic_runs(n: int, seed: int = 0) -> list[dict]:
    """n runs of Hoffmann et al.'s law over 30M-10B parameters and 1B-1T tokens, 1% noise."""
    from precplan.laws._file import load_law

    law = load_law("hoffmann2022")
    rng = np.random.default_rng(seed)
    N = np.exp(rng.uniform(np.log(3e7), np.log(1e10), n))
    D = np.exp(rng.uniform(np.log(1e9), np.log(1e12), n))
    L = law.loss(N, D) * np.exp(rng.normal(0, 0.01, n))
    return [{"params": a, "tokens": b, "loss": c} for a, b, c in zip(N, D, L)]


def scipy_per_start(records: list[dict], sample: int) -> float:
    """Seconds per start of scipy L-BFGS-B on the same objective, one start at a time."""
    from scipy.optimize import minimize

    from precplan.fit._grids import base_grid
    from precplan.fit._models import ChinchillaModel
    from precplan.fit._objective import Objective

    N = np.array([r["params"] for r in records])
    D = np.array([r["tokens"] for r in records])
    y = np.log([r["loss"] for r in records])
    model = ChinchillaModel(N, D)
    fun = Objective(model, y).single(0)
    grid = base_grid("full")
    picks = np.random.default_rng(1).choice(len(grid), sample, replace=False)
    t = time.perf_counter()
    for i in picks:
        minimize(fun, grid[i], jac=True, method="L-BFGS-B", bounds=list(zip(model.lower, model.upper)),
                 options={"ftol": 1e-12, "gtol": 1e-10, "maxiter": 5000})
    return (time.perf_counter() - t) / sample


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=250)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scipy-sample", type=int, default=300, help="starts timed for the scipy baseline (0: skip)")
    args = ap.parse_args()

    from precplan.fit._fit import fit_law

    records = synthetic_runs(args.runs)
    fit_law(records[:20], grid="coarse")  # warm imports
    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        result = fit_law(records, grid="full")
        times.append(time.perf_counter() - t)
    best = min(times)
    s = result.stages["base"]
    print(f"full grid fit: {args.runs} runs, {s['starts']} starts, {s['starts_at_best']} reached the best fit,"
          f" converged={s['converged']}")
    print(f"fitted: " + ", ".join(f"{k}={v:.4g}" for k, v in result.coefficients.items()))
    print(f"wall time: best {best:.2f} s, median {np.median(times):.2f} s over {args.repeat} runs")
    print(f"target {TARGET_S:.0f} s: ratio time/target = {best / TARGET_S:.2f} ({'PASS' if best < TARGET_S else 'FAIL'})")
    if args.scipy_sample:
        per = scipy_per_start(records, args.scipy_sample)
        print(f"scipy L-BFGS-B one start at a time: {per * 1e3:.2f} ms/start -> {per * s['starts']:.1f} s for the grid;"
              f" speed-up of the batched fit: {per * s['starts'] / best:.1f}x")


if __name__ == "__main__":
    main()
