"""Benchmark: ``precplan fit`` at scale (issue 15), on synthetic runs of Hoffmann et al. 2022's law
(30M-10B parameters, 1B-1T tokens, log-uniform; 1% log-normal noise, seeded).

Prints, in one run:
- the CLI fit (``--json`` to /dev/null) on 10,000 runs divided by the same on 47 runs (target <= 5);
- the CLI fit on 1,000,000 rows: wall and CPU time (target < 120 s) and peak memory (max RSS);
- on sizes where the full grid still runs, the Huber objective of the subsample-then-refine fit
  against the full 4,500-start grid on every run (target: no worse).

Each fit is a fresh process on one core (OMP_NUM_THREADS=1); CPU time (user + sys) is printed next
to wall time because a shared machine stretches wall time. Run:
``python benchmarks/bench_fit_scale.py [--rows 1000000] [--check 1000,2000] [--repeat 1]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RATIO_TARGET = 5.0
MILLION_TARGET_S = 120.0


def write_runs(path: Path, n: int, seed: int = 0) -> Path:
    from precplan.laws._file import load_law

    law = load_law("hoffmann2022")
    rng = np.random.default_rng(seed)
    N = np.exp(rng.uniform(np.log(3e7), np.log(1e10), n))
    D = np.exp(rng.uniform(np.log(1e9), np.log(1e12), n))
    L = law.loss(N, D) * np.exp(rng.normal(0, 0.01, n))
    with open(path, "w") as fh:
        fh.write("params,tokens,loss\n")
        for lo in range(0, n, 100_000):
            block = np.stack([N[lo:lo + 100_000], D[lo:lo + 100_000], L[lo:lo + 100_000]], axis=1)
            np.savetxt(fh, block, delimiter=",", fmt="%.17g")
    return path


def run_fit(path: Path, *extra: str, json_to: str = os.devnull) -> dict:
    """One CLI fit in a fresh process: wall, CPU (user + sys) seconds, peak RSS (MiB), exit code."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    root = Path(__file__).resolve().parents[1]
    with open(json_to, "w") as out:
        t = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "precplan", "fit", str(path), "--json", *extra], cwd=root,
                                env=env, stdout=out, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
    err = proc.stderr.read().decode() if proc.stderr else ""
    rc = os.waitstatus_to_exitcode(status)
    if rc != 0:
        raise SystemExit(f"fit {path.name} failed ({rc}): {err.strip()[-500:]}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mib": usage.ru_maxrss / 1024}


def best_of(repeat: int, path: Path, *extra: str) -> dict:
    runs = [run_fit(path, *extra) for _ in range(repeat)]
    return min(runs, key=lambda r: r["cpu"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows of the big fit (0: skip)")
    ap.add_argument("--check", default="1000", help="sizes to compare with the full grid, e.g. 1000,2000 ('': skip)")
    ap.add_argument("--repeat", type=int, default=1, help="repeats of the 47- and 10,000-run fits (best CPU taken)")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores, load average {load:.1f}" + (" (busy: wall times are stretched; compare CPU)"
                                                                       if load > (os.cpu_count() or 1) else ""))
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        small = best_of(args.repeat, write_runs(d / "runs47.csv", 47))
        big = best_of(args.repeat, write_runs(d / "runs10k.csv", 10_000))
        for label, r in (("47 runs", small), ("10,000 runs", big)):
            print(f"fit {label:>12}: wall {r['wall']:6.1f} s, CPU {r['cpu']:6.1f} s, peak {r['rss_mib']:5.0f} MiB")
        ratio_cpu, ratio_wall = big["cpu"] / small["cpu"], big["wall"] / small["wall"]
        print(f"10,000 / 47 runs: CPU ratio {ratio_cpu:.2f}, wall ratio {ratio_wall:.2f} (target <= {RATIO_TARGET:g}:"
              f" {'PASS' if ratio_cpu <= RATIO_TARGET else 'FAIL'}); 10,000 runs under 30 s CPU:"
              f" {'PASS' if big['cpu'] < 30 else 'FAIL'}")
        if args.rows:
            path = write_runs(d / "runs_big.csv", args.rows)
            r = run_fit(path)
            print(f"fit {args.rows:,} rows ({path.stat().st_size / 2**20:.0f} MiB CSV): wall {r['wall']:.1f} s, CPU {r['cpu']:.1f} s,"
                  f" peak {r['rss_mib']:.0f} MiB (target < {MILLION_TARGET_S:g} s: {'PASS' if r['cpu'] < MILLION_TARGET_S else 'FAIL'} on CPU,"
                  f" {'PASS' if r['wall'] < MILLION_TARGET_S else 'FAIL'} on wall)")
        for n in [int(s) for s in args.check.split(",") if s.strip()]:
            path = write_runs(d / f"check{n}.csv", n, seed=n)
            fast, full = d / "fast.json", d / "full.json"
            rf, rg = run_fit(path, json_to=str(fast)), run_fit(path, "--subsample", "0", json_to=str(full))
            a, b = (json.loads(p.read_text()) for p in (fast, full))
            fa, fb = a["stages"]["base"]["objective"], b["stages"]["base"]["objective"]
            worst = max(abs(a["coefficients"][k] / b["coefficients"][k] - 1) for k in a["coefficients"])
            print(f"{n:,} runs: Huber objective subsample+refine {fa:.12g} vs full grid {fb:.12g}"
                  f" ({'no worse' if fa <= fb * (1 + 1e-9) else 'WORSE'}; coefficients within {worst:.1e} relative);"
                  f" CPU {rf['cpu']:.1f} s vs {rg['cpu']:.1f} s")


if __name__ == "__main__":
    main()
