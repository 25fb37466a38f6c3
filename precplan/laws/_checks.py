"""Where an answer stops being a prediction. One rule for every command (``predict``,
``optimize``, ``ptq-risk``):

- **Extrapolation, measured.** How far a request lies beyond the range a law was fit on, as a
  factor in parameters N, tokens D and tokens per parameter D/N (1 inside the range; the D/N
  range is the one the N and D ranges imply, tokens_low/params_high .. tokens_high/params_low).
  Up to :data:`FAR_FACTOR` (10x) outside, output warns that the prediction extrapolates Nx;
  past it, verdicts and recommendations are phrased as what the law extrapolates to, not as
  advice (:func:`extrapolation_lead`).
- **Implausible answers.** A plan below :data:`MIN_TOKENS_PER_PARAM` (1) or above
  :data:`MAX_TOKENS_PER_PARAM` (10,000) tokens per parameter has a shape no trained LLM has
  (Chinchilla-optimal is ~20; Sardana et al. 2024 trained up to 10,000), and a loss above
  ln(32000) = 10.37 nats is worse than guessing uniformly over a typical 32K-token vocabulary
  (:data:`UNIFORM_LOSS`). Both get a warning (:func:`plausibility_warnings`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Protocol

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "FAR_FACTOR", "MAX_TOKENS_PER_PARAM", "MIN_TOKENS_PER_PARAM", "TRUST_TIERS", "UNIFORM_LOSS", "VOCAB", "Extrapolation",
    "trust_phrase",
    "FitRanged", "extrapolation", "extrapolation_lead", "extrapolation_warnings", "plausibility_warnings",
]

VOCAB = 32_000  # a typical LLM vocabulary: ln(VOCAB) nats is the loss of uniform guessing
UNIFORM_LOSS = math.log(VOCAB)  # 10.37 nats
MIN_TOKENS_PER_PARAM = 1.0
MAX_TOKENS_PER_PARAM = 10_000.0
FAR_FACTOR = 10.0  # past this factor beyond the fitted range, answers are what the law extrapolates to
_LABELS = {"params": "parameters", "tokens": "tokens", "tokens_per_param": "tokens per parameter"}


class FitRanged(Protocol):
    """What the checks read of a law (a :class:`precplan.laws.Law`): its id and the ranges of
    ``params``, ``tokens`` (and ``bits``) it was fit on. The law module calls these checks, so
    they take this, not the class."""

    id: str
    fit_range: Mapping[str, tuple[float, float]]


@dataclass(frozen=True)
class Extrapolation:
    """Factors by which a request lies outside a law's fitted range (1.0 inside), per quantity,
    with the range each was measured against (``None`` where the law has none)."""

    params: float
    tokens: float
    tokens_per_param: float
    ranges: dict[str, tuple[float, float] | None]

    @property
    def factor(self) -> float:
        """The largest of the three factors."""
        return max(self.params, self.tokens, self.tokens_per_param)

    @property
    def far(self) -> bool:
        """More than :data:`FAR_FACTOR` beyond the data: say what the law extrapolates to, not advice."""
        return self.factor > FAR_FACTOR

    @property
    def worst(self) -> str:
        """Which quantity lies furthest outside (``params``, ``tokens`` or ``tokens_per_param``)."""
        return max(("params", "tokens", "tokens_per_param"), key=lambda k: getattr(self, k))

    def describe(self) -> str:
        """E.g. 'parameters 36x and tokens 577x beyond the range kumar2024 was fit on' (empty inside)."""
        parts = [f"{_LABELS[k]} {_times(getattr(self, k))}" for k in ("params", "tokens", "tokens_per_param") if getattr(self, k) > 1.0]
        return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _times(x: float) -> str:
    return f"{x:.3g}x"


def _factor(values: ArrayLike, lo: float, hi: float) -> float:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return 1.0
    return float(max(1.0, lo / v.min(), v.max() / hi))


def extrapolation(law: FitRanged, params: ArrayLike, tokens: ArrayLike) -> Extrapolation:
    """How far ``params`` and ``tokens`` (arrays allowed: the worst entry counts) lie beyond
    the range ``law`` was fit on, as factors (1.0 inside)."""
    N, D = np.asarray(params, dtype=float), np.asarray(tokens, dtype=float)
    pr, tr = law.fit_range.get("params"), law.fit_range.get("tokens")
    rr = (tr[0] / pr[1], tr[1] / pr[0]) if pr and tr else None
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = D / N
    return Extrapolation(
        params=_factor(N, *pr) if pr else 1.0,
        tokens=_factor(D, *tr) if tr else 1.0,
        tokens_per_param=_factor(ratio, *rr) if rr else 1.0,
        ranges={"params": pr, "tokens": tr, "tokens_per_param": rr},
    )


# How far to trust an answer, graded by its extrapolation factor: inside the fit range; up to 3x
# (close to the law's own accuracy); up to 10x (the ranking of options, not the digits; 10x is
# FAR_FACTOR, where answers are phrased as what the law extrapolates to); up to 100x (a
# direction); beyond (a hypothesis to test at small scale). The bounds are this project's choice.
# (largest factor beyond the fit range, the words): the first tier whose bound is not exceeded
TRUST_TIERS: tuple[tuple[float, str], ...] = (
    (1.0, "inside the range the law was fit on: as good as the law's fit"),
    (3.0, "up to {f} beyond the law's data: close to the law's own accuracy"),
    (10.0, "{f} beyond the law's data: trust the ranking of the options, not the digits"),
    (100.0, "{f} beyond the law's data: a direction, not a number"),
    (float("inf"), "{f} beyond the law's data: a hypothesis to test at small scale, not a prediction"),
)


def trust_phrase(factor: float) -> str:
    """How far to trust an answer that lies ``factor`` times beyond the law's data (1: inside),
    in the words of :data:`TRUST_TIERS`.

    Example
    -------
    >>> trust_phrase(1750.0)
    "1,750x beyond the law's data: a hypothesis to test at small scale, not a prediction"
    """
    f = max(1.0, float(factor))
    shown = f"{f:,.0f}x" if f >= 10 else f"{f:.1f}x"
    for bound, words in TRUST_TIERS:
        if f <= bound * (1 + 1e-12):
            return words.format(f=shown)
    raise AssertionError("unreachable: the last tier has no bound")



def extrapolation_warnings(law: FitRanged, params: ArrayLike, tokens: ArrayLike, bits: ArrayLike | None = None) -> list[str]:
    """One warning per quantity (parameters, tokens, tokens per parameter, bits) outside the
    range ``law`` was fit on, saying by what factor; past :data:`FAR_FACTOR`, that the result
    is what the law extrapolates to, not a prediction to act on."""
    ex = extrapolation(law, params, tokens)
    N, D = np.asarray(params, dtype=float), np.asarray(tokens, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = {"params": N, "tokens": D, "tokens_per_param": D / N}
    out: list[str] = []
    for key in ("params", "tokens", "tokens_per_param"):
        f = getattr(ex, key)
        if f <= 1.0 + 1e-9:
            continue
        lo, hi = ex.ranges[key]  # type: ignore[misc]
        v = np.asarray(values[key], dtype=float).ravel()
        lo_v, hi_v = float(np.min(v)), float(np.max(v))
        if lo_v == hi_v:
            shown = f"{_LABELS[key]} = {lo_v:.3g} is"
        else:  # several values: say how many of them are outside, not only their span
            k = int(np.sum((v < lo) | (v > hi)))
            shown = f"{_LABELS[key]} {lo_v:.3g}..{hi_v:.3g}: {'all' if k == v.size else f'{k} of {v.size}'} {'lie' if k > 1 else 'lies'}"
        tail = (
            f"the prediction extrapolates {_times(f)} beyond its data"
            if f <= FAR_FACTOR
            else f"far beyond its data ({_times(f)}, more than {FAR_FACTOR:g}x): what follows is what the law extrapolates to, not a measured regime"
        )
        implied = " (implied by its N and D ranges)" if key == "tokens_per_param" else ""
        out.append(f"{shown} outside the range law {law.id!r} was fit on ({lo:.3g}..{hi:.3g}{implied}): {tail}")
    if bits is not None and "bits" in law.fit_range:
        lo, hi = law.fit_range["bits"]
        v = np.asarray(bits, dtype=float)
        if np.any(v < lo * (1 - 1e-9)) or np.any(v > hi * (1 + 1e-9)):
            lo_v, hi_v = float(np.min(v)), float(np.max(v))
            shown = f"bits = {lo_v:.3g} is" if lo_v == hi_v else f"bits {lo_v:.3g}..{hi_v:.3g} lie"
            out.append(f"{shown} outside the range law {law.id!r} was fit on ({lo:.3g}..{hi:.3g}): the prediction extrapolates")
    return out


def extrapolation_lead(law: FitRanged, params: ArrayLike, tokens: ArrayLike) -> str | None:
    """The opening words of a verdict or recommendation made far (past :data:`FAR_FACTOR`)
    beyond the law's data, e.g. "the law extrapolates (tokens 577x beyond the range kumar2024
    was fit on) that"; ``None`` within it (the answer may then be read as advice)."""
    ex = extrapolation(law, params, tokens)
    if not ex.far:
        return None
    return f"the law extrapolates ({ex.describe()} beyond the range {law.id} was fit on; not a measured regime) that"


