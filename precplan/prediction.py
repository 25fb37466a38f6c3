"""``predict``: the loss one configuration reaches, with its decomposition."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from precplan.errors import PrecplanError
from precplan.laws import Law
from precplan.precision import Precision, parse_precision


@dataclass(frozen=True)
class Bits:
    """Training precision of each operand, in bits."""

    weights: float
    activations: float
    kv: float


@dataclass(frozen=True)
class Prediction:
    """A predicted loss and where it comes from (Kumar et al. 2024, eq. 10)."""

    law: str
    params: float
    tokens: float
    bits: Bits
    post_bits: float | None
    loss: float
    loss_before_ptq: float
    irreducible: float
    param_term: float
    data_term: float
    effective_params: float
    effective_fraction: float
    ptq_degradation: float
    formats: list[str] = field(default_factory=list)
    assumed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def law_for_weights(law: Law, weights: Precision) -> tuple[Law, str | None]:
    """The law variant that serves ``weights``: a float weight format switches to the law's
    floating-point variant (e.g. kumar2024 -> kumar2024-fp, Kumar et al. 2024 App. N)."""
    if weights.is_float and law.weight_format != "float" and law.float_variant:
        from precplan.lawfile import compose, load_law

        variant = load_law(law.float_variant)
        if law.composed_from:  # keep the composed base terms (they are this law's own)
            variant = compose(variant, law)
        return variant, f"floating-point weights ({weights.name}) served by {variant.id}, the law's float variant"
    if weights.is_float and law.weight_format != "float" and law.has_precision and weights.bits < 16:
        return law, f"law {law.id} was fit on integer weights; {weights.name} is predicted as a {weights.bits:g}-bit integer"
    return law, None


def predict(
    law: Law,
    params: float,
    tokens: float,
    weights: Precision | float | str = 16,
    activations: Precision | float | str = 16,
    kv: Precision | float | str = 16,
    post: Precision | float | str | None = None,
) -> Prediction:
    """Predict the loss of an ``params``-parameter model trained on ``tokens`` tokens at the given
    precisions, optionally quantized to ``post`` bits after training."""
    if not (np.isfinite(params) and params > 0 and np.isfinite(tokens) and tokens > 0):
        raise PrecplanError("--params and --tokens must be positive numbers")
    pw, pa, pkv = (parse_precision(p) for p in (weights, activations, kv))
    pp = None if post is None else parse_precision(post)
    law, variant_note = law_for_weights(law, pw)
    law.check_domain(params, tokens, pw.bits, pa.bits, pkv.bits)

    n_eff = float(law.effective_params(params, pw.bits, pa.bits, pkv.bits))
    param_term = float(law.param_term(n_eff))
    data_term = float(law.data_term(tokens))
    before = law.c("E") + param_term + data_term
    delta = 0.0 if pp is None else float(law.ptq_degradation(params, tokens, pp.bits, pw.bits, pa.bits, pkv.bits))

    formats = []
    for label, p in (("weights", pw), ("activations", pa), ("kv", pkv)) + ((("post", pp),) if pp else ()):
        if p.name != f"{p.bits:g}-bit":
            formats.append(f"{label}: {p.describe()}")
    notes = [variant_note] if variant_note else []
    used_bits = [pw.bits, pa.bits, pkv.bits] if law.has_precision else None
    warnings = law.extrapolation_warnings(params, tokens, used_bits)
    assumed: list[str] = []
    if pp is not None:
        if pp.bits >= min(pw.bits, pa.bits, pkv.bits) and delta == 0.0:
            notes.append(f"post-training quantization to {pp.bits:g} bits is at or above a training precision: no degradation")
        used = law.robustness_constants_used(pp.bits, pw.bits, pa.bits, pkv.bits)
        assumed = [name for name in used if name in law.assumed]
        if assumed:
            factor = float(law.robustness(pp.bits, pw.bits, pa.bits, pkv.bits))
            notes.append(
                f"the PTQ degradation is scaled by the training-precision robustness term (eq. 9) = {factor:.4f},"
                f" which uses {', '.join(assumed)}: ASSUMED values that no paper reports"
            )
    return Prediction(
        law=law.id,
        params=float(params),
        tokens=float(tokens),
        bits=Bits(pw.bits, pa.bits, pkv.bits),
        post_bits=None if pp is None else pp.bits,
        loss=before + delta,
        loss_before_ptq=before,
        irreducible=law.c("E"),
        param_term=param_term,
        data_term=data_term,
        effective_params=n_eff,
        effective_fraction=n_eff / float(params),
        ptq_degradation=delta,
        formats=formats,
        assumed=assumed,
        warnings=warnings,
        notes=notes,
    )
