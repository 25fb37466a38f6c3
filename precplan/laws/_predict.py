"""``predict``: the loss one configuration reaches, with its decomposition."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from precplan.errors import PrecplanError
from precplan.laws._checks import extrapolation, plausibility_warnings, trust_phrase
from precplan.laws._format_law import FormatLaw
from precplan.laws._format_predict import FormatPrediction, predict_format
from precplan.laws._intervals import DEFAULT_LEVEL, check_level, uncertainty, uncertainty_notes
from precplan.laws._law import ASSUMED_LABEL, Decomposition, Law
from precplan.laws._variant import law_for_weights
from precplan.laws._file import as_law
from precplan.precision import Bits, Precision, is_named_format, parse_precision
from precplan.units import format_count, parse_count

__all__ = ["Prediction", "predict"]


@dataclass(frozen=True)
class Prediction(Decomposition):
    """A predicted loss and where it comes from (Kumar et al. 2024, eq. 10): the
    :class:`~precplan.laws.Decomposition` fields plus the request and its notes."""

    law: str
    params: float
    tokens: float
    bits: Bits
    post_bits: float | None
    loss: float
    loss_before_ptq: float
    formats: list[str] = field(default_factory=list)
    assumed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    uncertainty: dict | None = None  # intervals over the law's coefficient samples (None: a point estimate)
    verdict: str | None = None  # the answer in a sentence, with how far to trust it
    trust: str | None = None  # :func:`precplan.laws.trust_phrase` of the extrapolation factor


def predict(
    law: Law | str,
    params: float | str,
    tokens: float | str,
    weights: Precision | float | str = 16,
    activations: Precision | float | str = 16,
    kv: Precision | float | str = 16,
    post: Precision | float | str | None = None,
    level: float = DEFAULT_LEVEL,
) -> Prediction | FormatPrediction:
    """Predict the loss of an ``params``-parameter model trained on ``tokens`` tokens at the given
    precisions, optionally quantized to ``post`` bits after training.

    When the law carries coefficient samples, ``uncertainty`` holds the central ``level``
    intervals of the loss (and, with ``post``, the loss before PTQ and the degradation),
    computed for every sample at once; otherwise it is None and a note says the answer is a
    point estimate. A format-aware law (sun2025, castro2025, chen2025) answers with a
    :class:`~precplan.laws.FormatPrediction` (:func:`~precplan.laws.predict_format`)."""
    level = check_level(level)
    law, params, tokens = as_law(law), parse_count(params, "params"), parse_count(tokens, "tokens")
    pw, pa, pkv = (parse_precision(p) for p in (weights, activations, kv))
    pp = None if post is None else parse_precision(post)
    if isinstance(law, FormatLaw):
        return predict_format(law, params, tokens, pw, pa, pkv, pp)
    law, variant_note = law_for_weights(law, pw)
    law.check_domain(params, tokens, pw.bits, pa.bits, pkv.bits)

    dec = law.decompose(params, tokens, pw.bits, pa.bits, pkv.bits, None if pp is None else pp.bits)
    before = dec.irreducible + dec.param_term + dec.data_term
    delta = dec.ptq_degradation

    formats = []
    for label, p in (("weights", pw), ("activations", pa), ("kv", pkv)) + ((("post", pp),) if pp else ()):
        if is_named_format(p):
            formats.append(f"{label}: {p.describe()}")
    notes = [variant_note] if variant_note else []
    used_bits = [pw.bits, pa.bits, pkv.bits] if law.has_precision else None
    warnings = law.extrapolation_warnings(params, tokens, used_bits)
    assumed: list[str] = []
    if pp is not None:
        if pp.bits >= min(pw.bits, pa.bits, pkv.bits) and delta == 0.0:
            notes.append(f"post-training quantization to {pp.bits:g} bits is at or above a training precision: no degradation")
        assumed = law.assumed_robustness_constants(pp.bits, pw.bits, pa.bits, pkv.bits)
        if assumed:
            factor = float(law.robustness(pp.bits, pw.bits, pa.bits, pkv.bits))
            notes.append(
                f"the PTQ degradation is scaled by the training-precision robustness term (eq. 9) = {factor:.4f},"
                f" which uses {', '.join(assumed)}: {ASSUMED_LABEL}"
            )
    warnings += plausibility_warnings(params, tokens, before + delta, what="this configuration")
    unc = None
    if law.has_samples:
        ls = law.sampled()
        quantities = {"loss": ls.loss(params, tokens, pw.bits, pa.bits, pkv.bits, post=None if pp is None else pp.bits)}
        quantities["loss_before_ptq"] = ls.loss(params, tokens, pw.bits, pa.bits, pkv.bits)
        if pp is not None:
            quantities["degradation"] = ls.ptq_degradation(params, tokens, pp.bits, pw.bits, pa.bits, pkv.bits)
        unc = uncertainty(law, level, quantities)
    notes += uncertainty_notes(law, unc)
    trust = trust_phrase(extrapolation(law, params, tokens).factor)
    b = f"{pw.bits:g}-bit" if pw.bits == pa.bits == pkv.bits else f"{pw.bits:g}/{pa.bits:g}/{pkv.bits:g}-bit (weights/activations/KV)"
    ptq = "" if pp is None else f", {delta:.3g} nats of it from PTQ to {pp.bits:g} bits"
    verdict = (f"{law.id}: {format_count(params)} parameters on {format_count(tokens)} tokens at {b} reach loss"
               f" {before + delta:.4f}{ptq}. Trust: {trust}.")
    return Prediction(
        law=law.id,
        params=float(params),
        tokens=float(tokens),
        bits=Bits(pw.bits, pa.bits, pkv.bits),
        post_bits=None if pp is None else pp.bits,
        loss=before + delta,
        loss_before_ptq=before,
        **{f.name: getattr(dec, f.name) for f in fields(Decomposition)},
        formats=formats,
        assumed=assumed,
        warnings=warnings,
        notes=notes,
        uncertainty=unc,
        verdict=verdict,
        trust=trust,
    )
