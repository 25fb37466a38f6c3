"""Precisions as people name them: bits (``8``, ``4.5``) or formats (``int4``, ``fp8-e4m3``,
``mxfp4``, ``nvfp4``, ``bf16``).

Bit counts include the sign bit, as in Kumar et al. 2024 (Appendix N): a float format
``fpN-eXmY`` has 1 + X + Y = N bits. A named format also carries its :class:`~precplan.formats.Format`
(element type, block and scale, tensors); its bit count is the bits per element including the
scale overhead (MXFP4 4.25, NVFP4 4.5), which is what a bit-count law or a cost uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from precplan.errors import PrecplanError
from precplan.formats import Format, parse_format

MIN_BITS = 1.0
MAX_BITS = 64.0
REFERENCE_BITS = 16.0
"""The precision the base laws' runs trained in (bf16/fp16): the effective-parameter factors and
the robustness term are taken relative to it, and FLOPs are "16-bit equivalent" (docs/science.md)."""

OPERANDS = ("w", "a", "kv")
"""The three operands a precision-aware law tracks: weights, activations, attention (K, V)."""
OPERAND_LABEL = {"w": "weights", "a": "activations", "kv": "KV"}


@dataclass(frozen=True)
class Bits:
    """Training precision of each operand, in bits."""

    weights: float
    activations: float
    kv: float


@dataclass(frozen=True)
class Precision:
    """A training or serving precision: its bit count, whether it is a float format, and its name."""

    bits: float
    kind: str  # "int" (integer / plain bit count) or "float"
    name: str
    exponent_bits: int | None = None
    mantissa_bits: int | None = None
    format: Format | None = field(default=None, compare=False, repr=False)
    """The full format (block, scale, tensors) when the precision was named as one."""

    @property
    def is_float(self) -> bool:
        return self.kind == "float"

    def describe(self) -> str:
        """How the format maps to bits, for output."""
        if self.format is not None:
            return self.format.describe()
        if self.exponent_bits is not None and self.mantissa_bits is not None:
            return (
                f"{self.name} = {self.bits:g} bits (1 sign + {self.exponent_bits} exponent"
                f" + {self.mantissa_bits} mantissa)"
            )
        if self.kind == "int":
            return f"{self.name} = {self.bits:g} bits (integer)"
        return f"{self.name} = {self.bits:g} bits"


def _check_bits(bits: float, text: str) -> float:
    if not math.isfinite(bits) or bits < MIN_BITS or bits > MAX_BITS:
        raise PrecplanError(
            f"precision {text!r} is outside 1..64 bits (valid: a bit count like 8 or a format like"
            " int4, fp8-e4m3, fp8-e5m2, fp6-e3m2, fp4-e2m1, mxfp4, nvfp4, bf16, fp16, fp32)"
        )
    return bits


def parse_precision(text: str | float) -> Precision:
    """Parse ``8``, ``4.5``, ``int4``, ``fp8-e4m3``, ``e5m2``, ``bf16``, ``fp32`` into a :class:`Precision`."""
    if isinstance(text, Precision):
        return text
    if isinstance(text, (int, float)):
        bits = _check_bits(float(text), str(text))
        return Precision(bits, "int", f"{bits:g}-bit")
    raw = str(text).strip()
    if not raw.isascii():
        raise PrecplanError(f"precision {raw!r}: write bits (8, 4.5) or a format (int4, fp8-e4m3, bf16) in ASCII")
    key = raw.lower()
    try:
        bits = float(key.removesuffix("bit").removesuffix("bits").removesuffix("-"))
    except ValueError:
        pass
    else:
        _check_bits(bits, raw)
        return Precision(bits, "int", f"{bits:g}-bit")
    try:
        fmt = parse_format(raw)
    except PrecplanError as exc:
        if str(exc).startswith("unknown format"):
            raise PrecplanError(
                f"unknown precision {raw!r} (valid: a bit count from 1 to 64 like 8, or int4, int4-g128, fp8-e4m3,"
                " fp8-e5m2, fp6-e3m2, fp4-e2m1, mxfp8, mxfp6-e2m3, mxfp4, nvfp4, bf16, fp16, fp32)"
            ) from None
        raise
    bits = _check_bits(fmt.bits_per_element, raw)
    return Precision(bits, fmt.kind, fmt.name, fmt.exponent_bits, fmt.mantissa_bits, fmt)


def is_named_format(p: "Precision | str") -> bool:
    """Whether a precision (or its name) is a named format (``int4``, ``fp8-e4m3``, ``bf16``)
    rather than a plain bit count (``8`` -> ``8-bit``)."""
    name = p.name if isinstance(p, Precision) else str(p)
    return not name.endswith("-bit")


def parse_precision_list(text: str) -> list[Precision]:
    """``4,8,16`` or ``int4,fp8-e4m3,bf16`` -> a list of precisions."""
    items = [t for t in str(text).split(",") if t.strip()]
    if not items:
        raise PrecplanError(f"expected a comma-separated list of precisions like 4,8,16; got {text!r}")
    return [parse_precision(t) for t in items]
