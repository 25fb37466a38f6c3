"""Intervals from a law's coefficient samples: the one rule every command (``predict``,
``optimize``, ``ptq-risk``) uses to turn S per-sample answers into an ``uncertainty`` object.

A law file may carry a sample of coefficient vectors (bootstrap refits from ``precplan fit
--bootstrap``, or draws from published standard errors; :class:`precplan.laws.Samples`).
Each command solves its problem for every sample at once (:meth:`precplan.laws.Law.sampled`)
and reports the central ``level`` interval of each headline number: the (1 - level)/2 and
(1 + level)/2 percentiles over the samples. Samples for which the answer does not exist (the
law breaks down, e.g. an effective-parameter factor <= 0) are left out and counted.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from numpy.typing import ArrayLike

from precplan.errors import PrecplanError
from precplan.laws._law import Law

__all__ = [
    "DEFAULT_LEVEL", "check_level", "interval", "intervals", "point_estimate_note", "uncertainty", "uncertainty_notes",
]

DEFAULT_LEVEL = 0.8


def check_level(level: float) -> float:
    """``level`` as a float in (0, 1), else a :class:`PrecplanError` saying what is valid."""
    try:
        v = float(level)
    except (TypeError, ValueError):
        raise PrecplanError(f"--level must be a number between 0 and 1 (e.g. 0.8 for 80% intervals); got {level!r}") from None
    if not (0.0 < v < 1.0):
        raise PrecplanError(f"--level must be between 0 and 1, exclusive (e.g. 0.8 for 80% intervals); got {v:g}")
    return v


def interval(values: ArrayLike, level: float) -> list[float] | None:
    """The central ``level`` interval [lo, hi] of the finite ``values`` (None if fewer than 2)."""
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    if v.size < 2:
        return None
    q = 50.0 * (1.0 - level)
    lo, hi = np.percentile(v, [q, 100.0 - q])
    return [float(lo), float(hi)]


def uncertainty(law: Law, level: float, samples: Mapping[str, ArrayLike], count: int | None = None) -> dict[str, Any]:
    """The ``uncertainty`` object of a result: ``{"level": 0.8, "samples": S, "method": ...,
    "sampled": [coefficient names], "dropped": k, "<quantity>": [lo, hi], ...}``.

    ``samples`` maps each headline quantity to its S per-sample values (broadcast to S); a
    sample is dropped when any of its quantities is not finite (+inf loss: the law breaks
    down there; NaN: no answer), and ``dropped`` counts them."""
    s = law.samples
    S = count if count is not None else (s.count if s is not None else 0)
    arrays = {k: np.broadcast_to(np.asarray(v, dtype=float), (S,)) for k, v in samples.items()}
    # a quantity that is +inf or NaN for every sample (e.g. no D_crit at all) does not drop samples
    finite = np.ones(S, dtype=bool)
    for v in arrays.values():
        ok = np.isfinite(v)
        if ok.any():
            finite &= ok
    out: dict[str, Any] = {
        "level": float(level),
        "samples": int(S),
        "method": s.method if s is not None else "",
        "sampled": list(s.names) if s is not None else [],
        "dropped": int(S - finite.sum()),
    }
    keys = list(arrays)
    if keys:
        bands = intervals(np.stack([np.where(finite, arrays[k], np.nan) for k in keys]), level)
        out.update(zip(keys, bands))
    return out


def intervals(rows: ArrayLike, level: float) -> list[list[float] | None]:
    """:func:`interval` of every row of a 2-D array at once (one sort; NaN and inf ignored)."""
    m = np.asarray(rows, dtype=float)
    m = np.where(np.isfinite(m), m, np.nan)
    n = np.sum(~np.isnan(m), axis=1)
    srt = np.sort(m, axis=1)  # NaN sorts last
    q = 0.5 * (1.0 - level)
    out: list[list[float] | None] = []
    for i, count in enumerate(n):
        if count < 2:
            out.append(None)
            continue
        band = []
        for frac in (q, 1.0 - q):  # numpy's default ("linear") percentile
            pos = frac * (count - 1)
            j = int(np.floor(pos))
            k = min(j + 1, count - 1)
            band.append(float(srt[i, j] + (pos - j) * (srt[i, k] - srt[i, j])))
        out.append(band)
    return out


def uncertainty_notes(law: Law, unc: Mapping[str, Any] | None) -> list[str]:
    """What an interval rests on (method, which coefficients vary, dropped samples), or that the
    answer is a point estimate when the law has no samples."""
    if unc is None:
        return [point_estimate_note(law)]
    held = [k for k in law.coefficients if k not in unc["sampled"]]
    notes = [
        f"intervals: central {unc['level']:.0%} of {unc['samples']} coefficient samples of law {law.id}"
        f" ({unc['method']})" + (f"; {', '.join(held)} held at their point values" if held else "")
    ]
    if unc["dropped"]:
        notes.append(f"{unc['dropped']} of {unc['samples']} coefficient samples give no answer here (the law breaks down for them) and are left out of the intervals")
    return notes


def point_estimate_note(law: Law) -> str:
    """The note for a law without coefficient samples."""
    return (
        f"law {law.id} carries no coefficient samples, so this is a point estimate without an interval"
        " (fit --bootstrap N writes samples into the law file)"
    )
