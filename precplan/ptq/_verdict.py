"""Words of ``ptq-risk`` (:mod:`precplan.ptq._risk`): where a token count stands against the
critical data size D_crit (one rule for the single-D result, its table and the token
sweep), the verdict sentence, and the note on how the law's ``b_post`` is read.
"""

from __future__ import annotations

import numpy as np

from precplan.laws import Law

__all__ = ["NEAR_FACTOR", "STATUSES", "data_status", "offset_note", "verdict"]

NEAR_FACTOR = 2.0  # within this factor below D_crit, warn: more data buys little there
STATUSES = ("past", "near", "below", "none")


def data_status(tokens: float, dc: float) -> str:
    """``past`` (tokens > D_crit), ``near`` (within :data:`NEAR_FACTOR` below it), ``below``,
    or ``none`` (no finite D_crit). The one rule every ``ptq-risk`` output uses."""
    if not np.isfinite(dc):
        return "none"
    if tokens > dc:
        return "past"
    return "near" if tokens >= dc / NEAR_FACTOR else "below"


def verdict(status: str, tokens: float, dc: float, name: str, loss_d: float, loss_dc: float, lead: str | None = None) -> str:
    """One sentence saying what ``status`` means for a model trained on ``tokens`` and served at ``name``.

    ``lead`` (from :func:`precplan.laws._checks.extrapolation_lead`, set when the request lies more
    than 10x beyond the law's data) turns the advice into a statement of what the law extrapolates to."""
    from precplan.units import format_count

    D, Dc = format_count(tokens), format_count(dc) if np.isfinite(dc) else "inf"
    if lead is not None:
        return f"{lead} {_extrapolated(status, tokens, dc, D, Dc, name, loss_d, loss_dc)}"
    if status == "past":
        return (
            f"{D} tokens is {tokens / dc:.3g}x past D_crit = {Dc}: more pretraining data is now making the"
            f" {name} model worse; the best token count for this N at {name} is D_crit = {Dc}"
            f" (post-PTQ loss {loss_dc:.4f} there vs {loss_d:.4f} at {D})"
        )
    if status == "near":
        return (
            f"{D} tokens is within a factor {NEAR_FACTOR:g} of D_crit = {Dc} ({dc / tokens:.3g}x below it):"
            f" more data barely helps the {name} model now, and past {Dc} it makes it worse"
        )
    if status == "below":
        return f"{D} tokens is {dc / tokens:.3g}x below D_crit = {Dc}: more pretraining data still improves the {name} model"
    return (
        f"no critical data size at {name}: the robustness term (eq. 9) is 0 (a training precision at or"
        f" below {name}, or a zero C_x), so the law predicts no PTQ degradation and more data never hurts"
        f" the {name} model"
    )


def _extrapolated(status: str, tokens: float, dc: float, D: str, Dc: str, name: str, loss_d: float, loss_dc: float) -> str:
    """The verdict as a statement about the law, not advice (far beyond the law's data)."""
    if status == "past":
        return (
            f"{D} tokens is {tokens / dc:.3g}x past its D_crit = {Dc}, i.e. that its post-PTQ loss at {name} would be"
            f" lower at {Dc} tokens ({loss_dc:.4f}) than at {D} ({loss_d:.4f}); at this distance from the data that is"
            " a property of the formula, not a measured effect: check it against measured quantized models before acting on it"
        )
    if status == "near":
        return (
            f"{D} tokens is within a factor {NEAR_FACTOR:g} of its D_crit = {Dc} ({dc / tokens:.3g}x below it), past which"
            f" more data would make the {name} model worse; not a measured effect at this scale"
        )
    if status == "below":
        return f"{D} tokens is {dc / tokens:.3g}x below its D_crit = {Dc}, so more data would still improve the {name} model"
    return f"there is no critical data size at {name} (the robustness term, eq. 9, is 0): no PTQ degradation"


def offset_note(law: Law) -> list[str]:
    """Say (once) that a published ``b_post`` is read as an exponent offset, and what it moves.

    Kumar et al. 2024, eq. 2: delta_PTQ ~ exp(-P_post/gamma_post + b), D_crit ~ exp(-b/(gamma_D+beta))
    (eq. 13). Table 2 prints b without saying how it enters (docs/science.md section 5), so a
    published value is an interpretation; a fitted one was fit with this same reading.
    """
    coef = law.coefficients.get("b_post")
    if coef is None or coef.source != "published" or coef.value == 0:
        return []
    b = coef.value
    deg = float(np.exp(b))
    dc = float(np.exp(b / (law.c("gamma_D") + law.c("beta"))))
    more, less = ("smaller", "larger") if b > 0 else ("larger", "smaller")
    return [
        f"b_post = {b:g} is read as an exponent offset, exp(-P_post/gamma_post + b): an interpretation (the"
        f" paper's table does not say how b enters); without it the degradation would be {deg:.3g}x {more}"
        f" and D_crit {dc:.3g}x {less}"
    ]
