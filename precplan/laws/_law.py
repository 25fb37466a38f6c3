"""Law files and the vectorized math of precision-aware scaling laws.

A law file (YAML, see ``laws/*.yaml``) is parsed and validated by :mod:`precplan.laws._file`
into a :class:`Law`. A ``Law`` is pure math: every method takes numpy arrays (or scalars)
and broadcasts. Equation references are to the papers (``docs/science.md`` gives each with its source):

- Hoffmann et al. 2022 ("Chinchilla"), eq. 2:   L = E + A / N^alpha + B / D^beta
- Kumar et al. 2024 ("Scaling Laws for Precision"), eqs. 3-5 and Appendix K:
  N_eff = N * f_w(P_w) f_a(P_a) f_kv(P_kv),  f_x(P) = 1 - exp(-P / gamma_x + n_x)
- Kumar et al. 2024, eq. 2 and eqs. 8-9: post-training quantization degradation.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray

from precplan.errors import PrecplanError
from precplan.laws._checks import extrapolation_warnings as _extrapolation_warnings
from precplan.precision import OPERAND_LABEL, OPERANDS, REFERENCE_BITS

__all__ = [
    "ASSUMED_LABEL", "BASE", "COEFFICIENT_NAMES", "FORMS", "PRECISION", "PTQ", "ROBUSTNESS", "SOURCES", "Coefficient",
    "Decomposition", "Law", "Samples",
]

BASE = ("E", "A", "B", "alpha", "beta")
PRECISION = ("gamma_w", "n_w", "gamma_a", "n_a", "gamma_kv", "n_kv")
PTQ = ("C_T", "gamma_D", "gamma_N", "gamma_post", "b_post")
ROBUSTNESS = ("C_w", "C_a", "C_kv")
COEFFICIENT_NAMES = BASE + PRECISION + PTQ + ROBUSTNESS
FORMS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "chinchilla": BASE,
        "precision": BASE + PRECISION,
        "precision-ptq": BASE + PRECISION + PTQ + ROBUSTNESS,
    }
)
SOURCES = ("published", "assumed", "fitted", "derived")
ASSUMED_LABEL = "ASSUMED values that no paper reports"
"""How every output flags a number that rests on an assumed constant."""

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Coefficient:
    """One coefficient's value and where it comes from (``source`` is one of :data:`SOURCES`)."""

    value: float
    source: str
    ref: str = ""
    note: str = ""
    stderr: float | None = None


@dataclass(frozen=True)
class Samples:
    """A sample of coefficient vectors (rows) for some of a law's coefficients (columns ``names``):
    bootstrap refits (``precplan fit --bootstrap``) or draws from published standard errors.
    ``method`` says which, and what approximation it rests on."""

    names: tuple[str, ...]
    values: Array  # (S, k): row s is one coefficient vector, column j is coefficient names[j]
    method: str

    @property
    def count(self) -> int:
        return int(self.values.shape[0])

    def column(self, name: str) -> Array:
        """All S sampled values of coefficient ``name``."""
        return self.values[:, self.names.index(name)]


@dataclass(frozen=True)
class Decomposition:
    """Where a predicted loss comes from (Kumar et al. 2024, eq. 10):
    loss = irreducible + param_term + data_term + ptq_degradation."""

    irreducible: float
    param_term: float
    data_term: float
    ptq_degradation: float
    effective_params: float
    effective_fraction: float


