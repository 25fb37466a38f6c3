"""Analysis of a sweep: does the law predict these runs?

1. Fit the base law (E, A, B, alpha, beta) on the high-precision runs with the ``fit`` code
   (Hoffmann et al. 2022's procedure).
2. Predict every run with that base and the chosen law's precision and PTQ constants
   (Kumar et al. 2024, eq. 10 via :meth:`Law.loss`): measured vs predicted, errors, R^2.
3. Refit the precision (and PTQ) constants on these runs, base fixed (Kumar et al.'s stages),
   and set them beside the law's.
4. Check the paper's qualitative claims on the data: lower training precision costs
   effective parameters; PTQ damage grows with D at fixed N; where the fitted law puts the
   compute-optimal precision (argmax f(P)/P).
No torch here: ``precplan validate --report`` runs anywhere.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from precplan.errors import PrecplanError
from precplan.laws._law import BASE, PRECISION, PTQ, ROBUSTNESS, Law

HIGH = 16
P_STAR_TOLERANCE = 1.0  # bits: a fitted compute-optimal precision this close to the law's "agrees"
ORDER = ("16-bit", "quantized", "ptq", "all")


@dataclass
class Comparison:
    """One measured loss beside the law's prediction. ``kind``: ``16-bit`` (the base law was
    fit on these), ``quantized`` (trained below 16 bits) or ``ptq`` (after post-training
    quantization to ``post_bits``)."""

    run_id: str
    kind: str
    params: float
    tokens: float
    weight_bits: int
    activation_bits: int
    kv_bits: int
    post_bits: int | None
    measured: float
    predicted: float | None
    error: float | None
    rel_error: float | None


@dataclass
class Constant:
    name: str
    law: float | None
    fitted: float | None
    source: str  # "fitted", or where the refit took it from


@dataclass
class Claim:
    claim: str
    verdict: str  # holds / does not hold / agrees / differs / not tested
    evidence: str
    details: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ValidationReport:
    law: str
    runs: int
    diverged: list[str]
    data: list[str]
    devices: list[str]
    presets: list[str]
    base: dict[str, Any] | None
    comparisons: list[Comparison]
    quality: dict[str, dict[str, float]]
    constants: list[Constant]
    refit: dict[str, Any] | None
    claims: list[Claim]
    assumed: list[str]
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ptq_note: str | None = None  # how the runs' PTQ differs from the one the law's PTQ constants were fit on


def _bits(rec: dict[str, Any]) -> tuple[int, int, int]:
    return int(rec.get("weight_bits", HIGH)), int(rec.get("activation_bits", HIGH)), int(rec.get("kv_bits", HIGH))


def _ok(rec: dict[str, Any]) -> bool:
    return not rec.get("diverged") and rec.get("loss") is not None and math.isfinite(rec["loss"])


def _compute_of(rec: dict[str, Any]) -> str | None:
    """A record's device kind and dtype; stores written before it was recorded: from ``device``."""
    c = (rec.get("config") or {}).get("compute")
    if c:
        return str(c)
    dev = str(rec.get("device", ""))
    return "cuda-bf16" if dev.startswith("cuda") else "cpu-fp32" if dev.startswith("cpu") else None


def _legacy(key: str, default: str) -> Any:
    """A config setting; records of stores older than the setting get the value they had then."""
    return lambda r: (r.get("config") or {}).get(key, default if r.get("config") else None)


# What makes two runs' losses comparable: (label, how a record says it). A report refuses to
# mix runs that differ in any of these (None: the record does not say; not compared).
COMPARABLE: tuple[tuple[str, Any], ...] = (
    ("data source", lambda r: r.get("data_fingerprint") or r.get("data")),
    ("preset", lambda r: r.get("preset")),
    ("device and dtype", _compute_of),
    ("activation scale granularity", _legacy("activation_granularity", "tensor")),
    ("Q/K/V scale granularity", _legacy("kv_granularity", "tensor")),
    ("PTQ method", lambda r: r.get("ptq_method")),
)


def check_comparable(records: Sequence[dict[str, Any]]) -> None:
    """Refuse (one line) runs that were measured differently: different data, preset, device
    kind or dtype, quantization granularity or PTQ method."""
    for label, get in COMPARABLE:
        seen: dict[str, int] = defaultdict(int)
        for r in records:
            v = get(r)
            if v is not None:
                seen[str(v)] += 1
        if len(seen) > 1:
            kinds = "; ".join(f"{v!r} ({n} runs)" for v, n in sorted(seen.items()))
            raise PrecplanError(f"these runs differ in {label}: {kinds}; their losses are not comparable, so they are not"
                                " merged into one report: report each kind on its own (validate --report DIR)")


