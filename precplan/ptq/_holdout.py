"""How well a PTQ law predicts model families it was not fit on.

The rows are the published GPTQ per-channel measurements ``kumar2024-ptq-real`` is fit on
(``data/ptq_measurements.csv``; 0 <= delta <= 1 nats). For a law that never saw them (kumar2024:
fit on the paper's own small models) every row is held out, and :func:`family_errors` scores it
directly. For the calibrated law, :func:`leave_one_family_out` refits its four PTQ constants
(C_T, gamma_D, gamma_N, gamma_post; the rest held at kumar2024's, as the shipped fit) with one
family left out and predicts that family. :func:`family_bootstrap` refits on families drawn
with replacement: the coefficient samples the calibrated law ships. The ratio scored is
predicted / measured degradation (ln ppl after - ln ppl before) per row with a nonzero measurement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from precplan.laws import as_law
from precplan.laws import Law
from precplan.ptq._measured import COLLAPSED, Measurement, measurements, predicted_degradation

__all__ = [
    "FITTED", "FamilyError", "calibration_rows", "holdout_errors", "family_bootstrap", "family_errors", "leave_one_family_out", "refit_ptq",
]

FITTED = ("C_T", "gamma_D", "gamma_N", "gamma_post")  # the constants kumar2024-ptq-real refits
WITHIN = 2.0  # a prediction within this factor of the measurement counts as "within 2x"


@dataclass(frozen=True)
class FamilyError:
    """A law's predictions for one held-out model family: rows scored, the median of predicted /
    measured, how many land within 2x, and (for a refit) the constants fit without the family."""

    family: str
    rows: int
    median_ratio: float
    within_2x: int
    constants: dict | None = None


def calibration_rows() -> list[Measurement]:
    """The rows the calibrated law is fit on: GPTQ, per-channel, 0 <= delta <= COLLAPSED nats."""
    return [m for m in measurements() if m.method == "gptq" and m.group == "per-channel" and 0 <= m.delta_loss <= COLLAPSED]


def _score(law: Law, rows: list[Measurement], family: str, constants: dict | None = None) -> FamilyError:
    scored = [m for m in rows if m.delta_loss > 0]
    ratio = predicted_degradation(law, scored) / np.array([m.delta_loss for m in scored])
    return FamilyError(family, len(scored), float(np.median(ratio)),
                       int(np.sum((ratio >= 1 / WITHIN) & (ratio <= WITHIN))), constants)


def family_errors(law: Law | str, rows: list[Measurement] | None = None) -> list[FamilyError]:
    """Per family (file order), ``law``'s predicted / measured on ``rows`` (default: the
    calibration rows), without refitting: right for a law never fit on these rows.

    Example
    -------
    >>> from precplan.ptq import family_errors
    >>> [e.family for e in family_errors("kumar2024")]
    ['OPT', 'BLOOM', 'LLaMA-1', 'Llama-2', 'Llama-3']
    """
    law, rows = as_law(law), calibration_rows() if rows is None else rows
    return [_score(law, [m for m in rows if m.family == f], f) for f in dict.fromkeys(m.family for m in rows)]


def refit_ptq(rows: list[Measurement], base: Law | str = "kumar2024") -> dict[str, float]:
    """The calibrated law's four PTQ constants fit on ``rows`` with ``base``'s other constants
    held: ``precplan fit --form ptq --law kumar2024`` (Huber, delta 0.001, full grid), the
    shipped law's own recipe. A row given k times (a family drawn twice by the bootstrap) enters
    k times: its copies are told apart by 1e-9 nats added to both losses, which leaves the
    degradation the PTQ stage fits unchanged."""
    from precplan.fit import fit_law

    base = as_law(base)
    seen: dict[int, int] = {}
    recs = []
    for m in rows:
        copy = seen[id(m)] = seen.get(id(m), -1) + 1
        recs.append({"params": m.params, "tokens": m.tokens, "loss": math.log(m.ppl_before) + 1e-9 * copy, "post_bits": m.bits,
                     "post_loss": math.log(m.ppl_after) + 1e-9 * copy})
    res = fit_law(recs, form="ptq", base_law=base, grid="full", objective="huber", delta=0.001)
    return {k: float(res.coefficients[k]) for k in FITTED}


def leave_one_family_out(base: Law | str = "kumar2024", rows: list[Measurement] | None = None) -> list[FamilyError]:
    """For each family: refit the four PTQ constants on the other families, predict this one.

    Returns
    -------
    list of FamilyError
        One per family, with the constants of its fold.
    """
    base, rows = as_law(base), calibration_rows() if rows is None else rows
    out = []
    for fam in dict.fromkeys(m.family for m in rows):
        consts = refit_ptq([m for m in rows if m.family != fam], base)
        out.append(_score(base.with_coefficients(**consts), [m for m in rows if m.family == fam], fam, consts))
    return out


def family_bootstrap(count: int, seed: int = 2026, base: Law | str = "kumar2024", min_families: int = 3,
                     rows: list[Measurement] | None = None, on_row=None) -> np.ndarray:
    """``count`` refits of the four PTQ constants, each on model families drawn with replacement
    (a cluster bootstrap: rows of one family share a model line, a data set and a token count, so
    they are not independent). Draws with fewer than ``min_families`` distinct families are
    redrawn (too few model lines to fit four constants). Returns a (count, 4) array in
    :data:`FITTED` order; ``numpy.random.default_rng(seed)``. The first k rows of a run are those
    of ``count=k`` (draws are sequential); ``on_row(row)`` sees each row as it is fit."""
    base, rows = as_law(base), calibration_rows() if rows is None else rows
    fams = list(dict.fromkeys(m.family for m in rows))
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        pick = rng.choice(len(fams), size=len(fams), replace=True)
        if len(set(pick.tolist())) < min_families:
            continue
        draw = [m for i in pick for m in rows if m.family == fams[i]]
        consts = refit_ptq(draw, base)
        out.append([consts[k] for k in FITTED])
        if on_row is not None:
            on_row(out[-1])
    return np.array(out)


def holdout_errors(law: Law | str) -> tuple[str, list[FamilyError]]:
    """What ``laws show`` prints for a PTQ law: the leave-one-family-out results its file records
    (``provenance.holdout``, written from :func:`leave_one_family_out` by docs/ptq_holdout.py), or,
    for a law not fit on the measurements, :func:`family_errors` (every row is held out). The
    first item says which."""
    law = as_law(law)
    rec = (law.provenance or {}).get("holdout")
    if isinstance(rec, dict) and isinstance(rec.get("families"), dict):
        fams = [FamilyError(f, int(v["rows"]), float(v["median_ratio"]), int(v["within_2x"]))
                for f, v in rec["families"].items()]
        return "leave one family out: refit without the family, scored on it", fams
    fit_on = "ptq_measurements" in str((law.provenance or {}).get("data", ""))
    label = ("in-sample: the law was fit on these rows" if fit_on
             else "every row held out: the law was not fit on these measurements")
    return label, family_errors(law)
