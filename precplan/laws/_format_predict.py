"""``predict`` with a format-aware law: the loss of training in one format, its gap to the
unquantized baseline, what the law models, and the nearest measured real runs."""

from __future__ import annotations

from dataclasses import dataclass, field

from precplan.errors import PrecplanError
from precplan.laws._checks import plausibility_warnings
from precplan.laws._format_law import FormatLaw
from precplan.laws._runs import MeasuredRun, RunCheck, check_law_against_runs, nearest_runs
from precplan.precision import Bits, Precision, is_named_format

__all__ = ["FormatPrediction", "predict_format"]


@dataclass(frozen=True)
class FormatPrediction:
    """A format-aware law's prediction for one (N, D, format), with the measured runs nearest to it.

    ``gap`` is ``loss - baseline_loss`` (nats) and ``relative_gap`` the same as a fraction of the
    baseline: the "relative loss error" real low-precision runs report."""

    law: str
    params: float
    tokens: float
    format: str
    bits_per_element: float
    bits: Bits
    loss: float
    baseline_loss: float
    gap: float
    relative_gap: float
    post_bits: None = None
    loss_before_ptq: float = 0.0
    formats: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    nearest_runs: list[MeasuredRun] = field(default_factory=list)
    run_checks: list[RunCheck] = field(default_factory=list)  # this law at each nearest comparable run
    misses_measured: bool = False  # the law misses every nearest measured run of this format (2x or a bound)
    uncertainty: None = None


def predict_format(law: FormatLaw, params: float, tokens: float, weights: Precision, activations: Precision,
                   kv: Precision, post: Precision | None = None, runs: int = 3) -> FormatPrediction:
    """Predict with a format-aware law (``sun2025``, ``castro2025``, ``chen2025``).

    Parameters
    ----------
    law : FormatLaw
        A format-aware law (:func:`precplan.load_law`).
    params, tokens : float
        Parameters and training tokens (raw counts).
    weights, activations, kv : Precision
        Training precisions; a format-aware law takes one named format for all three.
    post : Precision or None
        Must be None: these laws have no post-training-quantization term.
    runs : int
        How many measured real runs nearest to the request to list (0 for none).

    Returns
    -------
    FormatPrediction

    Raises
    ------
    PrecplanError
        A bit count instead of a named format, different formats per operand, ``post``, or a
        format the law cannot describe (one line naming what it can).

    Example
    -------
    >>> from precplan.precision import parse_precision
    >>> p = parse_precision("nvfp4")
    >>> round(predict_format(load_law("sun2025"), 1e9, 1e11, p, p, p).bits_per_element, 2)
    4.5
    """
    if post is not None:
        raise PrecplanError(f"law {law.id!r} has no post-training-quantization term; drop post (or use kumar2024)")
    if len({weights.name, activations.name, kv.name}) > 1:
        raise PrecplanError(
            f"law {law.id!r} takes one training format for weights, activations and KV (e.g. precision nvfp4);"
            f" got {weights.name}/{activations.name}/{kv.name}"
        )
    if weights.format is None or not is_named_format(weights):
        raise PrecplanError(
            f"law {law.id!r} needs a named format, not a bit count ({weights.name}): e.g. e4m3, e5m2, mxfp4, nvfp4, bf16"
        )
    if params <= 0 or tokens <= 0:
        raise PrecplanError("parameters and tokens must be positive")
    fmt = weights.format
    law.check_format(fmt)
    loss = float(law.loss(params, tokens, fmt))
    base = float(law.baseline_loss(params, tokens))
    notes = law.format_notes(fmt)
    warnings_crit = []
    if law.form == "sun2025" and not fmt.is_high_precision:
        d_crit = float(law.critical_data_size(params, fmt.exponent_bits, fmt.mantissa_bits, law.log2_block(fmt)))
        if tokens > d_crit:
            warnings_crit.append(
                f"{tokens:.3g} tokens lie past {law.id}'s critical data size for {fmt.name} at this N ({d_crit:.3g},"
                " eq. 21): the law predicts that more data raises the loss here; the real 12B NVFP4 run to 10T tokens"
                " did not show such a rise (data/lowprec_training_runs.csv)"
            )
    warnings = law.extrapolation_warnings(params, tokens) + warnings_crit
    warnings += plausibility_warnings(params, tokens, loss, what="this configuration")
    near = nearest_runs(params, tokens, fmt.name, count=runs) if runs and not fmt.is_high_precision else []
    by_id = {c.run.id: c for c in check_law_against_runs(law)}
    checks = [by_id[r.id] for r in near if r.id in by_id]
    same = [c for c in checks if c.run.format == fmt.name and c.consistent is not None]
    misses = bool(same) and not any(c.consistent for c in same)
    if misses:
        warnings.append(
            f"{law.id} misses every nearest measured {fmt.name} run ("
            + "; ".join(f"{c.run.id}: predicts {c.predicted:.2%}, measured {c.run.describe_gap()}" for c in same)
            + "): read this prediction against the measurements"
        )
    bpe = fmt.bits_per_element
    return FormatPrediction(
        law=law.id, params=float(params), tokens=float(tokens), format=fmt.name, bits_per_element=bpe,
        bits=Bits(bpe, bpe, bpe), loss=loss, baseline_loss=base, gap=loss - base, relative_gap=(loss - base) / base,
        loss_before_ptq=loss, formats=[f"training: {fmt.describe()}"], warnings=warnings, notes=notes,
        nearest_runs=near, run_checks=checks, misses_measured=misses,
    )
