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
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from precplan.errors import PrecplanError
from precplan.laws import BASE, PRECISION, PTQ, ROBUSTNESS, Law, optimal_precision
from precplan.records import check_records, is_number
from precplan.validate._data import CODE_NOTE, PYTHON_SOURCE
from precplan.fit import fit_law, load_runs, r_squared
from precplan.validate._format_report import format_gaps, is_format_run

__all__ = [
    "COMPARABLE", "HIGH", "NOT_RESOLVED", "ORDER", "P_STAR_TOLERANCE", "RESOLVE_SIGMAS", "Claim",
    "Comparison", "Constant", "ValidationReport", "analyze", "check_comparable", "seed_noise",
]

HIGH = 16
P_STAR_TOLERANCE = 1.0  # bits: a fitted compute-optimal precision this close to the law's "agrees"
# An effect (a difference of two seed-averaged losses) is resolved when it exceeds this many
# standard errors of that difference, the standard error coming from the pooled seed-to-seed
# standard deviation: ~95% two-sided for a normal spread.
RESOLVE_SIGMAS = 2.0
NOT_RESOLVED = "not resolved"
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
    verdict: str  # holds / does not hold / agrees / differs / not resolved / not tested
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
    seeds: dict[str, Any] | None = None  # seed noise: see :func:`seed_noise`
    unidentified: list[dict[str, Any]] = field(default_factory=list)  # refitted constants the runs cannot pin down
    # how the rows were quantized: PTQ method and every quantizer setting the records carry (quantizer_settings)
    quantizer: dict[str, Any] = field(default_factory=dict)
    formats: dict[str, Any] | None = None  # training-format runs against bf16: see _format_report.format_gaps


def _bits(rec: dict[str, Any]) -> tuple[int, int, int]:
    return int(rec.get("weight_bits", HIGH)), int(rec.get("activation_bits", HIGH)), int(rec.get("kv_bits", HIGH))


def _ok(rec: dict[str, Any]) -> bool:
    return not rec.get("diverged") and is_number(rec.get("loss"))


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


# The settings that produced a run's quantized and post-training-quantized losses, as the records
# carry them (top level or in ``config``); "gptq" holds GPTQ's damping, block and calibration size.
QUANTIZER_KEYS = ("ptq_method", "quantizer", "weight_granularity", "activation_granularity", "kv_granularity",
                  "ptq_bits", "gptq")


