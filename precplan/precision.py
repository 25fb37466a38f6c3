"""Precisions as people name them: bits (``8``, ``4.5``) or formats (``int4``, ``fp8-e4m3``, ``bf16``).

Bit counts include the sign bit, as in Kumar et al. 2024 (Appendix N): a float format
``fpN-eXmY`` has 1 + X + Y = N bits.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from precplan.errors import PrecplanError

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

    @property
    def is_float(self) -> bool:
        return self.kind == "float"

    def describe(self) -> str:
        """How the format maps to bits, for output."""
        if self.exponent_bits is not None and self.mantissa_bits is not None:
            return (
                f"{self.name} = {self.bits:g} bits (1 sign + {self.exponent_bits} exponent"
                f" + {self.mantissa_bits} mantissa)"
            )
        if self.kind == "int":
            return f"{self.name} = {self.bits:g} bits (integer)"
        return f"{self.name} = {self.bits:g} bits"


_NAMED = {
    "bf16": Precision(16, "float", "bf16", 8, 7),
    "fp16": Precision(16, "float", "fp16", 5, 10),
    "fp32": Precision(32, "float", "fp32", 8, 23),
    "tf32": Precision(19, "float", "tf32", 8, 10),
}
_INT = re.compile(r"^(?:int|i)(\d+)$")
_FLOAT = re.compile(r"^(?:fp|f)(\d+)(?:[-_]?e(\d+)m(\d+))?$")
_BARE_FLOAT = re.compile(r"^e(\d+)m(\d+)$")


def _check_bits(bits: float, text: str) -> float:
    if not math.isfinite(bits) or bits < MIN_BITS or bits > MAX_BITS:
        raise PrecplanError(
            f"precision {text!r} is outside 1..64 bits (valid: a bit count like 8 or a format like"
            " int4, fp8-e4m3, fp8-e5m2, fp6-e3m2, fp4-e2m1, bf16, fp16, fp32)"
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
    if key in _NAMED:
        return _NAMED[key]
    try:
        bits = float(key.removesuffix("bit").removesuffix("bits").removesuffix("-"))
    except ValueError:
        pass
    else:
        _check_bits(bits, raw)
        return Precision(bits, "int", f"{bits:g}-bit")
    if m := _INT.match(key):
        bits = _check_bits(float(m.group(1)), raw)
        return Precision(bits, "int", f"int{m.group(1)}")
    m = _FLOAT.match(key)
    bare = _BARE_FLOAT.match(key)
    if m or bare:
        if bare:
            e, mant = int(bare.group(1)), int(bare.group(2))
            total = 1 + e + mant
        else:
            total = int(m.group(1))
            if m.group(2) is None:
                raise PrecplanError(
                    f"precision {raw!r}: name the float layout, e.g. fp8-e4m3, fp8-e5m2, fp6-e3m2, fp4-e2m1"
                )
            e, mant = int(m.group(2)), int(m.group(3))
        if 1 + e + mant != total:
            raise PrecplanError(
                f"precision {raw!r}: 1 sign + {e} exponent + {mant} mantissa bits is {1 + e + mant}, not {total}"
            )
        _check_bits(float(total), raw)
        return Precision(float(total), "float", f"fp{total}-e{e}m{mant}", e, mant)
    raise PrecplanError(
        f"unknown precision {raw!r} (valid: a bit count from 1 to 64 like 8, or int4, fp8-e4m3,"
        " fp8-e5m2, fp6-e3m2, fp4-e2m1, bf16, fp16, fp32)"
    )


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
