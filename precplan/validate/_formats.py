"""Training formats ``validate`` can train in: the name table (no torch here).

A format is an element type and a scale layout (the quantizers are in :mod:`._fpquant`):

- ``bf16``: the unquantized baseline; GEMM inputs rounded to bfloat16 (on CUDA, where runs
  train under bf16 autocast, this changes nothing; on the CPU, which trains in fp32, it
  makes the baseline a bf16 one).
- ``e4m3`` / ``e5m2`` (FP8, OCP 8-bit floating point; torch.float8_e4m3fn / float8_e5m2):
  one fp32 scale per row (a weight's output channel, an activation's token; or per tensor
  with ``activation_granularity="tensor"``) that maps the row's absolute maximum onto the
  element maximum (448 / 57344), the "current scaling" of FP8 training recipes.
- ``mxfp8-e4m3``, ``mxfp8-e5m2``, ``mxfp6-e2m3``, ``mxfp6-e3m2``, ``mxfp4`` (E2M1): OCP
  Microscaling Formats (MX) Specification v1.0 (2023), sec. 5 (table 1: blocks of k = 32
  elements sharing one E8M0 scale) and sec. 6.3 (the scale 2^(floor(log2 amax) - emax_elem),
  elements rounded to nearest even and clamped to the element maximum).
- ``nvfp4``: E2M1 elements in blocks of 16 along the reduction dimension, one E4M3 scale per
  block and one FP32 scale per tensor (NVIDIA, "Pretraining Large Language Models with
  NVFP4", arXiv 2509.25149, sec. 2; cuDNN block-scaling docs): tensor scale
  S = amax / (6 * 448); block scale e4m3(amax_block / 6 / S); elements e2m1(x / (scale * S)).

Element maxima (largest finite magnitude): E4M3FN 448 and E5M2 57344 (OCP 8-bit FP
specification, table 1), E2M3 7.5, E3M2 28 and E2M1 6 (OCP MX v1.0, tables 2 and 3).

Which tensors: the inputs of every Linear in the transformer blocks, forward weights and
activations (blocks along the reduction dimension, the last one); with ``backward=True`` also
the inputs of the two backward GEMMs (the output gradient, and the weight and activation
requantized along each GEMM's reduction dimension). Attention's score and value products,
embeddings and the output head stay in the training dtype. Rounding is to nearest even
everywhere (no stochastic rounding of gradients, which the NVFP4 recipe uses, and no random
Hadamard transform): state that beside any number measured with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from precplan.errors import PrecplanError

__all__ = ["Element", "TrainFormat", "ELEMENTS", "FORMATS", "ALIASES", "AMBIGUOUS", "get_format", "parse_formats",
           "format_label", "quantizer_label"]


@dataclass(frozen=True)
class Element:
    """A floating-point element type: ``exp_bits`` E, ``man_bits`` M, exponent ``bias``, and
    ``max_value``, the largest finite magnitude (E4M3FN gives up its top mantissa code to NaN,
    so its maximum is 1.75 * 2^8, not 1.875 * 2^8)."""

    name: str
    exp_bits: int
    man_bits: int
    bias: int
    max_value: float

    @property
    def bits(self) -> int:
        """Bits per element, sign included."""
        return 1 + self.exp_bits + self.man_bits

    @property
    def emin(self) -> int:
        """Exponent of the smallest normal number, 1 - bias (subnormals step by 2^(emin - M))."""
        return 1 - self.bias

    @property
    def emax(self) -> int:
        """Exponent of the largest normal number, floor(log2(max_value)) (OCP MX's emax_elem)."""
        import math

        return int(math.floor(math.log2(self.max_value)))


ELEMENTS: dict[str, Element] = {
    e.name: e
    for e in (
        Element("e4m3", 4, 3, 7, 448.0),
        Element("e5m2", 5, 2, 15, 57344.0),
        Element("e2m3", 2, 3, 1, 7.5),
        Element("e3m2", 3, 2, 3, 28.0),
        Element("e2m1", 2, 1, 1, 6.0),
        Element("bf16", 8, 7, 127, 3.3895313892515355e38),
    )
}


@dataclass(frozen=True)
class TrainFormat:
    """A training format: ``element`` with a ``scaling`` of ``none`` (bf16), ``row`` (an fp32
    absmax scale per row or tensor), ``mx`` (E8M0 power-of-two scale per ``block`` elements) or
    ``nv`` (E4M3 scale per ``block`` plus an FP32 per-tensor scale)."""

    name: str
    element: str
    scaling: str
    block: int | None
    source: str

    @property
    def elem(self) -> Element:
        return ELEMENTS[self.element]

    @property
    def bits_per_element(self) -> float:
        """Storage bits per element including the shared scales (MXFP4 4.25, NVFP4 4.5; the
        FP32 tensor scale and row scales are left out as negligible)."""
        return self.elem.bits + (8 / self.block if self.block else 0.0)


_MX = "OCP MX v1.0 sec. 5 (table 1) and 6.3"
FORMATS: dict[str, TrainFormat] = {
    f.name: f
    for f in (
        TrainFormat("bf16", "bf16", "none", None, "bfloat16, the unquantized baseline"),
        TrainFormat("e4m3", "e4m3", "row", None, "OCP 8-bit FP spec (E4M3FN); fp32 absmax scale per row"),
        TrainFormat("e5m2", "e5m2", "row", None, "OCP 8-bit FP spec (E5M2); fp32 absmax scale per row"),
        TrainFormat("mxfp8-e4m3", "e4m3", "mx", 32, _MX),
        TrainFormat("mxfp8-e5m2", "e5m2", "mx", 32, _MX),
        TrainFormat("mxfp6-e2m3", "e2m3", "mx", 32, _MX),
        TrainFormat("mxfp6-e3m2", "e3m2", "mx", 32, _MX),
        TrainFormat("mxfp4", "e2m1", "mx", 32, _MX),
        TrainFormat("nvfp4", "e2m1", "nv", 16, "NVIDIA arXiv 2509.25149 sec. 2"),
    )
}

ALIASES = {"fp8-e4m3": "e4m3", "fp8-e5m2": "e5m2", "e4m3fn": "e4m3", "bfloat16": "bf16", "mxfp4-e2m1": "mxfp4",
           "fp4-e2m1-mx": "mxfp4", "nvfp4-e2m1": "nvfp4",
           # the documented defaults of precplan.formats (one rule): fp8 is E4M3, mxfp8 is MXFP8 E4M3
           "fp8": "e4m3", "mxfp8": "mxfp8-e4m3"}
# Names that mean more than one format here: refused, with the choices (as precplan.formats does).
AMBIGUOUS = {"mxfp6": ("mxfp6-e2m3", "mxfp6-e3m2"), "fp4": ("mxfp4", "nvfp4")}


def get_format(name: str) -> TrainFormat:
    """The format called ``name`` (case and surrounding spaces ignored; aliases such as
    ``fp8-e4m3`` accepted).

    Raises
    ------
    PrecplanError
        For an unknown or ambiguous name, naming the valid ones.
    """
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key in FORMATS:
        return FORMATS[key]
    if key in AMBIGUOUS:
        raise PrecplanError(f"format {name!r} is ambiguous here: say {' or '.join(AMBIGUOUS[key])}")
    raise PrecplanError(f"format {name!r}: unknown (valid: {', '.join(FORMATS)})")


def parse_formats(text: str) -> tuple[str, ...]:
    """A comma-separated list of format names -> their canonical names, in order, without repeats.

    Parameters
    ----------
    text : str
        e.g. ``"bf16,e4m3,e5m2,mxfp4,nvfp4"``.

    Returns
    -------
    tuple of str
        Canonical names (keys of :data:`FORMATS`).

    Raises
    ------
    PrecplanError
        On an empty list, an empty item, or an unknown or ambiguous name.

    Example
    -------
    >>> parse_formats("BF16, fp8-e4m3,nvfp4")
    ('bf16', 'e4m3', 'nvfp4')
    """
    items = [s.strip() for s in str(text).split(",")]
    if not any(items):
        raise PrecplanError(f"formats: empty list (valid: {', '.join(FORMATS)})")
    if not all(items):
        raise PrecplanError(f"formats {text!r}: an empty name between commas (valid: {', '.join(FORMATS)})")
    out: list[str] = []
    for s in items:
        name = get_format(s).name
        if name not in out:
            out.append(name)
    return tuple(out)


def format_label(name: str, backward: bool = False) -> str:
    """How a run's format reads in tables and run ids: ``nvfp4``, or ``nvfp4+bwd`` when the
    backward GEMM inputs are quantized too."""
    return f"{name}+bwd" if backward else name


def quantizer_label(name: str) -> str:
    """The store's ``config.quantizer``: ``absmax-symmetric-int`` for the bit-width path (no
    format), else the format's element, block and scale, e.g. ``e2m1 blocks of 16, e4m3 scale x
    fp32 tensor scale``."""
    if not name:
        return "absmax-symmetric-int"
    f = FORMATS[name]
    layout = {"none": "no scale", "row": "fp32 absmax scale per row",
              "mx": f"blocks of {f.block}, e8m0 scale", "nv": f"blocks of {f.block}, e4m3 scale x fp32 tensor scale"}
    return f"{f.element} {layout[f.scaling]}, round to nearest even, saturating"
