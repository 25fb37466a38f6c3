"""What real models say about a PTQ question, beside what the paper's law says.

Kumar et al. 2024's PTQ term (eq. 2) was fit on models of 30M-220M parameters; at real scale its
growth with training tokens is 2-3x too steep against published measurements (python
docs/real_ptq_check.py). ``kumar2024-ptq-real`` refits the four PTQ constants on the published
GPTQ rows of ``data/ptq_measurements.csv``. This module puts the two laws' degradation side by
side with the nearest measured rows, as a perplexity factor exp(delta) (perplexity is exp of the
mean loss, so a loss rise of delta nats multiplies it by exp(delta)), and writes the verdict
sentence that leads ``ptq-risk``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from precplan.laws import as_law
from precplan.laws import DEFAULT_LEVEL, intervals
from precplan.laws import Law
from precplan.precision import Bits
from precplan.ptq._math import d_crit
from precplan.ptq._measured import COLLAPSED, measured_rows, measurements
from precplan.ptq._results import MeasuredRow
from precplan.units import format_count

__all__ = ["CALIBRATED_LAW", "Evidence", "calibrated_range", "ptq_evidence"]

CALIBRATED_LAW = "kumar2024-ptq-real"
SAME_MODEL = 0.1  # log10 distance in (N, D) within which a measured row is "this model"


@dataclass(frozen=True)
class Evidence:
    """The paper's law and the real-model-calibrated law on one PTQ question, with measured rows.

    ``perplexity`` fields are exp(degradation): the factor by which PTQ multiplies perplexity.
    ``calibrated_interval`` is the central ``level`` interval over the calibrated law's
    coefficient samples (a bootstrap over model families), None if it carries none."""

    verdict: str
    trust: str  # one sentence: how far the answer rests on measurements
    law: str
    calibrated_law: str
    post_name: str
    law_degradation: float
    law_perplexity: float
    calibrated_degradation: float
    calibrated_perplexity: float
    calibrated_interval: tuple[float, float] | None
    level: float
    calibrated_d_crit: float | None
    measured: list[MeasuredRow] = field(default_factory=list)
    measured_range: tuple[float, float] | None = None  # same model, same bits, GPTQ/AWQ: min and max measured
    measured_model: str | None = None
    beyond_calibration: float = 1.0  # how far (factor) N or D lies beyond the real models the calibration used


@lru_cache(maxsize=1)
def calibrated_range() -> dict[str, tuple[float, float]]:
    """Parameters and tokens spanned by the rows ``kumar2024-ptq-real`` was fit on (GPTQ,
    per-channel, 0 <= delta <= 1 nats, ``docs/real_ptq_check.py --runs-csv``)."""
    rows = [m for m in measurements() if m.method == "gptq" and m.group == "per-channel" and 0 <= m.delta_loss <= COLLAPSED]
    n = [m.params for m in rows]
    d = [m.tokens for m in rows]
    return {"params": (min(n), max(n)), "tokens": (min(d), max(d))}


def _beyond(x: float, lo: float, hi: float) -> float:
    return max(lo / x, x / hi, 1.0)


def _nats(x: float) -> str:
    return f"{x:.2g}" if x < 1 else f"{x:.3g}"


def ptq_evidence(
    law: Law | str,
    params: float,
    tokens: float,
    post_bits: float,
    post_name: str,
    bits: Bits = Bits(16.0, 16.0, 16.0),
    level: float = DEFAULT_LEVEL,
    calibrated: Law | str = CALIBRATED_LAW,
    k: int = 6,
) -> Evidence:
    """The degradation of PTQ to ``post_bits`` of a ``params``/``tokens`` model by ``law`` and by
    the real-model-calibrated law, beside the ``k`` nearest published measurements.

    Parameters
    ----------
    law : Law or str
        The law the user asked (normally kumar2024, the paper's fit).
    params, tokens : float
        The model: parameters and training tokens.
    post_bits : float
        Serving precision in bits; ``post_name`` names it (``int4``).
    bits : Bits
        Training precisions (weights, activations, KV).
    level : float
        Central interval level for the calibrated law's samples.
    calibrated : Law or str
        The calibrated law (default ``kumar2024-ptq-real``).
    k : int
        Measured rows to show.

    Returns
    -------
    Evidence

    Example
    -------
    >>> from precplan.ptq import ptq_evidence
    >>> ev = ptq_evidence("kumar2024", 8e9, 15e12, 4, "int4")
    >>> ev.law_degradation > 2 * ev.calibrated_degradation
    True
    """
    law, cal = as_law(law), as_law(calibrated)
    w, a, kv = bits.weights, bits.activations, bits.kv
    deg = float(law.ptq_degradation(params, tokens, post_bits, w, a, kv))
    cdeg = float(cal.ptq_degradation(params, tokens, post_bits, w, a, kv))
    interval = None
    if cal.has_samples:
        s = np.asarray(cal.sampled().ptq_degradation(params, tokens, post_bits, w, a, kv), dtype=float).reshape(1, -1)
        got = intervals(s, level)[0]
        interval = None if got is None else (float(got[0]), float(got[1]))
    dc = float(d_crit(cal, params, post_bits, w, a, kv))
    rows = measured_rows(law, params, tokens, post_bits, k=k)
    cpred = np.asarray(cal.ptq_degradation(np.array([r.params for r in rows]), np.array([r.tokens for r in rows]),
                                           np.array([r.bits for r in rows])), dtype=float) if rows else []
    rows = [_with_calibrated(r, float(c)) for r, c in zip(rows, cpred)]
    near = [r for r in rows if r.bits == post_bits and r.method in ("gptq", "awq")
            and math.hypot(math.log10(r.params / params), math.log10(r.tokens / tokens)) <= SAME_MODEL]
    mrange = (min(r.measured for r in near), max(r.measured for r in near)) if near else None
    rng = calibrated_range()
    beyond = max(_beyond(params, *rng["params"]), _beyond(tokens, *rng["tokens"]))
    verdict = _verdict(law.id, post_name, params, tokens, deg, cdeg, interval, near, mrange, level)
    trust = _trust(law, params, tokens, beyond, rng, near)
    return Evidence(
        verdict=verdict, trust=trust, law=law.id, calibrated_law=cal.id, post_name=post_name,
        law_degradation=deg, law_perplexity=math.exp(deg), calibrated_degradation=cdeg,
        calibrated_perplexity=math.exp(cdeg), calibrated_interval=interval, level=level,
        calibrated_d_crit=dc if np.isfinite(dc) else None, measured=rows, measured_range=mrange,
        measured_model=near[0].model if near else None, beyond_calibration=beyond,
    )


def _with_calibrated(r: MeasuredRow, c: float) -> MeasuredRow:
    from dataclasses import replace

    return replace(r, calibrated=c, calibrated_ratio=(c / r.measured) if r.measured > 0 else None)


def _verdict(law_id, post, params, tokens, deg, cdeg, interval, near, mrange, level=DEFAULT_LEVEL) -> str:
    """One sentence: what PTQ costs by real models (this model's measurements when it was
    measured, else the law calibrated on real models), then what the asked law says."""
    model = f"{format_count(params)}/{format_count(tokens)}"
    article = "an" if model.startswith(("8", "11", "18")) else "a"
    band = f", {level:.0%} interval {interval[0]:.2g}-{interval[1]:.2g}" if interval else ""
    cal = f"{_nats(cdeg)} nats{band} (perplexity x{math.exp(cdeg):.2f})"
    if mrange is not None:
        methods = "/".join(sorted({r.method.upper() for r in near}))
        lo, hi = mrange
        same = f"{lo:.2f}" == f"{hi:.2f}"
        nats = f"{lo:.2f}" if same else f"{lo:.2f}-{hi:.2f}"
        ppl = f"x{math.exp(lo):.2f}" if same else f"x{math.exp(lo):.2f}-{math.exp(hi):.2f}"
        lead = (f"{post} PTQ of {article} {model} model costs {nats} nats (perplexity {ppl}) as measured on"
                f" {near[0].model} ({methods}); the law calibrated on real models says {cal}")
    else:
        lead = f"{post} PTQ of {article} {model} model costs about {cal} by the law calibrated on real models"
    other = "" if law_id == CALIBRATED_LAW else f"; {law_id} says {_nats(deg)} (x{math.exp(deg):.2f})"
    return f"{lead}{other}."


def _trust(law: Law, params, tokens, beyond, rng, near) -> str:
    from precplan.laws import extrapolation

    ex = extrapolation(law, params, tokens)
    paper = f"{law.id} is {ex.describe()} beyond its data" if ex.far or max(ex.params, ex.tokens) > 1 else f"{law.id} is within its data"
    if near:
        real = "this model was measured"
    elif beyond <= 1.0:
        real = (f"the calibration spans {format_count(rng['params'][0])}-{format_count(rng['params'][1])} parameters and"
                f" {format_count(rng['tokens'][0])}-{format_count(rng['tokens'][1])} tokens, which covers this model")
    else:
        real = f"this model is {beyond:.3g}x beyond the real models of the calibration: an extrapolation too"
    return f"Trust: {real}; {paper}."
