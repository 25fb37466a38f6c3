"""The three stages of Kumar et al. 2024's fitting procedure (docs/science.md section 10), each run for
R sets of run weights at once (R = 1 for the fit itself, R = B for the bootstrap):

1. base: E, A, B, alpha, beta on the high-precision runs (Hoffmann et al. 2022's objective);
2. precision: gamma_x, n_x of the effective-parameter factors on the quantized-training runs,
   with the base law fixed;
3. ptq: C_T, gamma_D, gamma_N, gamma_post (and C_x where the data varies training precision)
   on post-training-quantization measurements, base and precision terms fixed.

``weights`` are (R, G): how many times each training run counts (bootstrap resample counts).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from precplan.errors import PrecplanError
from precplan.fit._grids import base_grid, stage_grid
from precplan.fit._models import ChinchillaModel, PrecisionModel, PtqModel
from precplan.fit._plan import OP_COLUMN, OPS, Data, Plan
from precplan.fit._solve import Settings, Solved, solve
from precplan.laws import BASE, PRECISION, PTQ, ROBUSTNESS, Law, load_law

__all__ = ["StageResult", "base_values", "coefficient_values", "math_law", "run_base", "run_precision", "run_ptq"]

Values = dict[str, np.ndarray]  # coefficient name -> (R,) values


@dataclass
class StageResult:
    name: str
    fitted: list[str]          # law coefficients this stage fitted
    values: Values             # every coefficient the stage's model produces, (R,)
    solved: Solved
    residuals: np.ndarray      # log-loss residuals of the best fit (R = 1 only)
    n_rows: int


def run_base(data: Data, settings: Settings, weights: np.ndarray, tie: bool,
             starts: np.ndarray | None = None, polish: bool = True) -> StageResult:
    base = data.train(data.base)
    model = ChinchillaModel(base.params, base.tokens, tie)
    y = np.log(base.loss)
    free = np.ones(len(model.names), dtype=bool)
    grid = base_grid(settings.grid, tie) if starts is None else starts
    solved = solve(model, y, weights[:, data.base], grid, free, np.zeros(len(free)), settings, polish,
                   _label("the base law", polish))
    return _result("base", list(BASE), model, solved, y, base.n)


def base_values(law: Law) -> Values:
    return {k: np.array([law.c(k)]) for k in BASE}


def run_precision(data: Data, plan: Plan, settings: Settings, base: Values, weights: np.ndarray,
                  starts: np.ndarray | None = None, polish: bool = True) -> StageResult:
    quant = data.train(data.quant)
    donor = plan.precision_donor
    fixed = np.zeros(quant.n)
    for op in OPS:
        if op not in plan.prec_ops:
            f = donor.factor(quant.bits(OP_COLUMN[op]), op)
            if np.any(f <= 0):
                raise PrecplanError(
                    f"some quantized runs lie outside the domain of {donor.id}'s {op} factor (N_eff <= 0); fit {op} from data"
                    " or drop those runs"
                )
            fixed += np.log(f)
    bits = {op: quant.bits(OP_COLUMN[op]) for op in plan.prec_ops}
    model = PrecisionModel(quant.params, quant.tokens, bits, base, fixed)
    free = np.array([flag for op in plan.prec_ops for flag in (plan.prec_gamma_free[op], True)])
    theta0 = model.theta_from({k: donor.c(k) for k in PRECISION})
    grid = stage_grid("precision", settings.grid, model.names, free) if starts is None else starts
    y = np.log(quant.loss)
    solved = solve(model, y, weights[:, data.quant], grid, free, theta0, settings, polish, _label("the precision factors", polish))
    fitted = [n for op in plan.prec_ops for n, f in ((f"gamma_{op}", plan.prec_gamma_free[op]), (f"n_{op}", True)) if f]
    return _result("precision", fitted, model, solved, y, quant.n)


def run_ptq(data: Data, plan: Plan, settings: Settings, laws: list[Law], weights: np.ndarray,
            starts: np.ndarray | None = None, polish: bool = True) -> StageResult:
    post = data.runs.subset(data.post)
    w, a, kv = post.training_bits()
    neff = np.stack([law.effective_params(post.params, w, a, kv) for law in laws])
    if np.any(neff <= 0):
        raise PrecplanError("some PTQ runs have N_eff <= 0 under the fitted precision terms (outside the law's domain)")
    donor = plan.ptq_donor
    gaps = {op: post.bits(OP_COLUMN[op]) - post.post_bits for op in OPS}
    model = PtqModel(post.tokens, np.log(neff), post.post_bits, post.loss, donor.c("b_post"), gaps)
    free = np.array([plan.ptq_free[n] for n in model.names])
    theta0 = model.theta_from({k: donor.c(k) for k in PTQ + ROBUSTNESS})
    grid = stage_grid("ptq", settings.grid, model.names, free) if starts is None else starts
    y = np.log(post.post_loss)
    solved = solve(model, y, weights[:, data.group[data.post]], grid, free, theta0, settings, polish,
                   _label("the PTQ term", polish))
    fitted = [n.removeprefix("log_") for n, f in zip(model.names, free) if f]
    return _result("ptq", fitted, model, solved, y, post.n)


def _label(what: str, polish: bool) -> str:
    return f"fitting {what}" if polish else f"bootstrap: {what}"


def _result(name: str, fitted: list[str], model, solved: Solved, y: np.ndarray, n: int) -> StageResult:
    values = model.coefficients(solved.theta)
    resid = np.full(n, np.nan)
    if solved.theta.shape[0] == 1:
        pred, _ = model.evaluate(solved.theta, np.zeros(1, dtype=int))
        resid = pred[0] - y
    return StageResult(name, fitted, values, solved, resid, n)


def coefficient_values(plan: Plan, stages: dict[str, StageResult], r: int = 0) -> dict[str, float]:
    """Every coefficient of the output form for resample ``r``: fitted values where a stage fitted
    them, else the base law's / donors' values."""
    out: dict[str, float] = {}
    if plan.base_law is not None:
        out.update({k: plan.base_law.c(k) for k in BASE})
    if plan.form != "chinchilla":
        out.update({k: plan.precision_donor.c(k) for k in PRECISION})
    if plan.form == "precision-ptq":
        out.update({k: plan.ptq_donor.c(k) for k in PTQ + ROBUSTNESS})
    for stage in stages.values():
        for k in stage.fitted:
            out[k] = float(stage.values[k][min(r, stage.values[k].shape[0] - 1)])
    return out


def math_law(plan: Plan, values: dict[str, float]) -> Law:
    """A Law for evaluating ``values`` (math only: the template's metadata is not meaningful)."""
    template = load_law("hoffmann2022" if plan.form == "chinchilla" else "kumar2024")
    full = {k: values.get(k, template.c(k)) for k in template.coefficients}
    return template.with_coefficients(**full)