@dataclass(frozen=True)
class Law:
    """A validated scaling law. Build one with :func:`precplan.load_law` or
    :func:`precplan.laws.law_from_mapping`.

    ``reference_bits``: the training precision the base terms (E, A, B, alpha, beta) were fit
    at. The effective-parameter factors are taken relative to it, so a model trained there has
    N_eff = N and the base law's loss (Kumar et al. fit the base law on 16-bit runs first,
    then the precision factors on quantized runs). ``None`` applies the factors unnormalized.
    """

    id: str
    title: str
    citation: str
    form: str
    coefficients: Mapping[str, Coefficient]
    fit_range: Mapping[str, tuple[float, float]]
    reference_bits: float | None = REFERENCE_BITS
    weight_format: str = "int"
    float_variant: str | None = None
    description: str = ""
    notes: tuple[str, ...] = ()
    provenance: Mapping[str, object] = field(default_factory=dict)
    origin: str = "<memory>"
    composed_from: tuple[str, str] | None = None
    samples: Samples | None = field(default=None, compare=False)
    # Set on the law :meth:`sampled` returns: its sampled coefficients are arrays with this many
    # entries on their first axis (the sample axis), and every method broadcasts over it.
    draws: int | None = field(default=None, compare=False)

    # ---------------------------------------------------------------- introspection
    def c(self, name: str) -> float:
        """The value of coefficient ``name`` (e.g. ``law.c("alpha")``)."""
        try:
            return self.coefficients[name].value
        except KeyError:
            raise PrecplanError(
                f"law {self.id!r} (form {self.form}) has no coefficient {name!r}"
            ) from None

    @property
    def values(self) -> dict[str, float]:
        """All coefficient values by name."""
        return {k: v.value for k, v in self.coefficients.items()}

    @property
    def has_precision(self) -> bool:
        return "gamma_w" in self.coefficients

    @property
    def has_ptq(self) -> bool:
        return "C_T" in self.coefficients

    @property
    def assumed(self) -> list[str]:
        """Names of coefficients no paper reports (source ``assumed``)."""
        return [k for k, v in self.coefficients.items() if v.source == "assumed"]

    def with_coefficients(self, **values: float) -> "Law":
        """A copy with some coefficient values replaced (sources kept; a coefficient sample, which
        described the old values, is dropped)."""
        coefs = dict(self.coefficients)
        for k, v in values.items():
            if k not in coefs:
                raise PrecplanError(f"law {self.id!r} has no coefficient {k!r}")
            coefs[k] = replace(coefs[k], value=float(v))
        return replace(self, coefficients=MappingProxyType(coefs), samples=None)

    # ---------------------------------------------------------------- coefficient samples
    @property
    def has_samples(self) -> bool:
        """Whether the law carries a sample of coefficient vectors (so answers get intervals)."""
        return self.samples is not None and self.samples.count > 0

    def sampled(self, ndim: int = 1) -> "Law":
        """The law evaluated at every coefficient sample at once.

        Each sampled coefficient becomes an array of shape ``(S,) + (1,) * (ndim - 1)``: the
        sample axis comes first and every method broadcasts over it, so ``law.sampled().loss(N, D)``
        is the S losses and ``law.sampled(2).loss(N, D_grid[None, :])`` an (S, len(D_grid)) table.
        Arguments must keep the sample axis first (give other axes a leading 1). Coefficients
        without samples keep their point value. The result has no ``samples`` of its own."""
        if not self.has_samples:
            raise PrecplanError(f"law {self.id!r} carries no coefficient samples")
        shape = (self.samples.count,) + (1,) * (max(int(ndim), 1) - 1)
        coefs = dict(self.coefficients)
        for j, name in enumerate(self.samples.names):
            coefs[name] = replace(coefs[name], value=self.samples.values[:, j].reshape(shape))
        return replace(self, coefficients=MappingProxyType(coefs), samples=None, draws=self.samples.count)

    def lift(self, ndim: int) -> "Law":
        """A law from :meth:`sampled` with its sample axis re-shaped for ``ndim``-dimensional
        arguments (the sample axis first); any other law unchanged. Solvers that add trailing
        axes (grids, line searches) call this so the sample axis stays aligned."""
        if self.draws is None:
            return self
        nd = max(int(ndim), 1)
        if all(np.ndim(c.value) in (0, nd) for c in self.coefficients.values()):
            return self  # already shaped for it
        shape = (self.draws,) + (1,) * (nd - 1)
        coefs = {
            k: replace(c, value=np.reshape(c.value, shape)) if np.ndim(c.value) else c
            for k, c in self.coefficients.items()
        }
        return replace(self, coefficients=MappingProxyType(coefs))

    # ---------------------------------------------------------------- base law
    def base_loss(self, N: ArrayLike, D: ArrayLike) -> Array:
        """Hoffmann et al. 2022, eq. 2: E + A N^-alpha + B D^-beta."""
        N, D = np.asarray(N, dtype=float), np.asarray(D, dtype=float)
        return self.c("E") + self.param_term(N) + self.data_term(D)

    def param_term(self, N_eff: ArrayLike) -> Array:
        """A / N^alpha (Hoffmann eq. 2), with N the effective parameter count (Kumar eq. 3).

        Returns +inf where N_eff <= 0 (outside the law's domain)."""
        n = np.asarray(N_eff, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = self.c("A") * np.power(np.where(n > 0, n, np.nan), -self.c("alpha"))
        return np.where(n > 0, out, np.inf)

    def data_term(self, D: ArrayLike) -> Array:
        """B / D^beta (Hoffmann eq. 2)."""
        return self.c("B") * np.power(np.asarray(D, dtype=float), -self.c("beta"))

    # ---------------------------------------------------------------- precision terms
    def _raw_factor(self, bits: ArrayLike, operand: str) -> Array:
        """Kumar et al. 2024, eq. 3 with Appendix K offsets: 1 - exp(-P / gamma_x + n_x)."""
        p = np.asarray(bits, dtype=float)
        return 1.0 - np.exp(-p / self.c(f"gamma_{operand}") + self.c(f"n_{operand}"))

    def factor(self, bits: ArrayLike, operand: str = "w") -> Array:
        """The effective-parameter factor f_x(P) of one operand (``w``, ``a`` or ``kv``),
        relative to ``reference_bits`` when set. Negative where the law breaks down."""
        if operand not in OPERANDS:
            raise PrecplanError(f"operand must be one of {', '.join(OPERANDS)}; got {operand!r}")
        p = np.asarray(bits, dtype=float)
        if not self.has_precision:
            ref = REFERENCE_BITS if self.reference_bits is None else self.reference_bits
            if np.any(p != ref):
                raise PrecplanError(
                    f"law {self.id!r} has no precision terms, so it only predicts {ref:g}-bit training;"
                    f" compose it with a precision law, e.g. --law kumar2024 --base {self.base_id}"
                )
            return np.ones_like(p)
        f = self._raw_factor(p, operand)
        if self.reference_bits is not None:
            f = f / self._raw_factor(self.reference_bits, operand)
        return f

    def precision_factor(self, weights: ArrayLike = 16, activations: ArrayLike = 16, kv: ArrayLike = 16) -> Array:
        """N_eff / N = f_w(P_w) f_a(P_a) f_kv(P_kv) (Kumar et al. 2024, eq. 5).

        <= 0 wherever any one factor is <= 0 (the law breaks down there): two negative factors
        must not multiply into a positive, feasible-looking product."""
        factors = [self.factor(weights, "w"), self.factor(activations, "a"), self.factor(kv, "kv")]
        product = factors[0] * factors[1] * factors[2]
        broken = (factors[0] <= 0) | (factors[1] <= 0) | (factors[2] <= 0)
        return np.where(broken, -np.abs(product), product)

    def effective_params(self, N: ArrayLike, weights: ArrayLike = 16, activations: ArrayLike = 16, kv: ArrayLike = 16) -> Array:
        """N_eff (Kumar et al. 2024, eq. 5). Values <= 0 mark precisions where the law breaks down."""
        return np.asarray(N, dtype=float) * self.precision_factor(weights, activations, kv)

    # ---------------------------------------------------------------- post-training quantization
    def _robustness_factor(self, bits: ArrayLike, post: Array, operand: str) -> Array:
        """One operand's factor of Kumar et al. 2024 eq. 9, 1 - exp(-C_x (P_x - P_post)), clipped
        to [0, 1] and taken relative to ``reference_bits`` like the effective-parameter factors: a
        model trained at the reference precision gets eq. 2 exactly (the PTQ fit's own runs)."""
        C = self.c(f"C_{operand}")
        raw = np.clip(1.0 - np.exp(-C * (np.asarray(bits, dtype=float) - post)), 0.0, 1.0)
        if self.reference_bits is None:
            return raw
        at_ref = 1.0 - np.exp(-C * (self.reference_bits - post))
        return np.where(at_ref > 0, np.clip(raw / np.where(at_ref > 0, at_ref, 1.0), 0.0, 1.0), raw)

    def robustness(self, post: ArrayLike, weights: ArrayLike = 16, activations: ArrayLike = 16, kv: ArrayLike = 16) -> Array:
        """Kumar et al. 2024, eq. 9: prod_x [1 - exp(-C_x (P_x - P_post))] relative to a model
        trained at ``reference_bits`` (1 there; 0 where an operand trains at or below P_post).
        The C_x are never reported by the paper: the bundled values are assumptions, used only
        when an operand trains between P_post and the reference precision."""
        post = np.asarray(post, dtype=float)
        out = np.ones(np.broadcast(post, weights, activations, kv).shape)
        for operand, bits in zip(OPERANDS, (weights, activations, kv)):
            out = out * self._robustness_factor(bits, post, operand)
        return out

    def robustness_constants_used(self, post: float, weights: float = 16, activations: float = 16, kv: float = 16) -> list[str]:
        """The robustness constants C_x that ``robustness(...)`` depends on here: those of operands
        trained strictly between P_post and the reference precision (elsewhere the factor is 0 or 1
        whatever C_x is)."""
        ref = np.inf if self.reference_bits is None else self.reference_bits
        return [
            f"C_{op}"
            for op, bits in zip(OPERANDS, (weights, activations, kv))
            if f"C_{op}" in self.coefficients and post < float(bits) < ref
        ]

    def assumed_robustness_constants(self, post: float, weights: float = 16, activations: float = 16, kv: float = 16) -> list[str]:
        """The robustness constants that matter here (:meth:`robustness_constants_used`) and that
        no paper reports (source ``assumed``): the ones output must flag."""
        return [name for name in self.robustness_constants_used(post, weights, activations, kv) if name in self.assumed]

    def ptq_degradation(
        self,
        N: ArrayLike,
        D: ArrayLike,
        post: ArrayLike,
        weights: ArrayLike = 16,
        activations: ArrayLike = 16,
        kv: ArrayLike = 16,
    ) -> Array:
        """delta_PTQ (Kumar et al. 2024, eqs. 2 and 8-9, offset reading of b):

            C_T exp(-P_post / gamma_post + b) D^gamma_D / N_eff^gamma_N * robustness

        Returns +inf where N_eff <= 0."""
        self.require_ptq()
        n_eff = self.effective_params(N, weights, activations, kv)
        D = np.asarray(D, dtype=float)
        post = np.asarray(post, dtype=float)
        scale = self.c("C_T") * np.exp(-post / self.c("gamma_post") + self.c("b_post"))
        with np.errstate(divide="ignore", invalid="ignore"):
            size = np.power(D, self.c("gamma_D")) / np.power(np.where(n_eff > 0, n_eff, np.nan), self.c("gamma_N"))
        delta = scale * size * self.robustness(post, weights, activations, kv)
        return np.where(n_eff > 0, delta, np.inf)

    # ---------------------------------------------------------------- total
    def loss(
        self,
        N: ArrayLike,
        D: ArrayLike,
        weights: ArrayLike = 16,
        activations: ArrayLike = 16,
        kv: ArrayLike = 16,
        post: ArrayLike | None = None,
    ) -> Array:
        """Kumar et al. 2024, eq. 10: A N_eff^-alpha + B D^-beta + E (+ delta_PTQ when ``post``).

        Returns +inf where N_eff <= 0 (outside the law's domain), never NaN for positive N, D."""
        n_eff = self.effective_params(N, weights, activations, kv)
        out = self.c("E") + self.param_term(n_eff) + self.data_term(D)
        if post is not None:
            out = out + self.ptq_degradation(N, D, post, weights, activations, kv)
        return out

    def decompose(self, N: float, D: float, weights: float = 16, activations: float = 16, kv: float = 16,
                  post: float | None = None) -> Decomposition:
        """The terms of :meth:`loss` at one point (Kumar et al. 2024, eq. 10)."""
        n_eff = float(self.effective_params(N, weights, activations, kv))
        ptq = 0.0 if post is None else float(self.ptq_degradation(N, D, post, weights, activations, kv))
        return Decomposition(
            irreducible=self.c("E"),
            param_term=float(self.param_term(n_eff)),
            data_term=float(self.data_term(D)),
            ptq_degradation=ptq,
            effective_params=n_eff,
            effective_fraction=n_eff / float(N),
        )

    # ---------------------------------------------------------------- domain
    def domain_threshold(self, operand: str) -> float:
        """Bits at or below which an operand's raw factor 1 - exp(-P/gamma_x + n_x) is <= 0: the
        law breaks down there (Kumar et al. 2024, eq. 3 with App. K offsets: P <= gamma_x n_x)."""
        return self.c(f"gamma_{operand}") * self.c(f"n_{operand}")

    @property
    def base_id(self) -> str:
        """The law whose base terms this one has: a loadable name (a composed law's base)."""
        return self.composed_from[1] if self.composed_from else self.id

    def require_ptq(self) -> None:
        """Raise unless the law has post-training-quantization terms (Kumar et al. 2024, eq. 2)."""
        if not self.has_ptq:
            raise PrecplanError(
                f"law {self.id!r} (form {self.form}) has no post-training-quantization terms;"
                f" use a precision-ptq law such as kumar2024, or compose one on {self.base_id}'s base terms"
                f" (law kumar2024, base {self.base_id})"
            )

    def check_domain(self, N: ArrayLike, D: ArrayLike, weights: ArrayLike = 16, activations: ArrayLike = 16, kv: ArrayLike = 16) -> None:
        """Raise :class:`PrecplanError` with a clear message outside the law's domain."""
        if np.any(np.asarray(N, dtype=float) <= 0) or np.any(np.asarray(D, dtype=float) <= 0):
            raise PrecplanError("parameters and tokens must be positive")
        if not self.has_precision:
            self.factor(weights, "w"), self.factor(activations, "a"), self.factor(kv, "kv")
            return
        for operand, bits in zip(OPERANDS, (weights, activations, kv)):
            label = OPERAND_LABEL[operand]
            f = self.factor(bits, operand)
            if np.any(f <= 0):
                bad = np.asarray(bits, dtype=float)[np.broadcast_to(f <= 0, np.shape(bits))] if np.ndim(bits) else bits
                threshold = self.domain_threshold(operand)
                raise PrecplanError(
                    f"{label} at {np.min(bad):g} bits is outside the domain of law {self.id!r}: its"
                    f" effective-parameter factor is <= 0 (the law needs {label} above {threshold:.3g} bits;"
                    " the paper's runs at such precisions diverged)"
                )

    def extrapolation_warnings(self, N: ArrayLike, D: ArrayLike, bits: ArrayLike | None = None) -> list[str]:
        """Warnings for requests inside the domain but outside the range the law was fit on, with
        the factor by which they lie outside (the rule: :mod:`precplan.laws._checks`)."""
        return _extrapolation_warnings(self, N, D, bits)
