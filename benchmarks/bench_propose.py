"""Benchmark: does ``propose`` beat the obvious ways of choosing small runs? A simulation.

A known law, Epoch's refit of Chinchilla (Besiroglu et al. 2024, Table 1; laws/besiroglu2024.yaml),
plays the truth; a "training run" returns its loss times exp(noise), noise ~ N(0, 0.01) in log
loss (an ASSUMED run-to-run noise of ~1%). Three strategies spend the same experiment compute
(``--budget`` FLOPs, no single run above half of it), then the law is fit to their runs and
judged at a target budget 100x beyond the largest allowed run (50 x ``--budget``):

- ``propose``: precplan.propose's seed design (30% of the budget), then rounds of
  fit -> parametric bootstrap (refits to the fitted losses plus noise of the residual sd) ->
  :func:`precplan.propose.select_runs` (expected variance reduction of log N* and of the loss
  at the target, per cost^0.4; up to 6 runs a round) -> "train", 3 rounds;
- ``random``: chinchilla-style (kyo-takano/chinchilla, docs/TIPS.md): 5 seed runs log-uniform in
  compute and in tokens per parameter, then each round a run at 2x the previous compute at the
  fitted law's compute-optimal N;
- ``grid``: a fixed grid of 4 sizes x 3 tokens per parameter (10, 20, 40), scaled to the budget.

Every strategy is fit the same way: least squares on log loss (5 coefficients, 8 seeded
starts). Printed: the error of N* and of the predicted loss at the target, per strategy (mean
over seeds), the error ratio random / propose at equal compute, and the compute ``propose``
needed to reach random's final N* error (from its mean error after each round; its seed design
alone may already do it). Default run (5 seeds): about 5 minutes on 2 shared cores. Run: ``python benchmarks/bench_propose.py [--seeds 0,1,2,3,4] [--budget 1e20]``.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from scipy.optimize import least_squares

NOISE = 0.01  # sd of log loss per run (assumed)
MIN_PARAMS = 1e7


def true_theta() -> np.ndarray:
    from precplan.laws import load_law

    c = load_law("besiroglu2024").coefficients
    return np.array([c[k].value for k in ("E", "A", "B", "alpha", "beta")])


def train(theta: np.ndarray, N: np.ndarray, D: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    E, A, B, a, b = theta
    return (E + A * N ** -a + B * D ** -b) * np.exp(rng.normal(0.0, NOISE, np.size(N)))


def fit(N: np.ndarray, D: np.ndarray, L: np.ndarray, starts: int = 8) -> np.ndarray:
    """Least squares on log loss over (log E, log A, log B, alpha, beta), best of seeded starts."""
    lN, lD, y = np.log(N), np.log(D), np.log(L)

    def res(p):
        return np.logaddexp(np.logaddexp(p[0], p[1] - p[3] * lN), p[2] - p[4] * lD) - y

    rng = np.random.default_rng(12345)
    lo, hi = [-1.0, 0.0, 0.0, 0.05, 0.05], [1.5, 15.0, 15.0, 1.2, 1.2]
    best = None
    for _ in range(starts):
        x0 = [rng.uniform(0, 1), rng.uniform(3, 9), rng.uniform(3, 9), rng.uniform(0.2, 0.6), rng.uniform(0.2, 0.6)]
        r = least_squares(res, x0, bounds=(lo, hi), method="trf", x_scale="jac", max_nfev=400)
        if best is None or r.cost < best.cost:
            best = r
    p = best.x
    return np.array([math.exp(p[0]), math.exp(p[1]), math.exp(p[2]), p[3], p[4]])


def n_opt(theta: np.ndarray, budget: float) -> float:
    from precplan.propose import log_n_opt

    return float(np.exp(log_n_opt(theta[None, :], budget)[0]))


def errors(theta_fit: np.ndarray, theta_true: np.ndarray, target: float) -> tuple[float, float]:
    """|log(N*_fit / N*_true)| and |L_fit / L_true - 1| at the true compute-optimal point."""
    nt = n_opt(theta_true, target)
    dt = target / (6 * nt)
    E, A, B, a, b = theta_true
    lt = E + A * nt ** -a + B * dt ** -b
    E, A, B, a, b = theta_fit
    lf = E + A * nt ** -a + B * dt ** -b
    return abs(math.log(n_opt(theta_fit, target) / nt)), abs(lf / lt - 1)


def strat_propose(theta, budget, cap, target, rng, rounds=3, k=6, boot=40):
    from precplan.propose import candidate_grid, log_loss, log_n_opt, seed_design, select_runs

    seed = seed_design(0.3 * budget)
    N = np.array([r.params for r in seed])
    D = np.array([r.tokens for r in seed])
    L = train(theta, N, D, rng)
    spent = float(np.sum(6 * N * D))
    path = [(spent, fit(N, D, L))]
    for rd in range(rounds):
        allowance = (budget - spent) / (rounds - rd)
        th = fit(N, D, L)
        E, A, B, a, b = th
        mu = np.log(E + A * N ** -a + B * D ** -b)
        sd = max(float(np.sqrt(np.sum((np.log(L) - mu) ** 2) / max(N.size - 5, 1))), 0.005)
        samples = [th] + [fit(N, D, np.exp(mu + rng.normal(0, sd, N.size)), starts=2) for _ in range(boot)]
        samples = np.array(samples)
        q = log_n_opt(samples, target)
        lo, hi = np.nanquantile(q, [0.02, 0.98])  # as precplan.propose does: outlying refits would dominate a variance
        samples, q = samples[(q >= lo) & (q <= hi)], q[(q >= lo) & (q <= hi)]
        n_med = float(np.exp(np.median(q)))
        q = np.column_stack([q, log_loss(samples, [n_med], [target / (6 * n_med)])[:, 0]])  # N* and the loss there
        cn, cd = candidate_grid(None, min(allowance, cap), max(MIN_PARAMS, N.min()), math.sqrt(min(allowance, cap) / 30))
        sel = select_runs(samples, q, cn, cd, NOISE, min(allowance, cap), k)
        if not sel.picks:
            break
        nN, nD = cn[list(sel.picks)], cd[list(sel.picks)]
        N, D, L = np.r_[N, nN], np.r_[D, nD], np.r_[L, train(theta, nN, nD, rng)]
        spent += float(np.sum(6 * nN * nD))
        path.append((spent, fit(N, D, L)))
    return N, D, L, path


def strat_random(theta, budget, cap, target, rng):
    lo, hi = budget / 3000, budget / 300
    c = np.exp(rng.uniform(np.log(lo), np.log(hi), 5))
    r = np.exp(rng.uniform(np.log(5), np.log(200), 5))
    N = np.maximum(MIN_PARAMS, np.sqrt(c / (6 * r)))
    D = c / (6 * N)
    L = train(theta, N, D, rng)
    spent, nxt = float(np.sum(c)), float(c.max())
    while spent < budget * 0.999:
        nxt = min(2 * nxt, cap, budget - spent)
        th = fit(N, D, L)
        n = min(max(MIN_PARAMS, n_opt(th, nxt)), math.sqrt(nxt / 6))
        d = nxt / (6 * n)
        N, D, L = np.r_[N, n], np.r_[D, d], np.r_[L, train(theta, np.array([n]), np.array([d]), rng)]
        spent += 6 * n * d
    return N, D, L


def strat_grid(theta, budget, rng):
    sizes, ratios = 2.0 ** np.arange(4), np.array([10.0, 20.0, 40.0])
    S, R = np.meshgrid(sizes, ratios, indexing="ij")
    base = math.sqrt(budget / np.sum(6 * S**2 * R))
    N, D = (S * base).ravel(), (S * base * R).ravel()
    return N, D, train(theta, N, D, rng)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated RNG seeds")
    ap.add_argument("--budget", type=float, default=1e20, help="experiment compute per strategy, FLOPs")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    theta = true_theta()
    budget, cap = args.budget, args.budget / 2
    target = 100 * cap
    t0 = time.perf_counter()
    res = {"propose": [], "random": [], "grid": []}
    paths = []
    for s in seeds:
        N, D, L, path = strat_propose(theta, budget, cap, target, np.random.default_rng(s))
        res["propose"].append((errors(fit(N, D, L), theta, target), float(np.sum(6 * N * D))))
        paths.append([(c, errors(th, theta, target)[0]) for c, th in path])
        N, D, L = strat_random(theta, budget, cap, target, np.random.default_rng(1000 + s))
        res["random"].append((errors(fit(N, D, L), theta, target), float(np.sum(6 * N * D))))
        N, D, L = strat_grid(theta, budget, np.random.default_rng(2000 + s))
        res["grid"].append((errors(fit(N, D, L), theta, target), float(np.sum(6 * N * D))))
    print(f"truth: besiroglu2024; noise sd {NOISE} in log loss; experiment budget {budget:.3g} FLOPs per strategy;"
          f" target {target:.3g} FLOPs (100x the largest allowed run); seeds {seeds}")
    mean = {}
    for name, rows in res.items():
        en = float(np.mean([r[0][0] for r in rows]))
        el = float(np.mean([r[0][1] for r in rows]))
        used = float(np.mean([r[1] for r in rows]))
        mean[name] = (en, el)
        print(f"  {name:8s} N* error {math.exp(en) - 1:7.1%} (|log| {en:.3f})   loss error {el:.2%}   compute used {used:.3g}")
    ratio_n = mean["random"][0] / mean["propose"][0]
    ratio_l = mean["random"][1] / mean["propose"][1]
    print(f"error ratio random / propose at equal compute: N* {ratio_n:.2f}x, loss {ratio_l:.2f}x"
          f" (grid / propose: N* {mean['grid'][0] / mean['propose'][0]:.2f}x)")
    steps = min(len(p) for p in paths)
    curve = [(float(np.mean([p[i][0] for p in paths])), float(np.mean([p[i][1] for p in paths]))) for i in range(steps)]
    reach = next((c for c, e in curve if e <= mean["random"][0]), None)
    print("propose after each round (mean over seeds): " + ", ".join(f"{c:.3g} FLOPs -> N* error {math.exp(e) - 1:.1%}" for c, e in curve))
    if reach is None:
        print("compute ratio: propose did not reach random's final N* error within the budget")
    else:
        print(f"compute ratio: propose reaches random's final N* error with {reach / budget:.0%} of the compute ({reach:.3g} FLOPs)")
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
