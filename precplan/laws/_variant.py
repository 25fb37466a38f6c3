"""Which law variant predicts a weight format: float weights switch to the law's
floating-point variant (Kumar et al. 2024, App. N), e.g. kumar2024 -> kumar2024-fp."""

from __future__ import annotations

from precplan.laws._file import compose, load_law
from precplan.laws._law import Law
from precplan.precision import Precision

__all__ = ["law_for_weights"]


def law_for_weights(law: Law, weights: Precision) -> tuple[Law, str | None]:
    """The law variant that serves ``weights``: a float weight format switches to the law's
    floating-point variant (e.g. kumar2024 -> kumar2024-fp, Kumar et al. 2024 App. N)."""
    if weights.is_float and law.weight_format != "float" and law.float_variant:
        variant = load_law(law.float_variant)
        if law.composed_from:  # keep the composed base terms (they are this law's own)
            variant = compose(variant, law)
        return variant, f"floating-point weights ({weights.name}) served by {variant.id}, the law's float variant"
    if weights.is_float and law.weight_format != "float" and law.has_precision and weights.bits < 16:
        return law, f"law {law.id} was fit on integer weights; {weights.name} is predicted as a {weights.bits:g}-bit integer"
    return law, None
