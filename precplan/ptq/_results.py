"""Result dataclasses of ``ptq-risk`` (:mod:`precplan.ptq._risk`): plain data that
:mod:`precplan.cli._render` turns into JSON, ``precplan.cli._ptq_risk`` into tables and
:mod:`precplan.plots._ptq` into a figure. Token counts that do not exist (no critical data
size: +inf) are ``None``, i.e. JSON ``null``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from precplan.precision import Bits

__all__ = ["Bits", "CurvePoint", "MeasuredRow", "PtqCurves", "PtqRisk", "PtqSweep", "ServingRow", "TrainingOption"]


@dataclass(frozen=True)
class ServingRow:
    """One serving (PTQ) precision for the planned N (and D, when one D was given)."""

    post_bits: float
    post_name: str
    d_crit: float | None  # tokens; None (JSON null) when there is none (+inf)
    loss_at_d_crit: float | None  # the best post-PTQ loss reachable at this N and precision
    loss_after: float | None = None  # at the planned D (single-D mode)
    degradation: float | None = None
    degradation_share: float | None = None  # degradation / (loss before PTQ - E)
    tokens_over_d_crit: float | None = None
    status: str | None = None  # "past", "near", "below" or "none"
    perplexity_factor: float | None = None  # exp(degradation): PTQ multiplies perplexity by this


@dataclass(frozen=True)
class TrainingOption:
    """Post-PTQ loss if the model were trained at other precisions (eq. 9's robustness term)."""

    label: str
    bits: Bits
    feasible: bool
    loss_before: float | None
    degradation: float | None
    loss_after: float | None
    robustness: float | None
    d_crit: float | None


@dataclass(frozen=True)
class MeasuredRow:
    """A published PTQ measurement on a real model near the request, beside the law's prediction
    for that model's N, D and bits (trained in 16 bit). ``ratio`` = predicted / measured
    (None when the measured degradation is 0)."""

    model: str
    params: float  # total parameters
    tokens: float
    method: str
    bits: float
    group: str
    measured: float  # ln(ppl_after) - ln(ppl_before), nats/token
    predicted: float
    ratio: float | None
    source: str  # short citation and table
    calibrated: float | None = None  # kumar2024-ptq-real's prediction for the row (ptq_evidence)
    calibrated_ratio: float | None = None  # calibrated / measured


@dataclass(frozen=True)
class CurvePoint:
    """One token count of the degradation curve (Kumar et al. 2024, fig. 3)."""

    tokens: float
    loss_before: float
    loss_after: float
    degradation: float
    degradation_share: float
    past_d_crit: bool
    status: str  # "past", "near", "below" or "none": the rule of the single-D result (ptq_verdict.data_status)
    perplexity_factor: float = float("nan")  # exp(degradation)


@dataclass(frozen=True)
class PtqRisk:
    """``ptq-risk`` for one (N, D): the headline numbers are for serving precision ``post``."""

    law: str
    params: float
    tokens: float
    bits: Bits
    post_bits: float
    post_name: str
    loss_before: float
    loss_after: float
    degradation: float
    degradation_share: float
    d_crit: float | None
    loss_at_d_crit: float | None
    tokens_over_d_crit: float | None
    status: str
    verdict: str
    robustness: float
    irreducible: float
    effective_params: float
    table: list[ServingRow]
    training: list[TrainingOption]
    assumed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    measured: list[MeasuredRow] = field(default_factory=list)  # nearest published real-model measurements
    uncertainty: dict | None = None  # headline intervals over the law's coefficient samples (None: point estimate)
    perplexity_factor: float = float("nan")  # exp(degradation): PTQ multiplies perplexity by this
    law_verdict: str = ""  # the law's own statement about D_crit (``verdict`` leads with the evidence)
    evidence: Any = None  # precplan.ptq.Evidence: the paper's law, the calibrated law and measured rows side by side
    law_facts: str = ""  # the law's facts in one short line

    def __repr__(self) -> str:
        return (f"<PtqRisk by {self.law}: N={self.params:.3g}, D={self.tokens:.3g}, {self.post_name} serving"
                f" +{self.degradation:.4f} loss ({self.status})>")


@dataclass(frozen=True)
class PtqSweep:
    """``ptq-risk`` over a token sweep: the degradation curve at ``post`` and D_crit per precision."""

    law: str
    params: float
    bits: Bits
    post_bits: float
    post_name: str
    d_crit: float | None
    loss_at_d_crit: float | None
    curve: list[CurvePoint]
    table: list[ServingRow]
    assumed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # intervals over the law's coefficient samples: level, d_crit, and per curve point loss_after
    # and degradation (lists in curve order); None: a point estimate
    uncertainty: dict | None = None
    law_facts: str = ""  # the law's facts in one short line

    def __repr__(self) -> str:
        crit = "none" if self.d_crit is None else f"{self.d_crit:.3g}"
        return f"<PtqSweep by {self.law}: N={self.params:.3g}, {len(self.curve)} token counts, {self.post_name} serving, D_crit {crit}>"


@dataclass(frozen=True)
class PtqCurves:
    """Post-PTQ loss over a token grid for several serving precisions (what the plot draws)."""

    law: str
    params: float
    bits: Bits
    tokens: np.ndarray  # (n_tokens,)
    post_bits: np.ndarray  # (n_posts,)
    post_names: list[str]
    loss_before: np.ndarray  # (n_tokens,)
    loss_after: np.ndarray  # (n_posts, n_tokens)
    degradation: np.ndarray  # (n_posts, n_tokens)
    d_crit: np.ndarray  # (n_posts,), +inf where none
    loss_at_d_crit: np.ndarray  # (n_posts,)
    planned_tokens: float | None = None
    assumed: list[str] = field(default_factory=list)
    # (n_posts, 2, n_tokens): the lo and hi of each post-PTQ loss curve over the law's coefficient
    # samples (precplan.laws._intervals), at ``band_level``; None for a law without samples
    loss_after_band: np.ndarray | None = None
    band_level: float | None = None
