"""What can be fitted from these runs: the stages of Kumar et al. 2024's procedure (base law on
high-precision runs, precision factors on quantized-training runs, PTQ term on post-training-
quantization measurements) and, within each, which coefficients the data identifies. Whatever
the data cannot identify is taken from a donor law (``--law``, else kumar2024) and labelled."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from precplan.errors import PrecplanError
from precplan.fit._table import Runs
from precplan.precision import REFERENCE_BITS
from precplan.laws import Law, load_law

__all__ = ["DEFAULT_DONOR", "FORMS_IN", "OPS", "OP_COLUMN", "OP_LABEL", "OUT_FORM", "Data", "Plan", "make_plan"]

FORMS_IN = ("auto", "chinchilla", "precision", "ptq")
OUT_FORM = {"chinchilla": "chinchilla", "precision": "precision", "ptq": "precision-ptq"}
OPS = ("w", "a", "kv")
OP_COLUMN = {"w": "weight_bits", "a": "activation_bits", "kv": "kv_bits"}
OP_LABEL = {"w": "weight", "a": "activation", "kv": "KV"}
DEFAULT_DONOR = "kumar2024"


@dataclass
class Data:
    """Runs arranged for staged fitting. A training run is a unique (N, D, bits, loss); rows that
    only add post-training-quantization measurements of it share its group."""

    runs: Runs
    group: np.ndarray   # (rows,) training run of each row
    rep: np.ndarray     # (G,) a representative row of each training run
    base: np.ndarray    # training runs (indices into G) at high precision
    quant: np.ndarray   # training runs with some operand below 16 bits
    post: np.ndarray    # rows with a PTQ measurement

    @classmethod
    def from_runs(cls, runs: Runs) -> "Data":
        w, a, kv = runs.training_bits()
        key = np.stack([runs.params, runs.tokens, w, a, kv, runs.loss], axis=1)
        _, rep, group = np.unique(key, axis=0, return_index=True, return_inverse=True)
        hp = runs.high_precision[rep]
        return cls(runs, group.reshape(-1), rep, np.flatnonzero(hp), np.flatnonzero(~hp), np.flatnonzero(runs.has_post))

    @property
    def n_training(self) -> int:
        return int(self.rep.size)

    def train(self, idx: np.ndarray) -> Runs:
        """The training runs ``idx`` (indices into G) as Runs."""
        return self.runs.subset(self.rep[idx])


@dataclass
class Plan:
    form: str                                  # the output law's form
    fit_base: bool
    prec_ops: list[str] = field(default_factory=list)          # operands in the precision model
    prec_gamma_free: dict[str, bool] = field(default_factory=dict)
    ptq_free: dict[str, bool] = field(default_factory=dict)    # PtqModel parameter -> fitted?
    base_law: Law | None = None
    precision_donor: Law | None = None
    ptq_donor: Law | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def stages(self) -> list[str]:
        out = ["base"] if self.fit_base else []
        if self.prec_ops:
            out.append("precision")
        if self.ptq_free:
            out.append("ptq")
        return out


def _donor(base_law: Law | None, need: str) -> Law:
    if base_law is not None and getattr(base_law, need):
        return base_law
    return load_law(DEFAULT_DONOR)


def make_plan(data: Data, form: str, base_law: Law | None, tie: bool) -> Plan:
    if form not in FORMS_IN:
        raise PrecplanError(f"`form` must be one of {', '.join(FORMS_IN)}; got {form!r}")
    runs = data.runs
    if form == "auto":
        form = "ptq" if data.post.size else ("precision" if data.quant.size else "chinchilla")
    if form == "chinchilla" and base_law is not None:
        raise PrecplanError("`base_law` supplies the base terms of a precision or ptq fit; `form` chinchilla fits the base law itself")
    plan = Plan(OUT_FORM[form], fit_base=base_law is None, base_law=base_law)
    if plan.fit_base:
        _check_base(data, tie)
    if form == "chinchilla":
        if data.quant.size:
            plan.warnings.append(f"{data.quant.size} run(s) trained below 16 bits are not used by `form` chinchilla")
        if data.post.size:
            plan.warnings.append(f"{data.post.size} post-training-quantization measurement(s) are not used by `form` chinchilla")
        return plan
    plan.precision_donor = _donor(base_law, "has_precision")
    if form == "precision" and data.quant.size == 0:
        raise PrecplanError("`form` precision needs runs trained below 16 bits (weight_bits, activation_bits or kv_bits < 16)")
    if data.quant.size:
        _plan_precision(data, plan)
    else:
        plan.notes.append(f"no run trained below 16 bits: the precision terms are taken from {plan.precision_donor.id}")
    if form == "precision":
        if data.post.size:
            plan.warnings.append(f"{data.post.size} post-training-quantization measurement(s) are not used by `form` precision")
        return plan
    if data.post.size == 0:
        raise PrecplanError("`form` ptq needs post_bits and post_loss (measurements after post-training quantization)")
    plan.ptq_donor = _donor(base_law, "has_ptq")
    _plan_ptq(data, plan)
    return plan


def _check_base(data: Data, tie: bool) -> None:
    base = data.train(data.base)
    n_coef = 4 if tie else 5
    if base.n == 0:
        raise PrecplanError(
            "no high-precision runs (all bits >= 16, or bits not given) to fit the base law on; pass `base_law`"
            " to take the base terms (E, A, B, alpha, beta) from a law"
        )
    for name, values in (("model sizes (params)", base.params), ("token counts (tokens)", base.tokens)):
        if np.unique(values).size < 2:
            raise PrecplanError(f"the base law needs high-precision runs at 2 or more {name}; these runs have one ({values[0]:.4g})")
    if base.n <= n_coef:
        raise PrecplanError(
            f"{base.n} high-precision run(s) cannot determine the base law's {n_coef} coefficients: a fit needs more runs than"
            " coefficients"
        )


def _plan_precision(data: Data, plan: Plan) -> None:
    quant = data.train(data.quant)
    taken = []
    for op in OPS:
        bits = quant.bits(OP_COLUMN[op])
        levels = np.unique(bits[bits < REFERENCE_BITS])
        if levels.size == 0:
            taken.append(op)
            continue
        plan.prec_ops.append(op)
        plan.prec_gamma_free[op] = levels.size >= 2
        if levels.size == 1:
            plan.warnings.append(
                f"{OP_LABEL[op]} precision is below 16 bits at one level only ({levels[0]:g} bits): n_{op} is fitted,"
                f" gamma_{op} is taken from {plan.precision_donor.id}"
            )
    if taken:
        names = ", ".join(f"gamma_{op}, n_{op}" for op in taken)
        what = "/".join(OP_LABEL[op] for op in taken)
        plan.notes.append(f"{names} taken from {plan.precision_donor.id} ({what} bits never go below 16 in the data)")
    n_free = sum(1 + plan.prec_gamma_free[op] for op in plan.prec_ops)
    if quant.n <= n_free:
        raise PrecplanError(
            f"{quant.n} quantized-training run(s) cannot determine {n_free} precision coefficients: a fit needs more runs than coefficients"
        )


def _plan_ptq(data: Data, plan: Plan) -> None:
    post = data.runs.subset(data.post)
    free = {"log_C_T": True}
    for name, values, what in (("gamma_D", post.tokens, "token count"), ("gamma_N", post.params, "model size"),
                               ("log_gamma_post", post.post_bits, "post-quantization precision")):
        free[name] = np.unique(values).size >= 2
        if not free[name]:
            coef = name.removeprefix("log_")
            plan.warnings.append(f"the PTQ measurements have one {what} only: {coef} is taken from {plan.ptq_donor.id}")
    assumed = []
    for op in OPS:
        gaps = post.bits(OP_COLUMN[op]) - post.post_bits
        varied = np.unique(gaps[gaps > 0]).size >= 2 and np.any(post.bits(OP_COLUMN[op]) < REFERENCE_BITS)
        free[f"log_C_{op}"] = bool(varied)
        if not varied:
            assumed.append(f"C_{op}")
    if assumed:
        plan.notes.append(
            f"{', '.join(assumed)} kept from {plan.ptq_donor.id} (source kept: the PTQ runs have no training-precision"
            " variation to fit them on)"
        )
    plan.notes.append(
        f"C_T and b_post enter the PTQ term only as the product C_T e^b_post: b_post is taken from {plan.ptq_donor.id}"
        " and C_T fitted"
    )
    n_free = sum(free.values())
    if post.n <= n_free:
        raise PrecplanError(
            f"{post.n} PTQ measurement(s) cannot determine {n_free} PTQ coefficients: a fit needs more measurements than coefficients"
        )
    plan.ptq_free = free
