"""``precplan fit``: fit a (precision-aware) scaling law to your own runs.

    from precplan.fit._fit import load_runs, fit_law
    result = fit_law(load_runs("runs.csv"), bootstrap=200)
    save_law(result.law, "my-law.yaml")

The procedure (docs/science.md section 10): Hoffmann et al. 2022's objective (Huber, delta 1e-3, on log
loss, log-sum-exp parametrization, L-BFGS from a 4,500-point start grid) for the base law on
high-precision runs; then, as Kumar et al. 2024 did, the precision factors on quantized-training
runs with the base law fixed; then the PTQ term. Bootstrap intervals as Besiroglu et al. 2024;
held-out error as Choshen et al. 2024. The machinery lives in :mod:`precplan.fit`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from precplan.errors import PrecplanError
from precplan.fit._bootstrap import Bootstrap, run_bootstrap
from precplan.fit._curves import MIN_TOKENS, SKIP_FRACTION, CurveRuns, group_weights, load_curves, looks_like_curves
from precplan.fit._grids import base_grid, check_grid, edge_report
from precplan.fit._holdout import holdout_mask
from precplan.fit._models import readable
from precplan.fit._optimum import compute_optimal, outside_data
from precplan.fit._plan import FORMS_IN, Data, Plan, make_plan
from precplan.fit._quality import points, ptq_r2, r_squared, summary
from precplan.fit._result import FitResult, build_law, source_labels
from precplan.fit._runs import load_runs, parse_columns
from precplan.fit._table import Runs
from precplan.fit._solve import SUBSAMPLE, Settings
from precplan.fit._stages import (
    StageResult, base_values, coefficient_values, math_law, run_base, run_precision, run_ptq,
)
from precplan.laws import Law, load_law

__all__ = ["FitResult", "Runs", "check_fit_options", "fit_law", "load_runs", "parse_columns"]

MAX_BOOTSTRAP = 100_000  # resamples: percentile intervals settle long before; more is a typo or a bomb
MAX_SEED = 2**32 - 1  # numpy's seed range
MAX_ID = 100  # characters in a law id


def check_fit_options(
    form: str = "auto", objective: str = "huber", delta: float = 1e-3, grid: str = "full", bootstrap: int = 0,
    level: float = 0.95, seed: int = 0, law_id: str | None = None, columns: Mapping[str, str] | str | None = None,
    holdout: str | None = None,
) -> None:
    """Refuse bad fit options before any data is read: each a one-line :class:`PrecplanError`."""
    import math

    if form not in FORMS_IN:
        raise PrecplanError(f"`form` must be one of {', '.join(FORMS_IN)}; got {form!r}")
    if objective not in ("huber", "lsq"):
        raise PrecplanError(f"`objective` must be huber or lsq; got {objective!r}")
    check_grid(grid)
    if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not (math.isfinite(delta) and delta > 0):
        raise PrecplanError(f"`delta` must be a positive number (e.g. 1e-3, Hoffmann et al. 2022's); got {delta!r}")
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, (int, np.integer)) or bootstrap < 0 or bootstrap == 1 \
            or bootstrap > MAX_BOOTSTRAP:
        raise PrecplanError(f"`bootstrap` must be 0 (off) or from 2 to {MAX_BOOTSTRAP:,} resamples (e.g. 1000); got {bootstrap}")
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not (math.isfinite(level) and 0 < level < 1):
        raise PrecplanError(f"`level` must be a confidence level between 0 and 1 (e.g. 0.95); got {level!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise PrecplanError(f"`seed` must be a whole number from 0 to {MAX_SEED}; got {seed!r}")
    if law_id is not None:
        check_law_id(law_id)
    if isinstance(columns, str):
        parse_columns(columns)
    if holdout is not None and not str(holdout).strip():
        raise PrecplanError('`holdout`: empty; give COLUMN OP NUMBER, e.g. "params>=1e9"')


def check_law_id(law_id: str) -> str:
    """A law id: what --law and file names take, so printable, without path separators or spaces."""
    import re

    if not isinstance(law_id, str) or not law_id.strip():
        raise PrecplanError("`law_id`: the law id is empty (give a name such as my-law)")
    if len(law_id) > MAX_ID:
        raise PrecplanError(f"`law_id`: at most {MAX_ID} characters; got {len(law_id)}")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*", law_id, re.ASCII):
        raise PrecplanError(f"`law_id` {law_id!r}: use letters, digits and . _ + - only (no spaces or path separators), e.g. my-law")
    return law_id


def fit_law(
    runs: Runs | str | Path | Sequence[Mapping[str, Any]],
    form: str = "auto",
    base_law: Law | str | None = None,
    tie_exponents: bool = False,
    delta: float = 1e-3,
    objective: str = "huber",
    grid: str = "full",
    bootstrap: int = 0,
    holdout: str | None = None,
    holdout_largest: bool = False,
    budget: float = 1e21,
    level: float = 0.95,
    seed: int = 0,
    progress: bool = False,
    columns: Mapping[str, str] | str | None = None,
    law_id: str | None = None,
    subsample: int = SUBSAMPLE,
    curves: bool | None = None,
    min_tokens: float = MIN_TOKENS,
    skip_fraction: float = SKIP_FRACTION,
) -> FitResult:
    """Fit a law to ``runs`` (a :class:`Runs`, a CSV/JSONL path, or a list of records).

    ``form``: ``auto`` (stages the columns allow), ``chinchilla``, ``precision`` or ``ptq``.
    ``base_law``: take the base terms from this law instead of fitting them; it (else kumar2024)
    also supplies every coefficient the data cannot identify, labelled "taken from ...".
    ``bootstrap``: resamples for percentile intervals (``level``) of the fitted coefficients
    and of the compute-optimal N*, D* (P*) at ``budget`` FLOPs. ``holdout``/``holdout_largest``:
    fit on the rest and report the error on the held-out runs.
    """
    check_fit_options(form, objective, delta, grid, bootstrap, level, seed, law_id, columns, holdout)
    if not isinstance(runs, Runs):
        if curves or (curves is None and isinstance(runs, (str, Path)) and looks_like_curves(runs)):
            runs = load_curves(runs, columns, min_tokens, skip_fraction)
        else:
            runs = load_runs(runs, columns)
    if int(subsample) < 0:
        raise PrecplanError(f"`subsample` must be 0 (off) or a number of runs, e.g. 250; got {subsample}")
    if isinstance(base_law, str):
        base_law = load_law(base_law)
    settings = Settings(objective, float(delta), check_grid(grid), progress, int(subsample))
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not (np.isfinite(budget) and budget > 0):
        raise PrecplanError(f"`budget` must be a positive number of FLOPs; got {budget!r}")

    mask = holdout_mask(runs, holdout, holdout_largest)
    fit_runs = runs if mask is None else runs.subset(~mask)
    data = Data.from_runs(fit_runs)
    plan = make_plan(data, form, base_law, tie_exponents)
    warnings = list(runs.warnings) + plan.warnings
    notes = list(runs.notes) if isinstance(runs, CurveRuns) else []

    stages = _fit_stages(data, plan, settings, tie_exponents)
    warnings += _diagnostics(stages, settings, tie_exponents)
    notes += _subsample_notes(stages)
    values = coefficient_values(plan, stages)
    fitted = [k for s in stages.values() for k in s.fitted]
    law = math_law(plan, values)
    if plan.fit_base:
        warnings += _flat_terms(law, data)
    pts = points(law, data)
    quality = summary(pts)
    stage_r2 = _stage_r2(law, data, pts, stages)
    # the R^2 reported: over every run when the base was fitted here; else the fitted stage's own
    # (with a base law held, the base rows were never fit, so an R^2 over them says nothing of this fit)
    r2 = float(quality.get("r2", float("nan"))) if plan.fit_base or not stage_r2 else float(stage_r2[next(reversed(stage_r2))])
    optimum = {"budget": float(budget), **compute_optimal(law, budget)}

    boot: Bootstrap | None = None
    if bootstrap:
        boot = run_bootstrap(data, plan, settings, stages, tie_exponents, int(bootstrap), budget, level, seed)
        warnings += boot.warnings

    held, held_pts = None, None
    if mask is not None:
        held_pts = points(law, Data.from_runs(runs.subset(mask)))
        held = {"selection": holdout or "largest model size", **summary(held_pts)}
        if held_pts.measured.size == 0:
            warnings.append("no held-out run can be predicted by this law form (held-out runs are all quantized)")

    fit_settings = {
        "form": form, "objective": objective, "delta": float(delta), "grid": grid,
        "starts": int(base_grid(grid, tie_exponents).shape[0]) if plan.fit_base else 0,
        "tie_exponents": bool(tie_exponents), "base_law": plan.base_law.id if plan.base_law else None,
        "bootstrap": int(bootstrap), "level": float(level), "seed": int(seed), "holdout": held and held["selection"],
        "budget": float(budget), "columns": dict(runs.columns or {}), "subsample": int(subsample),
    }
    if isinstance(runs, CurveRuns):
        fit_settings["curves"] = {"runs": len(set(runs.run.tolist())), "checkpoints": runs.n,
                                  "min_tokens": float(min_tokens), "skip_fraction": float(skip_fraction)}
    law_quality = {"r2": quality.get("r2"), "mean_abs_rel_error": quality.get("mean_abs_rel_error"), "runs": len(pts)}
    if held:
        law_quality["holdout"] = {k: held[k] for k in ("selection", "n", "r2", "mean_abs_rel_error") if k in held}
    file_notes = [f"fit warning: {w}" for w in warnings]
    out_law = build_law(plan, values, fitted, pts, runs.source, fit_settings, law_quality, law_id, boot, file_notes)
    optimum_warnings = outside_data(optimum, pts.params, pts.tokens)  # about the budget, not the law: not in its file
    warnings += optimum_warnings
    return FitResult(
        law=out_law, form=plan.form, coefficients={k: c.value for k, c in out_law.coefficients.items()},
        fitted=fitted, sources=source_labels(plan, fitted),
        intervals=dict(boot.intervals) if boot else {}, stderr=dict(boot.stderr) if boot else {},
        optimum=optimum, optimum_warnings=optimum_warnings, r2=r2,
        stage_r2=stage_r2, quality=quality,
        residuals=pts.relative_error, n_runs=data.n_training, n_rows=fit_runs.n,
        converged={k: bool(s.solved.converged[0]) for k, s in stages.items()},
        stages={k: _stage_info(s) for k, s in stages.items()}, points=pts, holdout=held, holdout_points=held_pts,
        bootstrap=boot, warnings=warnings, notes=notes + list(plan.notes), settings=fit_settings, source=runs.source,
    )


def _fit_stages(data: Data, plan: Plan, settings: Settings, tie: bool) -> dict[str, StageResult]:
    """Kumar et al. 2024's staged fit: base, then precision factors, then the PTQ term."""
    ones = group_weights(data)[None, :]  # 1 per run; training curves: 1/k per checkpoint of a run
    stages: dict[str, StageResult] = {}
    if plan.fit_base:
        stages["base"] = run_base(data, settings, ones, tie)
    if plan.prec_ops:
        base = stages["base"].values if "base" in stages else base_values(plan.base_law)
        stages["precision"] = run_precision(data, plan, settings, base, ones)
    if plan.ptq_free:
        law = math_law(plan, coefficient_values(plan, stages))
        stages["ptq"] = run_ptq(data, plan, settings, [law], ones)
    return stages


