"""The learning rate and batch size each bundled hyperparameter law gives for one training run,
side by side, with each law's fit range and a note where they disagree.

Compute convention: C = 6 N D (``precplan.costs.TRAIN_FLOPS``), N non-embedding parameters,
unless the caller gives DeepSeek's M (non-embedding FLOPs per token, attention included;
arXiv:2401.02954 Eq. 2) as ``flops_per_token``, then C = M D. Step Law does not use C.

Extrapolation is worded as for the loss laws (``precplan.laws``): up to 10x outside a law's fit
range the value "extrapolates Nx beyond its data"; past 10x it is "what the law extrapolates
to, not a measured regime".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from precplan.costs import TRAIN_FLOPS
from precplan.errors import PrecplanError
from precplan.units import parse_count
from precplan.hparams._file import HparamLaw, bundled_hparam_names, load_hparam_law

__all__ = [
    "DEFAULT_SEQ_LEN", "DISAGREEMENT", "FAR_FACTOR", "LawHyperparameters", "Hyperparameters",
    "hyperparameters", "plan_hyperparameters",
]

DEFAULT_SEQ_LEN = 4096  # tokens per sequence when the caller gives none (DeepSeek LLM 7B/67B, Table 2)
DISAGREEMENT = 1.5  # laws further apart than this (max / min) get a note and a sweep suggestion
FAR_FACTOR = 10.0  # the loss laws' rule (precplan.laws): past 10x beyond the data, no advice
_LABELS = {"params": "parameters", "tokens": "tokens", "compute": "compute (FLOPs)"}


@dataclass(frozen=True)
class LawHyperparameters:
    """One law's answer: peak learning rate, batch size in tokens and in sequences of
    ``seq_len``, the source, and how far the request lies outside the law's fit range."""

    law: str
    source: str
    learning_rate: float
    batch_tokens: float
    batch_sequences: float
    seq_len: int
    extrapolation: float
    extrapolates: bool
    far: bool
    extrapolation_notes: tuple[str, ...]
    fit_range: dict[str, tuple[float, float]]
    fit: dict[str, str]


@dataclass(frozen=True)
class Hyperparameters:
    """Every law's hyperparameters for one run, the spread between them, and a verdict."""

    verdict: str
    params: float
    tokens: float
    seq_len: int
    compute: float
    compute_convention: str
    laws: tuple[LawHyperparameters, ...]
    learning_rate_ratio: float
    batch_ratio: float
    disagreement: str | None
    sweep: tuple[float, ...]
    warnings: list[str] = field(default_factory=list)



def _extrapolation(law: HparamLaw, values: dict[str, float]) -> tuple[float, bool, tuple[str, ...]]:
    notes, worst = [], 1.0
    for key, (lo, hi) in law.fit_range.items():
        v = values[key]
        f = max(1.0, lo / v, v / hi)
        if f <= 1.0 + 1e-9:
            continue
        worst = max(worst, f)
        tail = (f"the value extrapolates {f:.3g}x beyond its data" if f <= FAR_FACTOR else
                f"far beyond its data ({f:.3g}x, more than {FAR_FACTOR:g}x): what follows is what the law extrapolates to, not a measured regime")
        notes.append(f"{_LABELS[key]} = {v:.3g} is outside the range law {law.id!r} was fit on ({lo:.3g}..{hi:.3g}): {tail}")
    return worst, worst > 1.0 + 1e-9, tuple(notes)


def _one(law: HparamLaw, n: float, d: float, c: float, seq_len: int) -> LawHyperparameters:
    lr, bt = law.learning_rate(n, d, c), law.batch_tokens(n, d, c)
    factor, outside, notes = _extrapolation(law, {"params": n, "tokens": d, "compute": c})
    return LawHyperparameters(
        law=law.id, source=f"{law.citation} {law.ref}".strip(), learning_rate=lr, batch_tokens=bt,
        batch_sequences=bt / seq_len, seq_len=seq_len, extrapolation=factor, extrapolates=outside,
        far=factor > FAR_FACTOR, extrapolation_notes=notes, fit_range=dict(law.fit_range), fit=dict(law.fit),
    )


def _sweep(lo: float, hi: float) -> tuple[float, ...]:
    """Five log-spaced learning rates from lo / sqrt(2) to hi * sqrt(2): both laws' values
    bracketed with room on each side."""
    pts = np.geomspace(lo / math.sqrt(2), hi * math.sqrt(2), 5)
    return tuple(float(f"{p:.2g}") for p in pts)