def plausibility_warnings(params: ArrayLike, tokens: ArrayLike | None, loss: ArrayLike | None = None, what: str = "this plan",
                          loss_what: str = "predicted loss") -> list[str]:
    """Warnings for a shape no trained LLM has (below 1 or above 10,000 tokens per parameter)
    and for losses above uniform guessing (ln(32000) nats). Arrays allowed: one line each.
    ``tokens=None`` checks only the loss; ``loss_what`` names the loss (e.g. "the 2-bit row's loss")."""
    if tokens is None:
        tokens = np.asarray(params, dtype=float) * 20.0  # no shape to check
    N, D = np.atleast_1d(np.asarray(params, dtype=float)), np.atleast_1d(np.asarray(tokens, dtype=float))
    out: list[str] = []
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = D / N
    low, high = ratio < MIN_TOKENS_PER_PARAM, ratio > MAX_TOKENS_PER_PARAM
    if np.any(low) or np.any(high):
        bad = ratio[low | high]
        shown = f"{bad[0]:.3g}" if bad.size == 1 else f"{bad.min():.3g}..{bad.max():.3g}"
        count = f" (at {bad.size} of {ratio.size} points)" if ratio.size > 1 else ""  # several: say how many
        out.append(
            f"{what} has {shown} tokens per parameter{count}, outside {MIN_TOKENS_PER_PARAM:g}..{MAX_TOKENS_PER_PARAM:,.0f}:"
            " no trained language model has that shape (Chinchilla-optimal is about 20), so the law has nothing to say there"
        )
    if loss is not None:
        L = np.atleast_1d(np.asarray(loss, dtype=float))
        over = L[np.isfinite(L) & (L > UNIFORM_LOSS)]
        if over.size:
            shown = f"{over[0]:.4g}" if over.size == 1 else f"{over.min():.4g}..{over.max():.4g}"
            out.append(
                f"{loss_what} {shown} nats is above ln({VOCAB}) = {UNIFORM_LOSS:.2f}, worse than guessing uniformly"
                f" over a 32K-token vocabulary: the law is meaningless there"
            )
    return out