def _subsample_notes(stages: dict[str, StageResult]) -> list[str]:
    out = []
    for name, stage in stages.items():
        s = stage.solved
        if s.refined_on:
            steps = " then ".join(f"{r:,}" for r in s.refined_on)
            out.append(f"the {name} fit searched its {s.n_starts:,}-start grid on a representative {s.grid_rows:,}-row subsample"
                       f" (stratified over {'N and D' if name == 'base' else 'its inputs'}; `subsample`) and refined the best fits on {steps} rows")
    return out


def _diagnostics(stages: dict[str, StageResult], settings: Settings, tie: bool) -> list[str]:
    """Non-convergence, coefficients pinned at an optimizer bound, a best base fit beyond the
    start grid: warnings (never silent); a degenerate base law is an error."""
    out: list[str] = []
    for name, stage in stages.items():
        s = stage.solved
        if not s.converged[0]:
            out.append(f"the {name} fit did not converge ({s.message}); treat its coefficients with caution")
        theta, lower, upper = s.theta[0], s.lower, s.upper
        for i, pname in enumerate(s.names):
            if not s.free[i]:
                continue
            at_lo = abs(theta[i] - lower[i]) <= 1e-9 * (1 + abs(lower[i]))
            at_hi = abs(theta[i] - upper[i]) <= 1e-9 * (1 + abs(upper[i]))
            if not (at_lo or at_hi):
                continue
            if name == "base" and pname in ("alpha", "beta") and at_lo:
                raise PrecplanError(
                    f"the fit puts {pname} at 0: the loss does not fall with {'model size' if pname == 'alpha' else 'tokens'}"
                    " in these runs, so no scaling law can be fitted (check the data and the column mapping)"
                )
            label = readable(pname)
            out.append(f"{label} = {theta[i]:.4g} is pinned at the optimizer's {'lower' if at_lo else 'upper'} bound in the"
                       f" {name} fit: the data do not determine it")
    if "base" in stages:
        edges = edge_report(stages["base"].solved.names, stages["base"].solved.theta[0], settings.grid, tie)
        if edges:
            out.append("best base fit on the edge of the start grid: " + "; ".join(edges)
                       + " (the grid may not bracket the optimum; check the fit or the data)")
    return out