def hyperparameters(
    params: float, tokens: float, seq_len: int = DEFAULT_SEQ_LEN, laws: Sequence[str | HparamLaw] | None = None,
    flops_per_token: float | None = None,
) -> Hyperparameters:
    """Peak learning rate and batch size for one training run from each hyperparameter law.

    Parameters
    ----------
    params : float
        Non-embedding parameters N.
    tokens : float
        Training tokens D.
    seq_len : int
        Tokens per sequence, for the batch in sequences (default 4096).
    laws : sequence of str or HparamLaw, optional
        Law ids or objects (default: every bundled law, ``deepseek2024`` and ``steplaw2025``).
    flops_per_token : float, optional
        DeepSeek's M (non-embedding FLOPs per token, attention included); C = M D. Default 6 N.

    Returns
    -------
    Hyperparameters
        One :class:`LawHyperparameters` per law, the max/min ratios of their learning rates and
        batch sizes, and where they differ by more than 1.5x a note with a learning-rate sweep
        bracketing both.

    Raises
    ------
    PrecplanError
        A non-positive or non-finite number, a sequence length below 1, an unknown law.

    Example
    -------
    >>> h = hyperparameters(params=7e9, tokens=2e12, seq_len=4096)
    >>> [round(x.learning_rate, 5) for x in h.laws]
    [0.00043, 0.00102]
    """
    n, d = parse_count(params, "params"), parse_count(tokens, "tokens")
    if isinstance(seq_len, bool) or not isinstance(seq_len, (int, np.integer)) or seq_len < 1:
        raise PrecplanError(f"seq_len must be a whole number of tokens >= 1, got {seq_len!r}")
    m = TRAIN_FLOPS * n if flops_per_token is None else parse_count(flops_per_token, "flops_per_token")
    c = m * d
    chosen = [load_hparam_law(x) if isinstance(x, str) else x for x in (laws or bundled_hparam_names())]
    if not chosen:
        raise PrecplanError("laws is empty; give at least one hyperparameter law (bundled: " + ", ".join(bundled_hparam_names()) + ")")
    rows = tuple(_one(law, n, d, c, int(seq_len)) for law in chosen)
    lrs = [r.learning_rate for r in rows]
    bts = [r.batch_tokens for r in rows]
    lr_ratio, bt_ratio = max(lrs) / min(lrs), max(bts) / min(bts)
    convention = ("C = 6 N D" if flops_per_token is None else "C = M D with M = flops_per_token") + f" = {c:.3g} FLOPs"
    lo, hi = min(lrs), max(lrs)
    note, sweep = None, ()
    if lr_ratio > DISAGREEMENT or bt_ratio > DISAGREEMENT:
        sweep = _sweep(lo, hi)
        note = (f"the laws disagree: learning rate {lr_ratio:.2g}x apart ({lo:.2e} to {hi:.2e}), batch {bt_ratio:.2g}x apart"
                f" ({min(bts) / 1e6:.3g}M to {max(bts) / 1e6:.3g}M tokens); run a short learning-rate sweep bracketing both,"
                f" e.g. {', '.join(f'{x:g}' for x in sweep)}, on a small proxy run before launch")
    far = [r.law for r in rows if r.far]
    trust = "" if not far else f" ({', '.join(far)} more than 10x beyond {'its' if len(far) == 1 else 'their'} data: a starting point, not a measurement)"
    if note:
        verdict = (f"Sweep the peak learning rate over {sweep[0]:g}..{sweep[-1]:g} with a batch of {min(bts) / 1e6:.3g}M-"
                   f"{max(bts) / 1e6:.3g}M tokens: the laws disagree (learning rate {lo:.2g} to {hi:.2g}, {lr_ratio:.2g}x;"
                   f" batch {bt_ratio:.2g}x){trust}.")
    else:
        verdict = (f"Use a peak learning rate of ~{math.sqrt(lo * hi):.2g} and a batch of ~{math.sqrt(min(bts) * max(bts)) / 1e6:.3g}M"
                   f" tokens (~{math.sqrt(min(bts) * max(bts)) / seq_len:.0f} sequences of {seq_len}): the laws agree within"
                   f" {DISAGREEMENT:g}x{trust}.")
    warnings = [w for r in rows for w in r.extrapolation_notes]
    return Hyperparameters(verdict=verdict, params=n, tokens=d, seq_len=int(seq_len), compute=c, compute_convention=convention,
                           laws=rows, learning_rate_ratio=lr_ratio, batch_ratio=bt_ratio, disagreement=note, sweep=sweep,
                           warnings=warnings)


def plan_hyperparameters(plan: Any, seq_len: int = DEFAULT_SEQ_LEN) -> dict[str, Any]:
    """A plan (anything with ``params`` and ``tokens``) as JSON-ready data with a
    ``hyperparameters`` entry: each law's learning rate and batch size at the plan's N and D.

    Returns
    -------
    dict
        ``to_jsonable(plan)`` plus ``hyperparameters`` (``None`` when N or D is not finite).

    Example
    -------
    >>> import precplan
    >>> out = plan_hyperparameters(precplan.plan(budget=1e23))
    >>> sorted(x["law"] for x in out["hyperparameters"]["laws"])
    ['deepseek2024', 'steplaw2025']
    """
    from precplan.io import to_jsonable

    out = to_jsonable(plan)
    n, d = getattr(plan, "params", None), getattr(plan, "tokens", None)
    ok = n is not None and d is not None and math.isfinite(float(n)) and math.isfinite(float(d)) and n > 0 and d > 0
    out["hyperparameters"] = to_jsonable(hyperparameters(float(n), float(d), seq_len)) if ok else None
    return out
