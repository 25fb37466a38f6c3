"""The result of ``precplan fit`` and the law file it becomes.

Coefficients a stage fitted get source ``fitted``; coefficients taken from another law keep that
law's source and reference, with a note saying where they came from ("taken from kumar2024"), so
assumed constants stay assumed. The law records its data (path, rows, sha256), the fit settings,
the date and its fit quality under ``provenance``.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from precplan.fit._bootstrap import Bootstrap
from precplan.fit._plan import Plan
from precplan.fit._quality import Points
from precplan.laws import BASE, FORMS, PRECISION, Coefficient, Law, Samples, law_to_mapping
from precplan import __version__
from precplan.io import to_jsonable

__all__ = ["OUT_FORM_DESC", "FitResult", "bootstrap_samples", "build_law", "default_id", "source_labels"]


@dataclass
class FitResult:
    """What a fit produced. ``law`` is ready for :func:`precplan.laws._file.save_law`."""

    law: Law
    form: str
    coefficients: dict[str, float]
    fitted: list[str]
    sources: dict[str, str]
    intervals: dict[str, tuple[float, float]]
    stderr: dict[str, float]
    optimum: dict[str, float]
    optimum_warnings: list[str]  # N* or D* outside the fitted runs (also in ``warnings``)
    r2: float
    stage_r2: dict[str, float]
    quality: dict[str, float]
    residuals: np.ndarray
    n_runs: int
    n_rows: int
    converged: dict[str, bool]
    stages: dict[str, dict[str, Any]]
    points: Points
    holdout: dict[str, Any] | None = None
    holdout_points: Points | None = None
    bootstrap: Bootstrap | None = None
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"<FitResult {self.law.id} ({self.form}): {len(self.fitted)} coefficients fitted to {self.n_runs} runs, R2 {self.r2:.4f}>"

    @property
    def assumed(self) -> list[str]:
        return self.law.assumed

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` document: coefficients, intervals (with --bootstrap), quality, the law."""
        out = {
            "law_id": self.law.id, "form": self.form, "coefficients": self.coefficients, "fitted": self.fitted,
            "sources": self.sources, "assumed": self.assumed, "r2": self.r2, "stage_r2": self.stage_r2,
            "quality": self.quality, "optimum": self.optimum, "optimum_warnings": self.optimum_warnings,
            "n_runs": self.n_runs, "n_rows": self.n_rows,
            "converged": self.converged, "stages": self.stages, "residuals": self.residuals,
            "holdout": self.holdout, "warnings": self.warnings, "notes": self.notes,
            "settings": self.settings, "source": self.source, "law": law_to_mapping(self.law),
            "intervals": self.intervals, "stderr": self.stderr,
        }
        if self.bootstrap is not None:
            out.update(bootstrap={"resamples": self.bootstrap.n, "used": self.bootstrap.used, "level": self.bootstrap.level})
        return to_jsonable(out)


def default_id(source: dict[str, Any]) -> str:
    stem = Path(str(source.get("path") or "records")).stem
    return "fit-" + (re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-").lower() or "runs")


def source_labels(plan: Plan, fitted: list[str]) -> dict[str, str]:
    """Where each coefficient of the output form came from."""
    out = {}
    for name in FORMS[plan.form]:
        if name in fitted:
            out[name] = "fitted"
        elif name in BASE and plan.base_law is not None:
            out[name] = f"taken from {plan.base_law.id}"
        elif name in PRECISION:
            out[name] = f"taken from {plan.precision_donor.id}"
        else:
            out[name] = f"taken from {plan.ptq_donor.id}"
    return out


def build_law(plan: Plan, values: dict[str, float], fitted: list[str], data_points: Points, source: dict[str, Any],
              settings: dict[str, Any], quality: dict[str, Any], law_id: str | None,
              boot: Bootstrap | None, extra_notes: list[str]) -> Law:
    where = str(source.get("path") or "<records>")
    ref = f"precplan fit to {Path(where).name} ({source.get('rows')} rows)"
    coefs: dict[str, Coefficient] = {}
    for name in FORMS[plan.form]:
        if name in fitted:
            note = ""
            if boot is not None and name in boot.intervals:
                lo, hi = boot.intervals[name]
                note = f"{boot.level:.0%} bootstrap interval [{lo:.6g}, {hi:.6g}] ({boot.used} resamples)"
            stderr = boot.stderr.get(name) if boot is not None else None
            coefs[name] = Coefficient(float(values[name]), "fitted", ref, note, stderr)
        else:
            donor = plan.base_law if (name in BASE and plan.base_law is not None) else (
                plan.precision_donor if name in PRECISION else plan.ptq_donor)
            c = donor.coefficients[name]
            note = f"taken from {donor.id}" + (f"; {c.note}" if c.note else "")
            coefs[name] = replace(c, value=float(values[name]), note=note)
    fit_range = {"params": _span(data_points.params), "tokens": _span(data_points.tokens)}
    if plan.form != "chinchilla":
        bits = np.concatenate([data_points.weight_bits, data_points.activation_bits, data_points.kv_bits,
                               data_points.post_bits[np.isfinite(data_points.post_bits)]])
        fit_range["bits"] = _span(bits)
    stages = ", ".join(sorted({"base" if n in BASE else "precision" if n in PRECISION else "PTQ" for n in fitted}))
    provenance = to_jsonable({
        "data": source, "fit": settings, "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "quality": quality, "tool": f"precplan {_version()}",
        **({"bootstrap": {"resamples": boot.n, "used": boot.used, "level": boot.level}} if boot else {}),
    })
    return Law(
        id=law_id or default_id(source),
        title=f"Law fitted to {Path(where).name}",
        citation=f"Fitted with precplan fit to {where} ({source.get('rows')} rows, sha256 {str(source.get('sha256'))[:16]})",
        form=plan.form,
        coefficients=MappingProxyType(coefs),
        fit_range=MappingProxyType(fit_range),
        reference_bits=16.0,
        weight_format="int",
        description=(f"{OUT_FORM_DESC[plan.form]} Stages fitted: {stages}. Objective: {settings.get('objective')}"
                     f" on log loss (delta {settings.get('delta')}), L-BFGS from the {settings.get('grid')} start grid."),
        notes=tuple(plan.notes + extra_notes),
        provenance=MappingProxyType(provenance),
        origin=f"precplan fit {where}",
        samples=bootstrap_samples(boot, fitted),
    )


def bootstrap_samples(boot: Bootstrap | None, fitted: list[str]) -> Samples | None:
    """The bootstrap's coefficient vectors (one row per converged resample) for the fitted
    coefficients, so that every command can report intervals from the law file."""
    if boot is None or boot.used < 2:
        return None
    names = [n for n in fitted if n in boot.samples]
    if not names:
        return None
    values = np.column_stack([np.asarray(boot.samples[n], dtype=float) for n in names])
    method = (f"bootstrap, {boot.used} of {boot.n} resamples of the training runs (refit of every fitted stage;"
              " coefficients not fitted keep their point values)")
    return Samples(tuple(names), values, method)


OUT_FORM_DESC = {
    "chinchilla": "L = E + A / N^alpha + B / D^beta (Hoffmann et al. 2022).",
    "precision": "L = A N_eff^-alpha + B D^-beta + E, N_eff = N prod_x f_x(P_x) (Kumar et al. 2024).",
    "precision-ptq": "L = A N_eff^-alpha + B D^-beta + E + delta_PTQ (Kumar et al. 2024).",
}


def _span(values: np.ndarray) -> list[float]:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return [float(v.min()), float(v.max())]


def _version() -> str:
    return __version__