def _flat_terms(law: Law, data: Data) -> list[str]:
    """A fitted term too small to matter anywhere in the data means the runs show no dependence
    on that quantity: the law's extrapolation in it is not supported."""
    base = data.train(data.base)
    out = []
    for term, values, what in ((law.param_term, base.params, "model size"), (law.data_term, base.tokens, "tokens")):
        share = float(np.max(term(values.min()) / base.loss))
        if share < 1e-3:
            out.append(f"the fitted {what} term is below 0.1% of the loss on every run: these runs show no dependence"
                       f" on {what}, and the law's {what} exponent is not determined")
    return out


def _stage_r2(law: Law, data: Data, pts, stages: dict[str, StageResult]) -> dict[str, float]:
    """R^2 of each stage this fit ran, on that stage's rows; a stage taken from a base law (not
    fitted here) is left out: its rows were never fit."""
    out: dict[str, float] = {}
    loss = np.array([k == "loss" for k in pts.kind])
    if law.has_precision:
        for name, idx in (("base", data.base), ("precision", data.quant)):
            if name in stages and idx.size >= 2:
                out[name] = r_squared(pts.measured[loss][idx], pts.predicted[loss][idx])
    else:
        out["base"] = r_squared(pts.measured[loss], pts.predicted[loss])
    if "ptq" in stages:
        out["ptq"] = ptq_r2(law, data)
    return out


def _stage_info(stage: StageResult) -> dict[str, Any]:
    s = stage.solved
    return {"rows": stage.n_rows, "grid_rows": s.grid_rows, "starts": s.n_starts, "starts_at_best": s.n_at_best, "objective": float(s.fun[0]),
            "converged": bool(s.converged[0]), "message": s.message, "fitted": stage.fitted}
