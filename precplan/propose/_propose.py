"""``propose``: the next runs to train, from the user's runs, a target and a compute allowance.

- With enough runs to fit (at least 6 high-precision runs for the 5 Chinchilla coefficients):
  fit the law (``precplan.fit.fit_law``, form chinchilla) with a bootstrap, and pick runs by the
  expected reduction of the variance of the target prediction per unit cost
  (:mod:`precplan.propose._select`).
- With fewer runs (or none): a seed design after Choshen et al. 2024 ("A Hitchhiker's Guide to
  Scaling Law Estimation", arXiv:2410.11840): at least 5 models, a spread of sizes and of tokens
  per parameter, intermediate checkpoints recorded (fit them; drop those before ~10B tokens at
  real scale).

Costs: 6 N D FLOPs at 16 bits (``precplan.costs``), GPU-hours on ``gpu`` at ``mfu``
(``precplan.costs.GpuSpec``). Proposed runs train at 16 bits: the fitted law has no precision terms.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from precplan.costs import TRAIN_FLOPS, GpuSpec
from precplan.errors import PrecplanError
from precplan.units import format_count, parse_count
from precplan.propose._select import COST_EXPONENT, candidate_grid, log_loss, log_n_opt, select_runs

__all__ = ["MIN_FIT_RUNS", "SEED_MODELS", "ProposedRun", "Proposal", "propose", "seed_design", "proposal_csv"]

MIN_FIT_RUNS = 6  # 5 coefficients (E, A, B, alpha, beta) need at least 6 runs
SEED_MODELS = 5  # Choshen et al. 2024: fit on at least 5 models
SEED_RATIOS = (20.0, 80.0, 10.0, 40.0, 160.0, 5.0, 320.0)  # tokens per parameter, cycled: a spread around ~20
CRITERION = (f"expected reduction of the target's variance (N* and the loss there, each relative to its own) /"
             f" (cost share)^{COST_EXPONENT:g}, greedy, each pick updating"
             " the ensemble covariance (Li et al. 2026, arXiv:2604.22753, sec. 4.2; alpha = 0.4 as in their sec. 5.1)")
CSV_COLUMNS = ("params", "tokens", "weight_bits", "activation_bits", "kv_bits", "flops", "gpu_hours")


@dataclass(frozen=True)
class ProposedRun:
    """One run to train: size, tokens, training bits, its cost, and the share of the target's
    variance it is expected to remove (``None`` in a seed design)."""

    params: float
    tokens: float
    tokens_per_param: float
    weight_bits: int
    activation_bits: int
    kv_bits: int
    flops: float
    gpu_hours: float
    variance_removed: float | None
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Proposal:
    """The runs to train next, their total cost, how they were chosen and what they should do
    to the interval on the target prediction."""

    verdict: str
    mode: str  # "active" (fit + selection) or "seed"
    target: dict[str, float]
    quantity: str
    runs: tuple[ProposedRun, ...]
    total_flops: float
    total_gpu_hours: float
    allowance: float
    gpu: str
    criterion: str
    samples: dict[str, Any]
    level: float
    estimate: float | None
    interval_before: tuple[float, float] | None
    interval_after: tuple[float, float] | None
    existing_runs: int
    loss_interval_before: tuple[float, float] | None = None  # budget target: the loss at N* too
    loss_interval_after: tuple[float, float] | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)



def _target(target_budget: Any, target_params: Any, target_tokens: Any) -> dict[str, float]:
    if target_budget is not None and (target_params is not None or target_tokens is not None):
        raise PrecplanError("give target_budget, or target_params and target_tokens, not both")
    if target_budget is not None:
        return {"budget": parse_count(target_budget, "target_budget")}
    if target_params is None or target_tokens is None:
        raise PrecplanError("give a target: target_budget (FLOPs), or target_params and target_tokens")
    n, d = parse_count(target_params, "target_params"), parse_count(target_tokens, "target_tokens")
    return {"params": n, "tokens": d, "budget": TRAIN_FLOPS * n * d}


def _run(n: float, d: float, spec: GpuSpec, removed: float | None, config: Mapping[str, Any] | None) -> ProposedRun:
    flops = TRAIN_FLOPS * n * d
    return ProposedRun(float(n), float(d), float(d / n), 16, 16, 16, flops, float(spec.seconds(flops)) / 3600.0,
                       removed, dict(config or {}))


def _steps(configs: Mapping[float, Mapping[str, Any]] | None, n: float) -> float | None:
    c = (configs or {}).get(n)
    return None if c is None or "batch_size" not in c or "seq_len" not in c else float(c["batch_size"]) * float(c["seq_len"])


def seed_design(allowance: float, k: int = SEED_MODELS, sizes: Sequence[float] | None = None,
                configs: Mapping[float, Mapping[str, Any]] | None = None, existing: set[tuple[float, float]] | None = None,
                gpu: str = "h100", mfu: float = 0.5) -> tuple[ProposedRun, ...]:
    """A first design (Choshen et al. 2024): max(k, 6) runs (at least 5 models, and the 6 runs a
    5-coefficient fit needs) whose compute doubles from one to
    the next (the chinchilla package's scaling factor 2) and sums to at most ``allowance``, with
    tokens per parameter cycling through 20, 80, 10, 40, 160, ...: a spread of model sizes and of
    data per parameter. ``sizes`` restricts N to those values (cycled through, tokens from the
    same ratios, all scaled down together when they would exceed the allowance), and
    ``configs[N]`` (``batch_size``, ``seq_len``) rounds D down to whole batches.

    Example
    -------
    >>> runs = seed_design(1e21)
    >>> len(runs) >= 6 and sum(r.flops for r in runs) <= 1e21
    True
    """
    allowance = parse_count(allowance, "allowance")
    n_runs = max(int(k), MIN_FIT_RUNS)  # >= 5 models (Choshen et al.), and enough runs to fit the 5 coefficients next
    spec = GpuSpec(gpu, mfu=mfu)
    ratios = np.array([SEED_RATIOS[i % len(SEED_RATIOS)] for i in range(n_runs)])
    if sizes:  # only these sizes: cycle through them (a spread), tokens from the ratios, scaled to the allowance
        pool = sorted(float(x) for x in sizes)
        ns = np.array([pool[i % len(pool)] for i in range(n_runs)])
        ds = ratios * ns
        total = float(np.sum(TRAIN_FLOPS * ns * ds))
        ds = ds * min(1.0, allowance / total)
    else:  # compute doubling from run to run (the chinchilla package's factor 2), summing to the allowance
        costs = allowance * 2.0 ** np.arange(n_runs) / (2.0 ** n_runs - 1)
        ns = np.sqrt(costs / (TRAIN_FLOPS * ratios))
        ds = costs / (TRAIN_FLOPS * ns)
    out, seen = [], set(existing or set())
    for n, d in zip(ns.tolist(), ds.tolist()):
        step = _steps(configs, n)
        if step:
            d = math.floor(d / step) * step
        while (n, d) in seen and step:  # a run already trained or proposed: one batch fewer
            d -= step
        if d < 1 or (n, d) in seen:
            continue
        seen.add((n, d))
        out.append(_run(n, d, spec, None, (configs or {}).get(n)))
    return tuple(out)


def _candidates(runs_n: np.ndarray, allowance: float, sizes: Sequence[float] | None,
                configs: Mapping[float, Mapping[str, Any]] | None) -> tuple[np.ndarray, np.ndarray]:
    if sizes:
        parts = [candidate_grid([s], allowance, s, s, np.geomspace(1, 2048, 12), _steps(configs, s)) for s in sizes]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    n_hi = math.sqrt(allowance / (TRAIN_FLOPS * 5.0))  # the largest model the allowance trains at 5 tokens/param
    n_lo = min(float(runs_n.min()), n_hi / 8.0)  # no smaller than the smallest run: tiny models fit the law worst
    return candidate_grid(None, allowance, n_lo, n_hi)


def propose(
    runs: Any = None, *, allowance: float, target_budget: float | None = None, target_params: float | None = None,
    target_tokens: float | None = None, k: int = 4, gpu: str = "h100", mfu: float = 0.5, level: float = 0.95,
    bootstrap: int = 200, seed: int = 0, grid: str = "coarse", columns: Mapping[str, str] | str | None = None,
    sizes: Sequence[float] | None = None, configs: Mapping[float, Mapping[str, Any]] | None = None,
) -> Proposal:
    """The next runs to train, chosen to shrink the interval on the target prediction the most
    per unit compute.

    Parameters
    ----------
    runs : Runs, path, list of records or None
        The runs so far (CSV/JSONL, a validate store, or ``precplan.fit.Runs``); ``None``: none yet.
    allowance : float
        FLOPs for this round; the proposed runs' total never exceeds it.
    target_budget : float, optional
        Target training compute (FLOPs): the quantity is N* there.
    target_params, target_tokens : float, optional
        A target run instead: the quantity is its loss.
    k : int
        Runs to propose (a seed design proposes at least 5).
    gpu, mfu : str, float
        For GPU-hours (catalog name, model-FLOPs utilization).
    level : float
        Interval level.
    bootstrap : int
        Resamples of the fit (the coefficient samples the criterion uses).
    seed : int
        Bootstrap seed.
    grid : str
        Fit start grid (``coarse`` or ``full``).
    columns : mapping or str, optional
        Column names of the runs file (as ``precplan fit --columns``).
    sizes : sequence of float, optional
        Allowed model sizes N (e.g. the model shapes a validate store can train).
    configs : mapping N -> dict, optional
        Extra columns per size (``shape``, ``batch_size``, ``seq_len``, ...): copied to each run,
        and D is a whole number of batches.

    Returns
    -------
    Proposal

    Raises
    ------
    PrecplanError
        Bad target or allowance, unreadable runs, no run that fits the allowance.

    Example
    -------
    >>> p = propose(None, allowance=1e21, target_budget=1e23)
    >>> p.mode, len(p.runs) >= 5, p.total_flops <= 1e21
    ('seed', True, True)
    """
    from precplan.fit import Runs, fit_law, load_runs

    allowance = parse_count(allowance, "allowance")
    target = _target(target_budget, target_params, target_tokens)
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise PrecplanError(f"k must be a whole number of runs >= 1, got {k!r}")
    if not 0 < float(level) < 1:
        raise PrecplanError(f"level must lie in (0, 1), got {level!r}")
    spec = GpuSpec(gpu, mfu=mfu)
    loaded = None if runs is None else (runs if isinstance(runs, Runs) else load_runs(runs, columns))
    hp = np.zeros(0, dtype=bool) if loaded is None else loaded.high_precision
    existing = set() if loaded is None else {(float(n), float(d)) for n, d in zip(loaded.params, loaded.tokens)}
    quantity = (f"N* at {target['budget']:.3g} FLOPs" if "params" not in target
                else f"loss at N = {target['params']:.3g}, D = {target['tokens']:.3g}")
    common = dict(target=target, quantity=quantity, allowance=allowance, gpu=spec.name, level=float(level),
                  existing_runs=len(existing))
    n_hp = len({(float(n), float(d)) for n, d in zip(loaded.params[hp], loaded.tokens[hp])}) if loaded is not None else 0
    if n_hp < MIN_FIT_RUNS:
        picked = seed_design(allowance, int(k), sizes, configs, existing, gpu, mfu)
        if not picked:
            raise PrecplanError(f"allowance {allowance:.3g} FLOPs is too small for a seed design at these sizes; give a larger allowance")
        notes = [f"{n_hp} high-precision run(s): too few to fit 5 coefficients (needs {MIN_FIT_RUNS}); a seed design instead"
                 " (Choshen et al. 2024, arXiv:2410.11840: at least 5 models, a spread of sizes and tokens per parameter)",
                 "record intermediate checkpoints of every run (validate does, --checkpoints) and fit them with precplan fit"
                 " --curves; at real scale drop checkpoints before ~10B tokens (Choshen et al. 2024)"]
        return _finish(picked, "seed", common, spec, "seed design: no coefficient samples", {"source": None, "count": 0},
                       None, None, None, notes, list(loaded.warnings) if loaded is not None else [])

    fit = fit_law(loaded, form="chinchilla", bootstrap=int(bootstrap), grid=grid, budget=target["budget"], seed=int(seed),
                  level=float(level))
    samples = fit.law.samples
    if samples is None or list(samples.names) != ["E", "A", "B", "alpha", "beta"]:
        raise PrecplanError("the fit produced no bootstrap samples; give bootstrap >= 20")
    theta = np.asarray(samples.values, dtype=float)
    if "params" not in target:  # N* at the budget, and the loss there (at the samples' median N*)
        q = log_n_opt(theta, target["budget"])
        n_med = float(np.exp(np.nanmedian(q)))
        q = np.column_stack([q, log_loss(theta, [n_med], [target["budget"] / (TRAIN_FLOPS * n_med)])[:, 0]])
    else:
        q = log_loss(theta, [target["params"]], [target["tokens"]])
    ok = np.all(np.isfinite(q), axis=1)
    lo_q, hi_q = np.quantile(q[ok, 0], [0.01, 0.99])
    keep = ok & (q[:, 0] >= lo_q) & (q[:, 0] <= hi_q)  # the extreme 2% of resamples would dominate a variance
    theta, q = theta[keep], q[keep]
    noise = float(fit.quality.get("rmse_log", 0.01))
    cn, cd = _candidates(loaded.params[hp], allowance, sizes, configs)
    fresh = np.array([(float(n), float(d)) not in existing for n, d in zip(cn, cd)], dtype=bool)
    cn, cd = cn[fresh], cd[fresh]
    sel = select_runs(theta, q, cn, cd, noise, allowance, int(k))
    picked = tuple(_run(cn[j], cd[j], spec, g, (configs or {}).get(float(cn[j]))) for j, g in zip(sel.picks, sel.gains))
    tail = (1 - float(level)) / 2
    ivals = []
    for t in range(q.shape[1]):
        b_lo, med, b_hi = np.quantile(q[:, t], [tail, 0.5, 1 - tail])
        v0, v1 = sel.variances_before[t], sel.variances_after[t]
        scale = math.sqrt(v1 / v0) if v0 > 0 else 1.0
        ivals.append(((float(np.exp(b_lo)), float(np.exp(b_hi))),
                      (float(np.exp(med + (b_lo - med) * scale)), float(np.exp(med + (b_hi - med) * scale)))))
    (before, after), loss_ivals = ivals[0], (ivals[1] if len(ivals) > 1 else (None, None))
    estimate = float(fit.optimum["N_opt"]) if "params" not in target else float(
        np.exp(log_loss(np.array([[fit.coefficients[c] for c in ("E", "A", "B", "alpha", "beta")]]), [target["params"]], [target["tokens"]])[0, 0]))
    info = {"source": f"bootstrap of the fit to the {n_hp} high-precision runs", "count": int(samples.values.shape[0]),
            "used": int(theta.shape[0]), "noise_log_loss": noise,
            "note": "the 1% most extreme resamples of the target on each side are left out of the variance"}
    notes = ["proposed runs train at 16 bits: the fitted (Chinchilla) law has no precision terms",
             "the interval after is the expected one: the ensemble's Gaussian approximation, not a guarantee"]
    if sizes:
        notes.append("model sizes limited to the given sizes (a validate store: the model shapes it has trained)")
    if loss_ivals[0] is not None:
        (lb, la) = loss_ivals
        notes.insert(0, f"loss at the target's optimum, {float(level):.0%} interval: {lb[0]:.4g}..{lb[1]:.4g} -> expected {la[0]:.4g}..{la[1]:.4g}"
                        " (the criterion weighs N* and this loss equally)")
    return _finish(picked, "active", common, spec, CRITERION, info, estimate, before, after, notes,
                   list(fit.warnings), loss_ivals)


def _finish(picked, mode, common, spec, criterion, info, estimate, before, after, notes, warnings,
            loss_ivals=(None, None)) -> Proposal:
    total = float(sum(r.flops for r in picked))
    hours = float(sum(r.gpu_hours for r in picked))
    head = f"train these {len(picked)} runs ({total:.3g} FLOPs, {hours:.3g} GPU-hours on {spec.name})"
    if mode == "seed":
        verdict = f"{head}: a seed design of {len({r.params for r in picked})} model sizes; fit them, then propose again"
    else:
        is_n = common["quantity"].startswith("N*")
        f = (lambda x: f"{x:.3g}") if not is_n else (lambda x: _count(x))
        verdict = (f"{head}: expected {common['level']:.0%} interval on {common['quantity']} {f(before[0])}..{f(before[1])}"
                   f" -> {f(after[0])}..{f(after[1])}")
    return Proposal(verdict=verdict, mode=mode, runs=tuple(picked), total_flops=total, total_gpu_hours=hours,
                    criterion=criterion, samples=info, estimate=estimate, interval_before=before, interval_after=after,
                    loss_interval_before=loss_ivals[0], loss_interval_after=loss_ivals[1],
                    notes=notes, warnings=warnings, **common)


def _count(x: float) -> str:
    return format_count(x)


def proposal_csv(proposal: Proposal) -> str:
    """The proposed runs as CSV text: params, tokens, the three training bits, flops,
    gpu_hours, then any config columns (``shape``, ``batch_size``, ...) that ``validate --runs``
    reads to train exactly these runs."""
    extra: list[str] = []
    for r in proposal.runs:
        extra += [c for c in r.config if c not in extra and c not in CSV_COLUMNS]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(list(CSV_COLUMNS) + extra)
    for r in proposal.runs:
        w.writerow([repr(float(r.params)) if r.params != int(r.params) else int(r.params),
                    int(r.tokens) if r.tokens == int(r.tokens) else repr(float(r.tokens)),
                    r.weight_bits, r.activation_bits, r.kv_bits, f"{r.flops:.6g}", f"{r.gpu_hours:.6g}"]
                   + [r.config.get(c, "") for c in extra])
    return buf.getvalue()