def quantizer_settings(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Every quantizer setting behind ``records``' rows: per key of :data:`QUANTIZER_KEYS`, the one
    value all records share, a list of the distinct values if they differ, or None if no record
    says (stores written before the setting was recorded). ``ptq_method`` reads the store's label
    (e.g. ``gptq-per-channel``), else the config's method (``rtn``/``gptq``)."""
    out: dict[str, Any] = {}
    for key in QUANTIZER_KEYS:
        seen: list[Any] = []
        for r in records:
            v = r.get(key) if key == "ptq_method" and r.get(key) is not None else (r.get("config") or {}).get(key)
            if v is not None and v not in seen:
                seen.append(v)
        out[key] = seen[0] if len(seen) == 1 else (seen or None)
    return out


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
    if not law.has_precision:
        raise PrecplanError(f"law {law.id!r} has no precision terms: validate needs a precision law (e.g. --law kumar2024)")
    if not records:
        raise PrecplanError("no runs to analyse: the store is empty")
    check_records(records)
    check_comparable(records)
    formats = format_gaps(records, RESOLVE_SIGMAS)
    if formats is not None and all(is_format_run(r) for r in records):
        return _formats_only(records, law, formats)
    good = [r for r in records if _ok(r) and not is_format_run(r)]  # format runs: the format table only
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
    # by run id: a resumed or merged store reads its lines in another order, and lists them the same
    comparisons = sorted(_compare(good, pred_law), key=lambda c: str(c.run_id))
    noise = seed_noise(good)
    refit, constants = _refit(good, pred_law, law, grid)
    if refit and refit.get("error"):
        warnings.append(f"precision constants not refitted: {refit['error']}")
    if refit:
        warnings += [f"refit: {w}" for w in refit.get("warnings", []) if "not used by --form" not in w]
    unidentified = _unidentified(good, refit, noise, pred_law)
    for u in unidentified:
        for c in constants:
            if c.name in u["constants"]:
                c.source = f"fitted, NOT IDENTIFIED: {u['reason']}"
    claims = [
        _claim_effective_params(good, pred_law, refit, noise),
        _claim_ptq_grows_with_d(good, noise),
        _claim_optimal_precision(law, refit, unidentified),
    ]
    if noise["pooled_sd"] is None:
        notes.append("one seed per configuration: seed-to-seed noise is not measured, so no effect can be called"
                     " resolved or unresolved (repeat with --seeds 2 or more)")
    diverged = [r["run_id"] for r in records if r.get("diverged")]
    if diverged:
        warnings.append(f"{len(diverged)} run(s) diverged and are left out of the fits: {', '.join(diverged[:5])}"
                        + (" ..." if len(diverged) > 5 else ""))
    assumed = [k for k in law.assumed if any(c.kind == "ptq" and c.predicted is not None for c in comparisons)]
    if assumed:
        notes.append(f"PTQ predictions use {', '.join(assumed)}: ASSUMED constants that no paper reports")
    if any(str(r.get("data", "")).startswith(PYTHON_SOURCE) for r in records):
        notes.append(CODE_NOTE)
    ptq_note = _ptq_method_note(good, law) if any(c.kind == "ptq" and c.predicted is not None for c in comparisons) else None
    return ValidationReport(
        law=law.id, runs=len(records), diverged=diverged,
        data=sorted({str(r.get("data", "?")) for r in records}), devices=sorted({str(r.get("device", "?")) for r in records}),
        presets=sorted({str(r.get("preset", "?")) for r in records}), base=base, comparisons=comparisons,
        quality=_quality(comparisons), constants=constants, refit=refit, claims=claims, assumed=assumed,
        warnings=warnings, notes=notes, ptq_note=ptq_note, seeds=noise, unidentified=unidentified,
        quantizer=quantizer_settings(records), formats=formats,
    )


def _formats_only(records: Sequence[dict[str, Any]], law: Law, formats: dict[str, Any]) -> ValidationReport:
    """A store of training-format runs only: the format table, no law fit (N and D are fixed)."""
    diverged = [r["run_id"] for r in records if r.get("diverged")]
    notes = ["training-format runs are compared with the bf16 run at the same N and D; the law is not fitted to them"
             " (one N and D, no bit-width sweep)"]
    if any(str(r.get("data", "")).startswith(PYTHON_SOURCE) for r in records):
        notes.append(CODE_NOTE)
    return ValidationReport(
        law=law.id, runs=len(records), diverged=diverged,
        data=sorted({str(r.get("data", "?")) for r in records}), devices=sorted({str(r.get("device", "?")) for r in records}),
        presets=sorted({str(r.get("preset", "?")) for r in records}), base=None, comparisons=[], quality={},
        constants=[], refit=None, claims=[], assumed=[], notes=notes,
        warnings=[f"{len(diverged)} run(s) diverged: {', '.join(diverged[:5])}"] if diverged else [], formats=formats,
        quantizer=quantizer_settings(records),
    )


def _config(r: dict[str, Any]) -> tuple[float, float, int, int, int]:
    """What a run measures, seed aside: (N, D, w, a, kv bits)."""
    return (float(r["params"]), float(r["tokens"]), *_bits(r))


def seed_noise(good: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Seed-to-seed spread of the loss: per configuration (N, D, bits) with its seeds' mean and
    sample standard deviation, and the pooled standard deviation over every configuration with
    two or more seeds (sqrt of the degrees-of-freedom-weighted mean variance), for the loss and
    for the PTQ degradation (post-PTQ loss minus loss). ``pooled_sd`` is None with one seed each."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for r in good:
        groups[_config(r)].append(r)
    rows, ss, df, ss_ptq, df_ptq = [], 0.0, 0, 0.0, 0
    for key, rs in sorted(groups.items()):
        losses = np.array([float(r["loss"]) for r in rs])
        sd = float(losses.std(ddof=1)) if len(rs) > 1 else None
        if len(rs) > 1:
            ss, df = ss + float(((losses - losses.mean()) ** 2).sum()), df + len(rs) - 1
        for b in {b for r in rs for b in r.get("ptq", {})}:
            deg = np.array([float(r["ptq"][b]) - float(r["loss"]) for r in rs if b in r.get("ptq", {})])
            if len(deg) > 1:
                ss_ptq, df_ptq = ss_ptq + float(((deg - deg.mean()) ** 2).sum()), df_ptq + len(deg) - 1
        rows.append({"params": key[0], "tokens": key[1], "bits": list(key[2:]), "seeds": len(rs),
                     "mean_loss": float(losses.mean()), "sd": sd})
    counts = [r["seeds"] for r in rows]
    return {"seeds_min": min(counts, default=0), "seeds_max": max(counts, default=0), "rows": rows,
            "pooled_sd": math.sqrt(ss / df) if df else None, "pooled_df": df,
            "pooled_sd_ptq": math.sqrt(ss_ptq / df_ptq) if df_ptq else None, "resolve_sigmas": RESOLVE_SIGMAS}


def _resolved(effect: float, sd: float | None, n_a: int, n_b: int) -> bool | None:
    """Whether a difference of two means (over ``n_a`` and ``n_b`` seeds) stands out of seed noise
    ``sd``: |effect| > RESOLVE_SIGMAS standard errors. None when the noise is not measured."""
    if sd is None:
        return None
    return abs(effect) > RESOLVE_SIGMAS * sd * math.sqrt(1 / n_a + 1 / n_b)


PROFILE_GAMMAS = np.logspace(np.log10(0.03), np.log10(30.0), 61)  # the gamma_x grid of the profile
PROFILE_SPAN = 10.0  # a gamma_x range this wide (max/min) fitting the runs equally well: not identified
PROFILE_CHI2 = 3.84  # chi-square(1 dof) at 95%: the profile's allowed rise in residual sum of squares / sigma^2


def _unidentified(good: Sequence[dict[str, Any]], refit: dict[str, Any] | None, noise: dict[str, Any],
                  base: Law | None = None) -> list[dict[str, Any]]:
    """Refitted precision factors (gamma_x, n_x) that these runs cannot pin down, judged from the
    runs, never from where one optimizer run stopped: fewer than three precisions of operand x
    below 16 bits (two points fix two constants exactly: nothing is tested), a profile of the fit
    over gamma_x that stays flat over more than a factor PROFILE_SPAN (:func:`profile_gamma`: gamma
    and n slide together along a ridge), or no quantization effect of x resolved above the seed
    noise."""
    if not refit or refit.get("law") is None:
        return []
    fitted, law = set(refit.get("fitted", [])), refit["law"]
    means: dict[tuple, list[float]] = defaultdict(list)
    for r in good:
        means[_config(r)].append(float(r["loss"]))
    out = []
    for i, op in enumerate(("w", "a", "kv")):
        names = [k for k in (f"gamma_{op}", f"n_{op}") if k in fitted]
        if not names:
            continue
        only = [r for r in good if _bits(r)[i] < HIGH and all(_bits(r)[j] >= HIGH for j in range(3) if j != i)]
        levels = sorted({_bits(r)[i] for r in only})
        values = ", ".join(f"{k} = {law.c(k):.4g}" for k in names)
        reason, profile = None, None
        if len(levels) < 3:
            reason = (f"{values}: {op} is quantized at {len(levels)} precision(s) only ({', '.join(map(str, levels))} bits);"
                      " two constants through two points are determined exactly, not tested")
        else:
            profile = profile_gamma(only, base or law, i, noise.get("pooled_sd"))
            lo, hi = profile["gamma_range"]
            if hi / lo > PROFILE_SPAN:
                edge = " (the whole range searched)" if profile["at_edge"] else ""
                reason = (f"any gamma_{op} from {lo:.3g} to {hi:.3g}{edge}, each with its own n_{op}, fits the {len(only)}"
                          f" {op}-quantized runs as well as the best (within the noise): gamma_{op} and n_{op} slide"
                          f" together along a ridge, so the refit's {values} is one point on it")
        if reason is None and noise["pooled_sd"] is not None:
            effects = []
            for k, v in means.items():
                if k[2 + i] < HIGH and all(k[2 + j] >= HIGH for j in range(3) if j != i):
                    ref = means.get((k[0], k[1], HIGH, HIGH, HIGH))
                    if ref:
                        effects.append(_resolved(np.mean(v) - np.mean(ref), noise["pooled_sd"], len(v), len(ref)))
            if effects and not any(effects):
                reason = f"{values}: no {op}-quantization effect in these runs stands out of the seed noise"
        if reason:
            out.append({"operand": op, "constants": names, "values": {k: law.c(k) for k in names}, "reason": reason,
                        "profile": profile})
    return out


def profile_gamma(runs: Sequence[dict[str, Any]], base: Law, index: int, sd: float | None = None,
                  gammas: np.ndarray = PROFILE_GAMMAS) -> dict[str, Any]:
    """Profile of the precision factor of one operand over gamma_x: for each gamma_x on a fixed
    grid, the least residual sum of squares over the other constant of the factor, on the runs
    that quantize only that operand.

    Kumar et al. 2024, eqs. 3-5: such a run's loss is E + A (N f_x(P))^-alpha + B D^-beta with
    f_x(P) = [1 - exp(n_x - P/gamma_x)] / [1 - exp(n_x - 16/gamma_x)] and the base terms of
    ``base`` held fixed. Writing t = exp(n_x - P_min/gamma_x) in [0, 1) (P_min the lowest measured
    precision) makes the inner problem one-dimensional and bounded: it is solved on a fixed grid of
    t and refined by a bounded scalar search, so the answer depends on the runs, not on where an
    optimizer started. gamma_x values whose best RSS lies within PROFILE_CHI2 sigma^2 of the least
    are those the runs cannot tell apart; sigma is the seed noise ``sd`` when measured, else the
    residual standard deviation of the best fit (at least 1e-6 of the mean loss).

    Parameters
    ----------
    runs : sequence of dict
        Store records that quantize operand ``index`` (0 w, 1 a, 2 kv) only.
    base : Law
        Law whose E, A, B, alpha, beta predict the runs' losses.
    index : int
        Which operand.
    sd : float or None
        Seed-to-seed standard deviation of the loss, if measured.
    gammas : ndarray
        The gamma_x grid.

    Returns
    -------
    dict
        ``gammas``, ``rss`` (the profile), ``gamma_range`` (lo, hi of the gamma_x the runs cannot
        tell apart), ``at_edge`` (that range reaches the grid's end) and ``sigma``.

    Example
    -------
    >>> # see tests/test_validate_report.py::test_refitted_constants_the_runs_cannot_identify_are_flagged
    """
    from scipy.optimize import minimize_scalar

    n = np.array([float(r["params"]) for r in runs])
    d = np.array([float(r["tokens"]) for r in runs])
    p = np.array([float(_bits(r)[index]) for r in runs])
    y = np.array([float(r["loss"]) for r in runs])
    E, A, B, alpha, beta = (base.c(k) for k in ("E", "A", "B", "alpha", "beta"))
    rest = E + B * d ** -beta
    p_min = float(p.min())

    def rss(gamma: float, t: np.ndarray) -> np.ndarray:
        t = np.atleast_1d(t)[:, None]
        raw = 1.0 - t * np.exp(-(p[None, :] - p_min) / gamma)
        ref = 1.0 - t * np.exp(-(HIGH - p_min) / gamma)
        pred = rest[None, :] + A * (n[None, :] * raw / ref) ** -alpha
        return ((pred - y[None, :]) ** 2).sum(axis=1)

    ts = np.concatenate([[0.0], np.logspace(-8, 0, 400)[:-1], 1.0 - np.logspace(-1, -8, 100)])
    profile = np.empty(gammas.size)
    for k, g in enumerate(gammas):
        grid = rss(g, ts)
        j = int(np.argmin(grid))
        lo, hi = ts[max(j - 1, 0)], ts[min(j + 1, ts.size - 1)]
        best = float(grid[j])
        if hi > lo:
            res = minimize_scalar(lambda t: float(rss(g, t)[0]), bounds=(lo, hi), method="bounded", options={"xatol": 1e-12})
            best = min(best, float(res.fun))
        profile[k] = best
    floor = float(profile.min())
    sigma = sd if sd is not None else math.sqrt(floor / max(len(runs) - 2, 1))
    sigma = max(sigma, 1e-6 * float(np.mean(y)))
    ok = profile <= floor + PROFILE_CHI2 * sigma**2
    inside = gammas[ok]
    return {"gammas": gammas.tolist(), "rss": profile.tolist(), "gamma_range": (float(inside.min()), float(inside.max())),
            "at_edge": bool(ok[0] or ok[-1]), "sigma": sigma}


def _ptq_method_note(good: Sequence[dict[str, Any]], law: Law) -> str | None:
    """Kumar et al. 2024 fit the PTQ constants on GPTQ (docs/science.md section 11); the validate runs
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


def _claim_effective_params(good: Sequence[dict[str, Any]], law: Law | None, refit: dict[str, Any] | None,
                            noise: dict[str, Any] | None = None) -> Claim:
    """Kumar et al. 2024, sec. 3: training weights in fewer bits shrinks the effective parameter
    count. Per (N, D) with a 16-bit run and weight-only quantized runs, N_eff/N is the factor that
    turns the 16-bit run's parameter term into the quantized run's, from eq. 10 with the fitted
    base: (L_16 - E - B/D^beta) / (L_P - E - B/D^beta) = (N_eff/N)^alpha. Losses are means over
    seeds; an effect within the seed noise (:func:`_resolved`) is "not resolved"."""
    title = "Lower training precision costs effective parameters"
    sd = (noise or {}).get("pooled_sd")
    runs: dict[tuple[float, float], dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in good:
        w, a, kv = _bits(r)
        if a >= HIGH and kv >= HIGH:
            runs[(r["params"], r["tokens"])][w].append(float(r["loss"]))
    groups = {k: {b: float(np.mean(v)) for b, v in by.items()} for k, by in runs.items() if HIGH in by and len(by) >= 2}
    if not groups:
        return Claim(title, "not tested", "no (N, D) has both a 16-bit run and weight-quantized runs")
    details, rho = [], []
    for (N, D), by_bits in sorted(groups.items()):
        bits = sorted(by_bits)
        rho.append(_spearman(bits, [-by_bits[b] for b in bits]))
        for b in bits[:-1]:
            n_b, n_16 = len(runs[(N, D)][b]), len(runs[(N, D)][HIGH])
            row: dict[str, Any] = {"params": N, "tokens": D, "weight_bits": b, "loss": by_bits[b], "loss_16": by_bits[HIGH],
                                   "seeds": min(n_b, n_16), "resolved": _resolved(by_bits[b] - by_bits[HIGH], sd, n_b, n_16)}
            if law is not None:
                floor = law.c("E") + float(law.data_term(D))
                num, den = by_bits[HIGH] - floor, by_bits[b] - floor
                row["n_eff_fraction"] = (num / den) ** (1 / law.c("alpha")) if num > 0 and den > 0 else None
                row["law_fraction"] = float(law.factor(b, "w"))
            if refit and refit.get("law") is not None:
                row["refit_fraction"] = float(refit["law"].factor(b, "w"))
            details.append(row)
    lowest = [d for d in details if d["weight_bits"] == min(x["weight_bits"] for x in details)]
    lb = lowest[0]["weight_bits"]
    judged = [d for d in lowest if d["resolved"] is not False]  # resolved, or noise unmeasured
    mean_rho = float(np.nanmean(rho)) if np.isfinite(rho).any() else float("nan")
    frac = [d.get("n_eff_fraction") for d in lowest if d.get("n_eff_fraction") is not None]
    if not judged:
        return Claim(title, NOT_RESOLVED,
                     f"{len(groups)} (N, D) group(s): at {lb}-bit weights the loss differs from the 16-bit run's by less than"
                     f" {RESOLVE_SIGMAS:g} standard errors of the seed noise (pooled sd {sd:.4f} nats) in every group",
                     details)
    worse = all(d["loss"] > d["loss_16"] for d in judged)
    holds = worse and (not math.isfinite(mean_rho) or mean_rho > 0)
    evidence = (f"{len(groups)} (N, D) group(s): at {lb}-bit weights the loss is above the 16-bit run's in"
                f" {sum(d['loss'] > d['loss_16'] for d in judged)}/{len(judged)}"
                + (f" resolved above seed noise ({len(lowest) - len(judged)} within it)" if sd is not None else "")
                + f"; mean rank correlation of bits with -loss {mean_rho:+.2f}")
    if frac:
        evidence += f"; measured N_eff/N at {lb} bits: {np.mean(frac):.2f} (law: {lowest[0].get('law_fraction', float('nan')):.2f})"
    return Claim(title, "holds" if holds else "does not hold", evidence, details)


def _claim_ptq_grows_with_d(good: Sequence[dict[str, Any]], noise: dict[str, Any] | None = None) -> Claim:
    """Kumar et al. 2024, sec. 3 / eq. 2: at fixed N, PTQ degradation grows with training tokens.
    Degradations are means over seeds; a series whose rise (largest D minus smallest) lies within
    the seed noise of the degradation is "not resolved" and does not count either way."""
    title = "PTQ damage grows with D at fixed N"
    sd = (noise or {}).get("pooled_sd_ptq")
    raw: dict[tuple[float, int], dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in good:
        if min(_bits(r)) < HIGH:
            continue
        for b, v in r.get("ptq", {}).items():
            raw[(r["params"], int(b))][float(r["tokens"])].append(float(v) - float(r["loss"]))
    raw = {k: v for k, v in raw.items() if len(v) >= 2 and k[1] <= 4}
    if not raw:
        return Claim(title, "not tested", "no N has 16-bit runs at two or more D with PTQ to 4 bits or fewer")
    details, rising, resolved_n = [], 0, 0
    for (N, b), by_d in sorted(raw.items()):
        pts = sorted((d, float(np.mean(x))) for d, x in by_d.items())
        rho = _spearman([d for d, _ in pts], [x for _, x in pts])
        up = rho > 0 and pts[-1][1] > pts[0][1]
        res = _resolved(pts[-1][1] - pts[0][1], sd, len(by_d[pts[-1][0]]), len(by_d[pts[0][0]]))
        if res is not False:
            resolved_n += 1
            rising += up
        details.append({"params": N, "post_bits": b, "tokens": [d for d, _ in pts], "degradation": [x for _, x in pts],
                        "rank_correlation": rho, "rises": bool(up), "resolved": res})
    if resolved_n == 0:
        return Claim(title, NOT_RESOLVED, f"in all {len(raw)} (N, post-bits) series the change of the degradation with D is"
                     f" within {RESOLVE_SIGMAS:g} standard errors of the seed noise (pooled sd {sd:.4f} nats)", details)
    holds = rising >= math.ceil(2 * resolved_n / 3)
    return Claim(title, "holds" if holds else "does not hold",
                 f"degradation rises with D in {rising}/{resolved_n} (N, post-bits) series (PTQ to 3-4 bits, 16-bit-trained runs)"
                 + (f"; {len(raw) - resolved_n} more within seed noise" if resolved_n < len(raw) else ""),
                 details)


def _claim_optimal_precision(law: Law, refit: dict[str, Any] | None, unidentified: Sequence[dict[str, Any]] = ()) -> Claim:
    """Kumar et al. 2024, sec. 4.3: with N, D, P free under C = (6/16) N D P, P* = argmax f(P)/P."""
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
    shaky = [u["operand"] for u in unidentified if u["operand"] in ops]
    if shaky:  # P* rests on factors the runs cannot pin down
        verdict = NOT_RESOLVED
    return Claim(title, verdict,
                 f"fitted law: P* = {p_fit:.2f} bits; {law.id}: {p_law:.2f} bits; {abs(gap):.2f} bits apart ('agrees' means"
                 f" within +-{P_STAR_TOLERANCE:g} bit; factors refitted for: {', '.join(ops) or 'none'}; the rest taken from"
                 " the law)" + (f"; not resolved: the refitted {', '.join(shaky)} factor(s) are not identified by these runs"
                                 if shaky else ""),
                 [{"law": p_law, "fitted": p_fit, "difference": gap, "tolerance": P_STAR_TOLERANCE,
                                "refitted_operands": ops}])
