"""Number formats as people write them: element type, block and scale, tensors quantized.

A format is more than a bit count. :class:`Format` records

- the element type: an integer of ``bits`` bits, or a float with E exponent and M mantissa bits
  (1 sign + E + M bits, as in Kumar et al. 2024 App. N);
- the scaling: per-tensor, per-channel, a group of g elements with a 16-bit scale, an MX block
  (32 elements sharing an E8M0 power-of-two scale: OCP Microscaling Formats (MX) Specification
  v1.0, Table 1) or an NVFP4 block (16 E2M1 elements sharing an E4M3 scale, plus one FP32
  scale per tensor: NVIDIA, "Pretraining Large Language Models with NVFP4", arXiv:2509.25149,
  sec. 2; NVIDIA Transformer Engine NVFP4 documentation); or unspecified (``fp8-e4m3`` alone);
- which tensors it quantizes: the forward GEMM inputs (weights and activations), attention K
  and V, and the backward GEMM inputs; by default the linear-layer GEMMs forward and backward;
- bits per element including the scale overhead: MXFP4 4 + 8/32 = 4.25, NVFP4 4 + 8/16 = 4.5
  (the per-tensor FP32 scale is negligible), MXFP8 8.25, ``int4-g128`` 4 + 16/128 = 4.125
  (a 16-bit scale per group: an assumption, said in :meth:`Format.describe`).

Names accepted (case-insensitive): ``int8``, ``int4``, ``int4-g128``, ``e4m3``, ``fp8-e4m3``,
``e5m2``, ``fp8`` (read as ``fp8-e4m3``, the default for training GEMMs: Micikevicius et al.
2022, "FP8 Formats for Deep Learning", arXiv:2209.05433, use E4M3 for weights and activations;
said in the output), ``mxfp8`` (read as ``mxfp8-e4m3``, said), ``mxfp6-e2m3``, ``mxfp6-e3m2``,
``mxfp4``, ``mxint8``, ``nvfp4``, ``bf16``, ``fp16``, ``fp32``, ``tf32``, and any float layout
``fpN-eXmY`` / ``eXmY`` with an optional group suffix ``-g128``. ``mxfp6`` alone is refused: the
MX spec defines two FP6 element types (E2M3 and E3M2) and neither is a training default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from precplan.errors import PrecplanError

__all__ = ["DEFAULT_TENSORS", "FORMAT_NAMES", "Format", "SCALES", "TENSORS", "parse_format"]

SCALES = ("none", "tensor", "channel", "group", "mx", "nv")
"""How a format scales its elements: ``none`` (a plain high-precision format: bf16, fp32),
``tensor``, ``channel``, ``group`` (g elements share a 16-bit scale), ``mx`` (OCP MX: 32
elements share an E8M0 scale), ``nv`` (NVFP4: 16 elements share an E4M3 scale, plus an FP32
per-tensor scale). ``None`` on a :class:`Format` means the name did not say."""

TENSORS = ("weights", "activations", "kv", "backward")
"""The tensors a format can quantize: forward weights, forward activations, attention K and V,
and the backward GEMM inputs (output gradients and the transposed weights/activations)."""

DEFAULT_TENSORS = ("weights", "activations", "backward")
"""What a training format quantizes unless told otherwise: the inputs of every linear-layer GEMM,
forward and backward (the recipe of the NVFP4 paper sec. 4.1, Quartet and DeepSeek-V3 sec. 3.3);
attention (KV) stays in high precision in all three."""

OCP_MX = "OCP Microscaling Formats (MX) Specification v1.0, Table 1"
NVFP4_REF = "NVIDIA, 'Pretraining Large Language Models with NVFP4', arXiv:2509.25149, sec. 2 and App. B"


@dataclass(frozen=True)
class Format:
    """A number format for training or serving.

    ``bits`` counts the element's own bits (sign included); :attr:`bits_per_element` adds the
    amortized scale bits. ``scale`` is one of :data:`SCALES` or None (not given by the name);
    ``block`` the elements per scale for ``group``/``mx``/``nv``; ``scale_format`` the scale's
    own format (``e8m0``, ``e4m3``, ``bf16``); ``tensors`` a subset of :data:`TENSORS`."""

    name: str
    kind: str  # "int" or "float"
    bits: int
    exponent_bits: int | None = None
    mantissa_bits: int | None = None
    scale: str | None = None
    block: int | None = None
    scale_format: str | None = None
    scale_bits: int = 0
    tensors: tuple[str, ...] = DEFAULT_TENSORS
    note: str = ""
    source: str = ""

    @property
    def is_float(self) -> bool:
        return self.kind == "float"

    @property
    def is_high_precision(self) -> bool:
        """bf16, fp16, fp32, tf32: the unquantized baselines (no scale, 16 bits or more)."""
        return self.scale == "none"

    @property
    def bits_per_element(self) -> float:
        """Element bits plus the amortized block-scale bits (MXFP4 4.25, NVFP4 4.5)."""
        if self.block and self.scale_bits:
            return self.bits + self.scale_bits / self.block
        return float(self.bits)

    @property
    def layout(self) -> str:
        """``e4m3``-style element layout, or ``int4``."""
        if self.is_float:
            return f"e{self.exponent_bits}m{self.mantissa_bits}"
        return f"int{self.bits}"

    def describe(self) -> str:
        """One line for output: element, scaling, bits per element with the overhead, source."""
        if self.kind == "float":
            elem = f"1 sign + {self.exponent_bits} exponent + {self.mantissa_bits} mantissa"
        else:
            elem = "integer"
        scale = {
            None: "",
            "none": "",
            "tensor": ", one scale per tensor",
            "channel": ", one scale per channel",
            "group": f", one scale per {self.block} elements, taken as 16 bits (an assumption)",
            "mx": f", one E8M0 scale per {self.block} elements; {OCP_MX}",
            "nv": f", one E4M3 scale per {self.block} elements + an FP32 tensor scale; {NVFP4_REF}",
        }[self.scale]
        bpe = self.bits_per_element
        if bpe == self.bits:
            text = f"{self.name} = {self.bits} bits ({elem}{scale})"
        else:
            text = f"{self.name} = {bpe:g} bits per element including the scale ({elem}{scale})"
        return text + (f"; {self.note}" if self.note else "")


def _float(name, e, m, **kw) -> Format:
    return Format(name, "float", 1 + e + m, e, m, **kw)


_HIGH = {
    "bf16": _float("bf16", 8, 7, scale="none"),
    "fp16": _float("fp16", 5, 10, scale="none"),
    "fp32": _float("fp32", 8, 23, scale="none"),
    "tf32": _float("tf32", 8, 10, scale="none"),
}
_FP8_DEFAULT = ("fp8 read as fp8-e4m3, the default for training GEMMs (Micikevicius et al. 2022,"
                " arXiv:2209.05433); write fp8-e5m2 for the other layout")
_MXFP8_DEFAULT = ("mxfp8 read as mxfp8-e4m3, the default here (OCP MX v1.0 defines E4M3 and E5M2 elements);"
                  " write mxfp8-e5m2 for the other")


def _mx(name: str, e: int, m: int, note: str = "") -> Format:
    return _float(name, e, m, scale="mx", block=32, scale_format="e8m0", scale_bits=8, note=note, source=OCP_MX)


_BLOCK = {
    "mxfp8-e4m3": _mx("mxfp8-e4m3", 4, 3),
    "mxfp8-e5m2": _mx("mxfp8-e5m2", 5, 2),
    "mxfp8": _mx("mxfp8-e4m3", 4, 3, _MXFP8_DEFAULT),
    "mxfp6-e2m3": _mx("mxfp6-e2m3", 2, 3),
    "mxfp6-e3m2": _mx("mxfp6-e3m2", 3, 2),
    "mxfp4": _mx("mxfp4", 2, 1),
    "mxfp4-e2m1": _mx("mxfp4", 2, 1),
    "mxint8": Format("mxint8", "int", 8, scale="mx", block=32, scale_format="e8m0", scale_bits=8, source=OCP_MX),
    "nvfp4": _float("nvfp4", 2, 1, scale="nv", block=16, scale_format="e4m3", scale_bits=8, source=NVFP4_REF),
}
FORMAT_NAMES = tuple(sorted(set(_HIGH) | set(_BLOCK) | {"int8", "int4", "int4-g128", "e4m3", "e5m2", "fp8", "fp8-e4m3", "fp8-e5m2"}))
"""Examples of names :func:`parse_format` accepts (any intN, fpN-eXmY, eXmY and -gG also)."""

_VALID = ("valid: int8, int4, int4-g128, e4m3, fp8-e4m3, e5m2, fp8, mxfp8, mxfp6-e2m3, mxfp6-e3m2,"
          " mxfp4, nvfp4, bf16, fp16, fp32, or fpN-eXmY")
_INT = re.compile(r"^(?:int|i)(\d+)$")
_FLOAT = re.compile(r"^(?:fp|f)(\d+)(?:[-_]?e(\d+)m(\d+))?$")
_BARE = re.compile(r"^e(\d+)m(\d+)$")
_GROUP = re.compile(r"^(.*?)[-_]g(\d+)$")


def parse_format(text: str) -> Format:
    """Parse a format name as people write it.

    Parameters
    ----------
    text : str
        ``int4``, ``int4-g128``, ``e4m3``, ``fp8-e5m2``, ``fp8``, ``mxfp4``, ``nvfp4``, ``bf16``...

    Returns
    -------
    Format
        The format, with its scaling and bits per element including the scale overhead.

    Raises
    ------
    PrecplanError
        An unknown or ambiguous name (``mxfp6``), a layout whose bits do not add up, a group
        size below 2.

    Example
    -------
    >>> parse_format("nvfp4").bits_per_element
    4.5
    """
    raw = str(text).strip()
    key = raw.lower()
    if not key.isascii() or not key:
        raise PrecplanError(f"format {raw!r}: unknown ({_VALID})")
    if key in _HIGH:
        return _HIGH[key]
    if key in _BLOCK:
        return _BLOCK[key]
    if key in ("mxfp6", "mxfp6-e3m2e2m3"):
        raise PrecplanError(
            f"format {raw!r} is ambiguous: OCP MX v1.0 defines two FP6 elements; write mxfp6-e2m3 or mxfp6-e3m2"
        )
    if key == "fp8":
        return _float("fp8-e4m3", 4, 3, note=_FP8_DEFAULT)
    group = None
    if m := _GROUP.match(key):
        key, group = m.group(1), int(m.group(2))
        if group < 2:
            raise PrecplanError(f"format {raw!r}: a group holds at least 2 elements (e.g. int4-g128)")
    fmt = _element(key, raw)
    if group is None:
        return fmt
    return Format(f"{fmt.name}-g{group}", fmt.kind, fmt.bits, fmt.exponent_bits, fmt.mantissa_bits,
                  scale="group", block=group, scale_format="bf16", scale_bits=16)


def _element(key: str, raw: str) -> Format:
    if m := _INT.match(key):
        bits = int(m.group(1))
        if not 1 <= bits <= 64:
            raise PrecplanError(f"format {raw!r}: integer formats have 1 to 64 bits ({_VALID})")
        return Format(f"int{bits}", "int", bits)
    m, bare = _FLOAT.match(key), _BARE.match(key)
    if not (m or bare):
        raise PrecplanError(f"unknown format {raw!r} ({_VALID})")
    if bare:
        e, mant = int(bare.group(1)), int(bare.group(2))
        total = 1 + e + mant
    else:
        total = int(m.group(1))
        if m.group(2) is None:
            raise PrecplanError(f"format {raw!r}: name the float layout, e.g. fp8-e4m3, fp8-e5m2, fp6-e3m2, fp4-e2m1")
        e, mant = int(m.group(2)), int(m.group(3))
    if 1 + e + mant != total:
        raise PrecplanError(f"format {raw!r}: 1 sign + {e} exponent + {mant} mantissa bits is {1 + e + mant}, not {total}")
    if not 2 <= total <= 64:
        raise PrecplanError(f"format {raw!r}: a float format has 2 to 64 bits ({_VALID})")
    return _float(f"fp{total}-e{e}m{mant}", e, mant)
