"""The answer first: a plan's verdict (one or two sentences a team can act on), how far to trust
it, and whether its shape lies inside what real training runs do.

**Trust, graded by extrapolation** (:func:`precplan.laws.trust_phrase`, re-exported here): the
factor is the largest of how far N, D and D/N lie beyond the range the law was fit on.

**The plausibility envelope** (tokens per parameter D/N, which with C = 6 N D also bounds N
against the training compute: N <= sqrt(C / (6 x 5))):

- lower :data:`MIN_TOKENS_PER_PARAM` = 5, a quarter of the ~20 tokens per parameter of
  compute-optimal training (Hoffmann et al. 2022, Table 3: 1B -> 20.2B tokens, 67B -> 1.5T,
  175B -> 3.7T). The last frontier models trained below it (GPT-3 175B on 300B tokens, 1.7
  tokens/param, Brown et al. 2020, sec. 2.2) are the ones Hoffmann et al. showed to be too
  large for their compute. The factor of 4 below Chinchilla is this project's choice.
- upper :data:`MAX_TOKENS_PER_PARAM` = 10,000: Sardana et al. 2024 (abstract) trained 47 models
  up to 10,000 tokens per parameter; Llama 3 8B was trained on ~15T tokens, ~1,875 per
  parameter (Llama Team 2024, "The Llama 3 Herd of Models", sec. 1 and Table 3).

A plan outside the envelope is not hidden: its verdict says so, names the term that drives it
there (with PTQ planned for, the PTQ term when the plan without it lies inside), and shows the
plan at the envelope's edge and the plan under the evidence-calibrated PTQ terms
(:data:`CALIBRATED_PTQ_LAW`) beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

from precplan.laws import TRUST_TIERS, trust_phrase

__all__ = [
    "CALIBRATED_PTQ_LAW", "MAX_TOKENS_PER_PARAM", "MIN_TOKENS_PER_PARAM", "TRUST_TIERS", "Plausibility", "trust_phrase",
    "within_envelope",
]

MIN_TOKENS_PER_PARAM = 5.0  # a quarter of Chinchilla's ~20 (Hoffmann et al. 2022, Table 3); project choice
MAX_TOKENS_PER_PARAM = 10_000.0  # Sardana et al. 2024, abstract
CALIBRATED_PTQ_LAW = "kumar2024-ptq-real"  # PTQ terms refit on real models' measured degradation

def within_envelope(tokens_per_param: float) -> bool:
    """Whether D/N lies in [:data:`MIN_TOKENS_PER_PARAM`, :data:`MAX_TOKENS_PER_PARAM`]."""
    return MIN_TOKENS_PER_PARAM <= tokens_per_param <= MAX_TOKENS_PER_PARAM


@dataclass(frozen=True)
class Plausibility:
    """Whether a plan's shape lies inside real practice, and what to do when it does not.

    ``edge`` is the best plan at the envelope's bound (same budget, same law), ``calibrated`` the
    plan under the evidence-calibrated PTQ terms; each a short summary dict (law, params, tokens,
    tokens_per_param, loss, format)."""

    within: bool
    tokens_per_param: float
    bounds: tuple[float, float]
    driver: str | None  # the term that drives the plan out of the envelope
    edge: dict | None
    calibrated: dict | None
    fallback: dict | None = None  # no plausible plan reaches a cluster's loss: the plausible plan of its training budget
    source: str = ("5..10,000 tokens/param: a quarter of Chinchilla's ~20 (Hoffmann et al. 2022, Table 3)"
                   " to Sardana et al. 2024's longest runs (10,000); Llama 3 8B ~1,875 (Llama Team 2024)")
