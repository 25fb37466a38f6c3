"""Format-aware scaling laws: laws whose precision input is a :class:`~precplan.formats.Format`
(element layout, block and scale, tensors quantized), not a bit count.

Three forms, each from its paper (the law files ``laws/sun2025.yaml``, ``laws/castro2025.yaml``,
``laws/chen2025.yaml`` hold the constants with their table references and fit conditions):

- ``sun2025``: Sun et al. 2025, "Scaling Laws for Floating-Point Quantization Training"
  (arXiv:2501.02423), eq. 18/26 with Table 2 (App. B.1)::

      L = n / N^alpha + d / D^beta + eps + (D^beta / N^alpha) log2(B) / (gamma (E+0.5)^delta (M+0.5)^nu)

  E, M: exponent and mantissa bits; B: the block size of the scaling factor. Channel-wise
  scaling is the equivalent block log2 B = 13.1567 (sec. 3.6). Critical data size eq. 21,
  optimal layout eq. 19.
- ``quartet``: Castro et al. 2025, "Quartet" (arXiv:2505.14669 v4), eq. 1 with Table 6::

      L = E + (A / (N eff_N)^alpha + B / (D eff_D)^beta)^gamma

  eff_N from the forward-pass scheme, eff_D from the backward-pass scheme (Tables 2 and 3).
- ``qat``: Chen et al. 2025, "Scaling Law for Quantization-Aware Training" (arXiv:2505.14302),
  eq. 5 with Table 1::

      L = E + A / N^alpha + B / D^beta + k D^gamma_D (log2 G)^gamma_G / N^gamma_N

  with (k, gamma_N, gamma_D, gamma_G) for W4A4, W4A16 (weights only) or W16A4 (activations only).

A law that cannot describe a format raises :class:`PrecplanError` in one line naming what it
can describe (:meth:`FormatLaw.check_format`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray

from precplan.errors import PrecplanError
from precplan.formats import Format
from precplan.laws._checks import extrapolation_warnings as _extrapolation_warnings
from precplan.laws._law import Coefficient, Law

__all__ = ["FORMAT_FORMS", "FIT_CONDITION_KEYS", "FormatLaw"]

Array = NDArray[np.float64]

_QAT_SETTINGS = ("w4a4", "w4a16", "w16a4")
FORMAT_FORMS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "sun2025": ("n", "alpha", "d", "beta", "eps", "gamma", "delta", "nu", "log2_B_channel"),
    "quartet": ("A", "alpha", "B", "beta", "E", "gamma", "eff_N_fp8", "eff_D_fp8", "eff_N_mxfp4", "eff_D_mxfp4",
                "eff_N_mxfp4_forward_only", "eff_D_mxfp4_backward_only"),
    "qat": ("E", "A", "alpha", "B", "beta")
    + tuple(f"{c}_{s}" for s in _QAT_SETTINGS for c in ("k", "gamma_N", "gamma_D", "gamma_G")),
})
"""The coefficients each format-aware form needs (names as in the papers' tables)."""

FIT_CONDITION_KEYS = ("data", "params", "tokens", "tensors", "quantization")
"""What every format-aware law file states about its fit: data set, model sizes, token range,
which tensors were quantized, simulated or native."""


@dataclass(frozen=True)
class FormatLaw:
    """A validated format-aware law (build with :func:`precplan.load_law`).

    Its methods take N and D as arrays or scalars and one :class:`~precplan.formats.Format`."""

    id: str
    title: str
    citation: str
    form: str
    coefficients: Mapping[str, Coefficient]
    fit_range: Mapping[str, tuple[float, float]]
    fit_conditions: Mapping[str, str]
    description: str = ""
    notes: tuple[str, ...] = ()
    origin: str = "<memory>"
    composed_from: None = None
    samples: None = field(default=None, compare=False)
    reference_bits: float = 16.0
    weight_format: str = "float"
    float_variant: None = None
    provenance: Mapping[str, object] = field(default_factory=dict)

    def __getattr__(self, name: str):
        """A command that needs a bit-count law's terms (N_eff factors, PTQ) gets one line saying
        this law cannot serve it, not an AttributeError."""
        if not name.startswith("_") and hasattr(Law, name):
            raise PrecplanError(
                f"law {self.id!r} is format-aware ({self.form}): it predicts the loss of one named training format"
                f" (predict with precision nvfp4, say); it plans over a GPU's native formats (precplan.optimize.plan_formats,"
                f" with `gpu`); bit-count planning and PTQ need a bit-count law such as kumar2024"
            )
        raise AttributeError(name)

    # ------------------------------------------------------------ introspection
    def c(self, name: str) -> float:
        """The value of coefficient ``name``."""
        try:
            return self.coefficients[name].value
        except KeyError:
            raise PrecplanError(f"law {self.id!r} (form {self.form}) has no coefficient {name!r}") from None

    @property
    def values(self) -> dict[str, float]:
        return {k: v.value for k, v in self.coefficients.items()}

    @property
    def assumed(self) -> list[str]:
        return [k for k, v in self.coefficients.items() if v.source == "assumed"]

    @property
    def is_format_law(self) -> bool:
        return True

    @property
    def has_precision(self) -> bool:
        return True

    @property
    def has_ptq(self) -> bool:
        return False

    @property
    def has_samples(self) -> bool:
        return False

    @property
    def base_id(self) -> str:
        return self.id

    @property
    def can_describe(self) -> str:
        """What formats this law describes, in words (for refusals)."""
        return {
            "sun2025": "floating-point formats with a block or channel scale (fp8-e4m3, e5m2, mxfp8, mxfp6-e2m3,"
                       " mxfp4, nvfp4, fp4-e2m1-g128) and unquantized bf16/fp16/fp32",
            "quartet": "bf16/fp16/fp32, 8-bit floats (treated as lossless) and mxfp4 trained with the Quartet recipe",
            "qat": "4-bit formats with a group size (int4-g32..int4-g256, fp4-e2m1-g128, mxfp4, nvfp4) and"
                   " unquantized bf16/fp16/fp32",
        }[self.form]

    # ------------------------------------------------------------ which formats
    def refusal(self, fmt: Format) -> str | None:
        """Why this law cannot describe ``fmt`` (one line), or None when it can."""
        if fmt.is_high_precision:
            return None
        bad = f"law {self.id} cannot describe {fmt.name}"
        if self.form == "sun2025":
            if not fmt.is_float:
                return f"{bad}: it was fit on floating-point formats only (it describes {self.can_describe})"
            if fmt.scale == "tensor":
                return (f"{bad} with a per-tensor scale: the paper gives no constants for its tensor-wise block-size"
                        f" fit (it describes {self.can_describe})")
            return None
        if self.form == "quartet":
            if fmt.is_float and fmt.bits == 8:
                return None
            if fmt.name == "mxfp4":
                return None
            return f"{bad}: it describes {self.can_describe}"
        # qat
        if fmt.bits != 4 or fmt.block is None:
            return f"{bad}: it describes {self.can_describe}"
        if not {"weights", "activations"} & set(fmt.tensors):
            return f"{bad} quantizing only the backward pass: QAT quantizes the forward pass"
        return None

    def check_format(self, fmt: Format) -> None:
        """Raise :class:`PrecplanError` (one line) unless this law can describe ``fmt``."""
        reason = self.refusal(fmt)
        if reason:
            raise PrecplanError(reason)

    def format_notes(self, fmt: Format) -> list[str]:
        """What this law does and does not model for ``fmt``: said beside every prediction."""
        if fmt.is_high_precision:
            return [f"{fmt.name} is the unquantized baseline of {self.id}: no quantization term"]
        if self.form == "sun2025":
            out = [f"{self.id}: penalty (D^beta/N^alpha) log2(B) / (gamma (E+0.5)^delta (M+0.5)^nu) with"
                   f" E={fmt.exponent_bits}, M={fmt.mantissa_bits}, log2 B = {self.log2_block(fmt):.4g}"
                   f" ({self._block_words(fmt)})"]
            if fmt.scale in ("mx", "nv"):
                out.append(f"{self.id} models the block size only: its scales were high-precision in the fit, so the"
                           f" {fmt.scale_format.upper()} scale format of {fmt.name} (rounding of the scale) is not modeled")
            out.append(f"{self.id} was fit with only forward weights, backward weights and the weight-gradient GEMM's"
                       " activations quantized (paper sec. 3.4: P2, P4, P6); its penalty is applied here whatever tensors"
                       " the format quantizes")
            return out
        if self.form == "quartet":
            effn, effd = self.efficiencies(fmt)
            return [f"{self.id}: eff_N = {effn:g}, eff_D = {effd:g} for {fmt.name} ({self._scheme_words(fmt)})"]
        setting = self.qat_setting(fmt)
        out = [f"{self.id}: QAT error k D^gamma_D (log2 G)^gamma_G / N^gamma_N for {setting.upper()}, G = {fmt.block}"]
        if not 32 <= fmt.block <= 256:
            out.append(f"{self.id}: group size {fmt.block} lies outside the fitted groups 32-256 (extrapolated)")
        if "backward" in fmt.tensors:
            out.append(f"{self.id} is a QAT law: only the forward pass was quantized in its fit; the backward GEMMs of"
                       f" {fmt.name} are not modeled")
        if fmt.is_float:
            out.append(f"{self.id} was fit on INT4; the paper reports that the INT4 fit predicts FP4 (fig. 13), and"
                       " it does not model the scale format")
        return out

    # ------------------------------------------------------------ shared pieces
    def baseline_loss(self, N: ArrayLike, D: ArrayLike) -> Array:
        """The loss of unquantized (bf16) training under this law."""
        N, D = np.asarray(N, dtype=float), np.asarray(D, dtype=float)
        if self.form == "sun2025":
            return self.c("n") / N ** self.c("alpha") + self.c("d") / D ** self.c("beta") + self.c("eps")
        if self.form == "quartet":
            return self._quartet(N, D, 1.0, 1.0)
        return self.c("E") + self.c("A") / N ** self.c("alpha") + self.c("B") / D ** self.c("beta")

    def loss(self, N: ArrayLike, D: ArrayLike, fmt: Format) -> Array:
        """The predicted loss of training N parameters on D tokens in ``fmt``.

        Parameters
        ----------
        N, D : array_like
            Parameters and training tokens (raw counts).
        fmt : Format
            The training format (:func:`precplan.formats.parse_format`).

        Returns
        -------
        numpy.ndarray
            Loss in nats per token, broadcast over N and D.

        Raises
        ------
        PrecplanError
            When the law cannot describe ``fmt``.

        Example
        -------
        >>> from precplan.formats import parse_format
        >>> law = load_law("sun2025")
        >>> bool(law.loss(1e9, 1e11, parse_format("e5m2")) > law.loss(1e9, 1e11, parse_format("e4m3")))
        True
        """
        self.check_format(fmt)
        N, D = np.asarray(N, dtype=float), np.asarray(D, dtype=float)
        if fmt.is_high_precision:
            return self.baseline_loss(N, D)
        if self.form == "sun2025":
            return self.baseline_loss(N, D) + self.sun_penalty(N, D, fmt.exponent_bits, fmt.mantissa_bits, self.log2_block(fmt))
        if self.form == "quartet":
            effn, effd = self.efficiencies(fmt)
            return self._quartet(N, D, effn, effd)
        return self.baseline_loss(N, D) + self.qat_error(N, D, fmt.block, self.qat_setting(fmt))

    @property
    def separates_passes(self) -> bool:
        """Whether the law has separate forward and backward terms (Quartet's eff_N and eff_D)."""
        return self.form == "quartet"

    def loss_split(self, N: ArrayLike, D: ArrayLike, forward: Format, backward: Format) -> Array:
        """The loss of training with the forward GEMMs in ``forward`` and the backward GEMMs in
        ``backward`` (e.g. mxfp4 forward, fp8 backward).

        Castro et al. 2025 (Quartet) only: eff_N comes from the forward scheme and eff_D from the
        backward scheme (Table 2: a 4-bit forward pass alone costs eff_N, a 4-bit backward pass
        alone eff_D; FP8 is lossless, eff = 1); both in mxfp4 is the Quartet scheme of Table 3.
        Other forms take one format for both passes.

        Raises
        ------
        PrecplanError
            A law without separate passes given two formats, or a format it cannot describe.
        """
        if forward.name == backward.name:
            return self.loss(N, D, forward)
        if not self.separates_passes:
            raise PrecplanError(f"law {self.id!r} takes one format for the forward and backward passes; only castro2025"
                                " (Quartet: eff_N forward, eff_D backward) separates them")
        from dataclasses import replace

        effn = self.efficiencies(replace(forward, tensors=("weights", "activations")))[0]
        effd = self.efficiencies(replace(backward, tensors=("backward",)))[1]
        return self._quartet(np.asarray(N, dtype=float), np.asarray(D, dtype=float), effn, effd)

    def gap(self, N: ArrayLike, D: ArrayLike, fmt: Format) -> Array:
        """Loss in ``fmt`` minus the unquantized baseline's, in nats."""
        return self.loss(N, D, fmt) - self.baseline_loss(N, D)

    def relative_gap(self, N: ArrayLike, D: ArrayLike, fmt: Format) -> Array:
        """The gap as a fraction of the baseline loss (the "relative loss error" real runs report)."""
        return self.gap(N, D, fmt) / self.baseline_loss(N, D)

    # ------------------------------------------------------------ sun2025
    def log2_block(self, fmt: Format) -> float:
        """log2 B for Sun et al.'s block term: the block for group/MX/NV scaling, the channel-wise
        equivalent 13.1567 (sec. 3.6) for channel scaling or when the name gave no scaling."""
        if fmt.block:
            return math.log2(fmt.block)
        return self.c("log2_B_channel")

    @staticmethod
    def _block_words(fmt: Format) -> str:
        if fmt.block:
            return f"blocks of {fmt.block}"
        if fmt.scale == "channel":
            return "channel-wise scale: the paper's equivalent block, sec. 3.6"
        return f"no scaling given for {fmt.name}: read as channel-wise, the paper's equivalent block (sec. 3.6)"

    def sun_penalty(self, N: ArrayLike, D: ArrayLike, E: ArrayLike, M: ArrayLike, log2_B: ArrayLike) -> Array:
        """Sun et al. 2025 eq. 17: (D^beta / N^alpha) log2 B / (gamma (E+0.5)^delta (M+0.5)^nu)."""
        N, D = np.asarray(N, dtype=float), np.asarray(D, dtype=float)
        E, M = np.asarray(E, dtype=float), np.asarray(M, dtype=float)
        knowledge = D ** self.c("beta") / N ** self.c("alpha")
        return knowledge * np.asarray(log2_B, dtype=float) / (
            self.c("gamma") * (E + 0.5) ** self.c("delta") * (M + 0.5) ** self.c("nu"))

    def critical_data_size(self, N: ArrayLike, E: ArrayLike, M: ArrayLike, log2_B: ArrayLike) -> Array:
        """Sun et al. 2025 eq. 21: the D beyond which more data raises the loss,
        D_crit = (d gamma N^alpha (E+0.5)^delta (M+0.5)^nu / log2 B)^(1 / (2 beta))."""
        N = np.asarray(N, dtype=float)
        E, M = np.asarray(E, dtype=float), np.asarray(M, dtype=float)
        inner = (self.c("d") * self.c("gamma") * N ** self.c("alpha") * (E + 0.5) ** self.c("delta")
                 * (M + 0.5) ** self.c("nu") / np.asarray(log2_B, dtype=float))
        return inner ** (1.0 / (2.0 * self.c("beta")))

    def optimal_mantissa(self, P: ArrayLike) -> Array:
        """Sun et al. 2025 eq. 19: the continuous optimum M_opt = nu P / (delta + nu) - 0.5 for
        P = 1 + E + M total bits."""
        return self.c("nu") * np.asarray(P, dtype=float) / (self.c("delta") + self.c("nu")) - 0.5

    def optimal_layout(self, P: int) -> tuple[int, int]:
        """The integer (E, M) with 1 + E + M = P that minimizes the penalty (E >= 1)."""
        if int(P) < 3:
            raise PrecplanError(f"a float layout needs at least 3 bits (1 sign, 1 exponent, 1 mantissa); got {P}")
        M = np.arange(0, int(P) - 1)
        E = int(P) - 1 - M
        score = (E + 0.5) ** self.c("delta") * (M + 0.5) ** self.c("nu")
        best = int(np.argmax(score))
        return int(E[best]), int(M[best])

    # ------------------------------------------------------------ quartet
    def efficiencies(self, fmt: Format) -> tuple[float, float]:
        """(eff_N, eff_D) for ``fmt`` (Castro et al. 2025, Tables 2-3): 1 for unquantized, the
        FP8 values for 8-bit floats, the Quartet values for MXFP4 on all GEMMs, the forward-only
        (QuEST) or backward-only (RTN) values when only one pass is quantized."""
        self.check_format(fmt)
        if fmt.is_high_precision:
            return 1.0, 1.0
        if fmt.bits == 8:
            return self.c("eff_N_fp8"), self.c("eff_D_fp8")
        forward = bool({"weights", "activations"} & set(fmt.tensors))
        backward = "backward" in fmt.tensors
        if forward and backward:
            return self.c("eff_N_mxfp4"), self.c("eff_D_mxfp4")
        if forward:
            return self.c("eff_N_mxfp4_forward_only"), 1.0
        return 1.0, self.c("eff_D_mxfp4_backward_only")

    @staticmethod
    def _scheme_words(fmt: Format) -> str:
        if fmt.bits == 8:
            return "FP8 is treated as lossless by the paper, sec. 2: e4m3 and e5m2 are not told apart"
        if {"weights", "activations"} & set(fmt.tensors) and "backward" in fmt.tensors:
            return "Quartet recipe on all GEMMs: QuEST forward, RTN backward with Hadamard, Table 3"
        return "one pass only, Table 2"

    def _quartet(self, N: Array, D: Array, effn: float, effd: float) -> Array:
        inner = self.c("A") / (N * effn) ** self.c("alpha") + self.c("B") / (D * effd) ** self.c("beta")
        return self.c("E") + inner ** self.c("gamma")

    # ------------------------------------------------------------ qat
    @staticmethod
    def qat_setting(fmt: Format) -> str:
        """``w4a4``, ``w4a16`` or ``w16a4`` from the tensors ``fmt`` quantizes in the forward pass."""
        w, a = "weights" in fmt.tensors, "activations" in fmt.tensors
        return "w4a4" if (w and a) else ("w4a16" if w else "w16a4")

    def qat_error(self, N: ArrayLike, D: ArrayLike, G: ArrayLike, setting: str = "w4a4") -> Array:
        """Chen et al. 2025 eq. 5: delta = k D^gamma_D (log2 G)^gamma_G / N^gamma_N."""
        if setting not in _QAT_SETTINGS:
            raise PrecplanError(f"QAT setting must be one of {', '.join(_QAT_SETTINGS)}; got {setting!r}")
        N, D = np.asarray(N, dtype=float), np.asarray(D, dtype=float)
        c = {k: self.c(f"{k}_{setting}") for k in ("k", "gamma_N", "gamma_D", "gamma_G")}
        return c["k"] * D ** c["gamma_D"] * np.log2(np.asarray(G, dtype=float)) ** c["gamma_G"] / N ** c["gamma_N"]

    # ------------------------------------------------------------ ranges
    def extrapolation_warnings(self, N: ArrayLike, D: ArrayLike, bits: ArrayLike | None = None) -> list[str]:
        """Warnings for requests outside the N, D range the law was fit on (the shared rule)."""
        return _extrapolation_warnings(self, N, D, None)