def analyze(records: Sequence[dict[str, Any]], law: Law, grid: str = "full", tie_exponents: bool = False) -> ValidationReport:
    """The full analysis of store records against ``law`` (a precision law such as kumar2024).
    Refuses records measured differently (:func:`check_comparable`)."""
    from precplan.fit._fit import fit_law, load_runs

    if not law.has_precision:
        raise PrecplanError(f"law {law.id!r} has no precision terms: validate needs a precision law (e.g. --law kumar2024)")
    if not records:
        raise PrecplanError("no runs to analyse: the store is empty")
    check_comparable(records)
    good = [r for r in records if _ok(r)]
    warnings: list[str] = []
    notes: list[str] = []
    base_fit, pred_law, base = None, None, None
    if good:
        runs = load_runs(good)
        try:
            base_fit = fit_law(runs, form="chinchilla", grid=grid, tie_exponents=tie_exponents)
        except PrecplanError as exc:
            warnings.append(f"base law not fitted: {exc}")
    if base_fit is not None:
        values = {k: base_fit.coefficients[k] for k in BASE}
        pred_law = law.with_coefficients(**values)
        n_base = sum(min(_bits(r)) >= HIGH for r in good)
        base = {"coefficients": values, "r2": base_fit.r2, "runs": n_base, "warnings": _fit_warnings(base_fit)}
        notes.append(f"predictions: base terms fitted on the {n_base} 16-bit runs; precision and PTQ terms from {law.id}")
    comparisons = _compare(good, pred_law)
    refit, constants = _refit(good, pred_law, law, grid)
    if refit and refit.get("error"):
        warnings.append(f"precision constants not refitted: {refit['error']}")
    if refit:
        warnings += [f"refit: {w}" for w in refit.get("warnings", []) if "not used by --form" not in w]
    claims = [
        _claim_effective_params(good, pred_law, refit),
        _claim_ptq_grows_with_d(good),
        _claim_optimal_precision(law, refit),
    ]
    diverged = [r["run_id"] for r in records if r.get("diverged")]
    if diverged:
        warnings.append(f"{len(diverged)} run(s) diverged and are left out of the fits: {', '.join(diverged[:5])}"
                        + (" ..." if len(diverged) > 5 else ""))
    assumed = [k for k in law.assumed if any(c.kind == "ptq" and c.predicted is not None for c in comparisons)]
    if assumed:
        notes.append(f"PTQ predictions use {', '.join(assumed)}: ASSUMED constants that no paper reports")
    ptq_note = _ptq_method_note(good, law) if any(c.kind == "ptq" and c.predicted is not None for c in comparisons) else None
    return ValidationReport(
        law=law.id, runs=len(records), diverged=diverged,
        data=sorted({str(r.get("data", "?")) for r in records}), devices=sorted({str(r.get("device", "?")) for r in records}),
        presets=sorted({str(r.get("preset", "?")) for r in records}), base=base, comparisons=comparisons,
        quality=_quality(comparisons), constants=constants, refit=refit, claims=claims, assumed=assumed,
        warnings=warnings, notes=notes, ptq_note=ptq_note,
    )


def _ptq_method_note(good: Sequence[dict[str, Any]], law: Law) -> str | None:
    """Kumar et al. 2024 fit the PTQ constants on GPTQ (laws.md section 6); the validate runs
    quantize by round-to-nearest (store field ``ptq_method``), which typically degrades more."""
    if law.coefficients.get("C_T") is None or law.coefficients["C_T"].source != "published":
        return None  # a fitted law: its PTQ method is whatever its data used
    methods = sorted({str(r["ptq_method"]) for r in good if r.get("ptq") and r.get("ptq_method")})
    if not methods or all(m.lower().startswith("gptq") for m in methods):
        return None
    return (f"PTQ rows: these runs quantize after training by {', '.join(methods)} (ptq_method), while {law.id}'s PTQ"
            " constants were fit on GPTQ (Kumar et al. 2024); round-to-nearest typically degrades more than GPTQ, so the"
            " PTQ errors are biased (expect measured post-PTQ losses above the law's)")


def _compare(good: Sequence[dict[str, Any]], law: Law | None) -> list[Comparison]:
    """Measured vs predicted for every run and every PTQ measurement (predicted None without a base fit)."""
    out = []
    for r in good:
        w, a, kv = _bits(r)
        kind = "16-bit" if min(w, a, kv) >= HIGH else "quantized"
        targets = [(kind, None, float(r["loss"]))]
        targets += [("ptq", int(b), float(v)) for b, v in sorted(r.get("ptq", {}).items(), key=lambda kv_: int(kv_[0]))]
        for k, post, measured in targets:
            pred = None
            if law is not None and (post is None or law.has_ptq):
                pred = float(law.loss(r["params"], r["tokens"], w, a, kv, post=post))
            err = None if pred is None or not math.isfinite(pred) else pred - measured
            out.append(Comparison(r["run_id"], k, float(r["params"]), float(r["tokens"]), w, a, kv, post, measured,
                                  pred, err, None if err is None else err / measured))
    return out


