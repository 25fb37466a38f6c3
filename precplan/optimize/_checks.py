"""Validation of an ``optimize`` request: every inconsistent or unreachable request is one
:class:`PrecplanError` that says what is wrong and what would be valid (the CLI exits 2)."""

from __future__ import annotations

import math
from typing import Sequence

from precplan.errors import PrecplanError
from precplan.laws import Law
from precplan.precision import Precision, parse_precision, parse_precision_list

__all__ = ["check_request", "parse_bits_spec"]


def _positive(name: str, value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise PrecplanError(f"{name} must be a positive number, got {value!r}")


def check_request(
    law: Law,
    has_budget: bool,
    params: float | None,
    tokens: float | None,
    precision: Precision | float | str | None,
    precisions: Sequence[Precision | float | str] | None,
    continuous: bool,
    untied: bool,
    memory: float | None,
    serve_memory: float | None,
    post: float | None,
    inference_tokens: float | None,
    target_loss: float | None,
) -> None:
    """Raise on a request the planner cannot answer."""
    for name, value in (("`params`", params), ("`tokens`", tokens), ("`memory`", memory), ("`serve_memory`", serve_memory)):
        _positive(name, value)
    if inference_tokens is not None and not (math.isfinite(inference_tokens) and inference_tokens >= 0):
        raise PrecplanError(f"`inference_tokens` must be a non-negative count, got {inference_tokens!r}")
    if has_budget and target_loss is not None:
        raise PrecplanError("give either `budget` (minimize loss for that compute) or `target_loss` (minimize compute for that loss), not both")
    if (has_budget or target_loss is not None) and params is not None and tokens is not None:
        raise PrecplanError(
            "fix at most one of `params` and `tokens` with `budget` or `target_loss` (with both fixed there is"
            " nothing to size: use precplan predict)"
        )
    if not has_budget and target_loss is None:
        if tokens is None or (params is None and memory is None and serve_memory is None):
            raise PrecplanError(
                "nothing to plan against: give `budget` FLOPs, or `target_loss` L, or `tokens` D with `memory`"
                " (or `serve_memory`, or `params`)"
            )
    if target_loss is not None:
        if not math.isfinite(target_loss):
            raise PrecplanError(f"`target_loss` must be a number, got {target_loss!r}")
        if target_loss <= law.c("E"):
            raise PrecplanError(
                f"`target_loss` {target_loss:g} is at or below the irreducible loss E = {law.c('E'):g} of law"
                f" {law.id!r}: no model reaches it (choose a target above {law.c('E'):g})"
            )
    if precision is not None and (precisions is not None or continuous or untied):
        raise PrecplanError("`precision` fixes the training precision; drop `precisions`, `continuous` and `untied` (or drop `precision`)")
    if not law.has_precision:
        fixed = [parse_precision(precision)] if precision is not None else []
        listed = [parse_precision(p) for p in precisions] if precisions is not None else []
        if continuous or untied or any(p.bits != 16 for p in fixed + listed):
            raise PrecplanError(
                f"law {law.id!r} has no precision terms, so it plans 16-bit training only; compose it with a"
                f" precision law to search precisions, e.g. `law` kumar2024 `base` {law.base_id}"
            )
    if post is not None and not law.has_ptq:
        raise PrecplanError(
            f"`inference_precision` needs a law with post-training-quantization terms; law {law.id!r} has none"
            " (use `law` kumar2024, or `law` kumar2024 `base` " + law.base_id + ")"
        )
    if precisions is not None and (continuous or untied):
        floats = [p for p in (parse_precision(x) for x in precisions) if p.is_float]
        if floats and continuous:
            raise PrecplanError(f"`continuous` searches bit counts, not float formats like {floats[0].name}; give bit counts (e.g. 4:16)")


def parse_bits_spec(text: str) -> tuple[tuple[float, float] | None, list[Precision] | None]:
    """``--precisions``: a range ``LO:HI`` (integers LO..HI; the bounds of --continuous) or a
    list ``4,8,16`` / ``int4,fp8-e4m3,bf16``."""
    raw = str(text).strip()
    if ":" in raw:
        parts = raw.split(":")
        if len(parts) != 2:
            raise PrecplanError(f"`precisions`: a range is LO:HI, e.g. 3:16; got {text!r}")
        named = [p.strip() for p in parts if parse_precision(p.strip()).kind != "int" or not p.strip()[:1].isdigit()]
        if named:
            raise PrecplanError(f"`precisions`: a range LO:HI takes bit counts (e.g. 3:16), not formats like {named[0]!r};"
                                " list formats with commas (int4,fp8-e4m3,bf16)")
        lo, hi = (parse_precision(p.strip()).bits for p in parts)
        if not lo < hi:
            raise PrecplanError(f"`precisions`: a range needs LO < HI, got {text!r}")
        return (lo, hi), None
    return None, parse_precision_list(raw)