def _fit_warnings(res) -> list[str]:
    """A fit's warnings about its data, without those about its N*, D* at a budget (validate shows none)."""
    return [w for w in res.warnings if w not in res.optimum_warnings]


def _r2(measured: np.ndarray, predicted: np.ndarray) -> float:
    from precplan.fit._quality import r_squared

    return r_squared(measured, predicted)


def _quality(comparisons: Sequence[Comparison]) -> dict[str, dict[str, float]]:
    """R^2 and mean/max absolute relative error by kind and over all predicted points."""
    out: dict[str, dict[str, float]] = {}
    groups = defaultdict(list)
    for c in comparisons:
        if c.error is not None:
            groups[c.kind].append(c)
            groups["all"].append(c)
    for kind, cs in sorted(groups.items(), key=lambda kv_: ORDER.index(kv_[0])):
        m = np.array([c.measured for c in cs])
        p = np.array([c.predicted for c in cs])
        rel = np.abs((p - m) / m)
        out[kind] = {"n": len(cs), "r2": _r2(m, p), "mean_abs_rel_error": float(rel.mean()), "max_abs_rel_error": float(rel.max()),
                     "mean_error": float(np.mean(p - m))}
    return out


def _refit(good: Sequence[dict[str, Any]], pred_law: Law | None, law: Law, grid: str) -> tuple[dict[str, Any] | None, list[Constant]]:
    """Refit the precision (and PTQ) constants on these runs with the fitted base fixed."""
    from precplan.fit._fit import fit_law, load_runs

    names = [k for k in PRECISION + PTQ + ROBUSTNESS if k in law.coefficients]
    if pred_law is None:
        return None, [Constant(k, law.c(k), None, "not refitted (no base fit)") for k in names]
    has_quant = any(min(_bits(r)) < HIGH for r in good)
    has_post = any(r.get("ptq") for r in good)
    if not has_quant and not has_post:
        return None, [Constant(k, law.c(k), None, "not refitted (no quantized runs)") for k in names]
    form = "ptq" if has_post and law.has_ptq else "precision"
    try:
        res = fit_law(load_runs(good), form=form, base_law=pred_law, grid=grid)
    except PrecplanError as exc:
        return {"error": str(exc)}, [Constant(k, law.c(k), None, "not refitted") for k in names]
    constants = [
        Constant(k, law.c(k), res.coefficients.get(k), "fitted" if k in res.fitted else res.sources.get(k, "taken from the law"))
        for k in names
    ]
    return {"form": res.form, "law": res.law, "r2": res.r2, "stage_r2": res.stage_r2, "fitted": res.fitted,
            "warnings": _fit_warnings(res)}, constants


def _spearman(x: Sequence[float], y: Sequence[float]) -> float:
    from scipy.stats import spearmanr

    if len(x) < 2 or len(set(x)) < 2 or len(set(y)) < 2:
        return float("nan")
    return float(spearmanr(x, y).statistic)


def _claim_effective_params(good: Sequence[dict[str, Any]], law: Law | None, refit: dict[str, Any] | None) -> Claim:
    """Kumar et al. 2024, sec. 3: training weights in fewer bits shrinks the effective parameter
    count. Per (N, D) with a 16-bit run and weight-only quantized runs, N_eff/N is the factor that
    turns the 16-bit run's parameter term into the quantized run's, from eq. 10 with the fitted
    base: (L_16 - E - B/D^beta) / (L_P - E - B/D^beta) = (N_eff/N)^alpha."""
    title = "Lower training precision costs effective parameters"
    groups: dict[tuple[float, float], dict[int, float]] = defaultdict(dict)
    for r in good:
        w, a, kv = _bits(r)
        if a >= HIGH and kv >= HIGH:
            groups[(r["params"], r["tokens"])][w] = float(r["loss"])
    groups = {k: v for k, v in groups.items() if HIGH in v and len(v) >= 2}
    if not groups:
        return Claim(title, "not tested", "no (N, D) has both a 16-bit run and weight-quantized runs")
    details, rho = [], []
    for (N, D), by_bits in sorted(groups.items()):
        bits = sorted(by_bits)
        rho.append(_spearman(bits, [-by_bits[b] for b in bits]))
        for b in bits[:-1]:
            row: dict[str, Any] = {"params": N, "tokens": D, "weight_bits": b, "loss": by_bits[b], "loss_16": by_bits[HIGH]}
            if law is not None:
                floor = law.c("E") + float(law.data_term(D))
                num, den = by_bits[HIGH] - floor, by_bits[b] - floor
                row["n_eff_fraction"] = (num / den) ** (1 / law.c("alpha")) if num > 0 and den > 0 else None
                row["law_fraction"] = float(law.factor(b, "w"))
            if refit and refit.get("law") is not None:
                row["refit_fraction"] = float(refit["law"].factor(b, "w"))
            details.append(row)
    lowest = [d for d in details if d["weight_bits"] == min(x["weight_bits"] for x in details)]
    worse = all(d["loss"] > d["loss_16"] for d in lowest)
    mean_rho = float(np.nanmean(rho)) if np.isfinite(rho).any() else float("nan")
    holds = worse and (not math.isfinite(mean_rho) or mean_rho > 0)
    lb = lowest[0]["weight_bits"]
    frac = [d.get("n_eff_fraction") for d in lowest if d.get("n_eff_fraction") is not None]
    evidence = (f"{len(groups)} (N, D) group(s): at {lb}-bit weights the loss is above the 16-bit run's in"
                f" {sum(d['loss'] > d['loss_16'] for d in lowest)}/{len(lowest)}; mean rank correlation of bits with"
                f" -loss {mean_rho:+.2f}")
    if frac:
        evidence += f"; measured N_eff/N at {lb} bits: {np.mean(frac):.2f} (law: {lowest[0].get('law_fraction', float('nan')):.2f})"
    return Claim(title, "holds" if holds else "does not hold", evidence, details)


def _claim_ptq_grows_with_d(good: Sequence[dict[str, Any]]) -> Claim:
    """Kumar et al. 2024, sec. 3 / eq. 2: at fixed N, PTQ degradation grows with training tokens."""
    title = "PTQ damage grows with D at fixed N"
    series: dict[tuple[float, int], list[tuple[float, float]]] = defaultdict(list)
    for r in good:
        if min(_bits(r)) < HIGH:
            continue
        for b, v in r.get("ptq", {}).items():
            series[(r["params"], int(b))].append((float(r["tokens"]), float(v) - float(r["loss"])))
    series = {k: sorted(v) for k, v in series.items() if len({d for d, _ in v}) >= 2 and k[1] <= 4}
    if not series:
        return Claim(title, "not tested", "no N has 16-bit runs at two or more D with PTQ to 4 bits or fewer")
    details, rising = [], 0
    for (N, b), pts in sorted(series.items()):
        rho = _spearman([d for d, _ in pts], [x for _, x in pts])
        up = rho > 0 and pts[-1][1] > pts[0][1]
        rising += up
        details.append({"params": N, "post_bits": b, "tokens": [d for d, _ in pts], "degradation": [x for _, x in pts],
                        "rank_correlation": rho, "rises": bool(up)})
    holds = rising >= math.ceil(2 * len(series) / 3)
    return Claim(title, "holds" if holds else "does not hold",
                 f"degradation rises with D in {rising}/{len(series)} (N, post-bits) series (PTQ to 3-4 bits, 16-bit-trained runs)",
                 details)


def _claim_optimal_precision(law: Law, refit: dict[str, Any] | None) -> Claim:
    """Kumar et al. 2024, sec. 4.3: with N, D, P free under C = (6/16) N D P, P* = argmax f(P)/P."""
    from precplan.fit._optimum import optimal_precision

    title = "Compute-optimal training precision (argmax f(P)/P)"
    p_law = optimal_precision(law)
    if not refit or refit.get("law") is None or not refit["law"].has_precision:
        return Claim(title, "not tested", f"no refitted precision constants; {law.id} puts P* at {p_law:.2f} bits",
                     [{"law": p_law}])
    fitted = refit["law"]
    p_fit = optimal_precision(fitted)
    ops = [op for op in ("w", "a", "kv") if f"gamma_{op}" in refit.get("fitted", [])]
    gap = p_fit - p_law
    verdict = "agrees" if abs(gap) <= P_STAR_TOLERANCE else "differs"
    return Claim(title, verdict,
                 f"fitted law: P* = {p_fit:.2f} bits; {law.id}: {p_law:.2f} bits; {abs(gap):.2f} bits apart ('agrees' means"
                 f" within +-{P_STAR_TOLERANCE:g} bit; factors refitted for: {', '.join(ops) or 'none'}; the rest taken from"
                 " the law)", [{"law": p_law, "fitted": p_fit, "difference": gap, "tolerance": P_STAR_TOLERANCE,
                                "refitted_operands": ops}])
