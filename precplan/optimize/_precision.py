"""Choosing the training precision: integer grid, explicit format lists, continuous refinement,
tied or untied (weights, activations and KV searched separately).

With N, D and P free under a compute budget the best P maximizes f(P) / P, effective parameters
per bit (Kumar et al. 2024, sec. 4.3; docs/science.md section 8), so it does not depend
on the budget: 7.00 bits for kumar2024. Untied, a matmul is paid at its widest operand
(cost bits = max(P_w, P_a, P_kv)); since each factor f_x grows with its bits, a pure compute
budget then still picks equal bits. Untied choices differ once memory (weights only) or
post-training quantization (robustness per operand, eq. 9) enters.

Every search is vectorized over budgets: candidates form one axis, refinement is a vectorized
golden-section line search (:func:`precplan.numerics.golden_min`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from precplan.laws._law import Law
from precplan.precision import OPERAND_LABEL, OPERANDS
from precplan.optimize._split import Problem, Split, solve_bits
from precplan.numerics import golden_min

Array = NDArray[np.float64]
# Directions for the untied continuous refinement: every non-empty subset of (w, a, kv), so a
# tie at the widest operand (the cost's kink) can move together.
DIRECTIONS = np.array([d for d in itertools.product((0.0, 1.0), repeat=3) if any(d)][::-1])


@dataclass(frozen=True)
class Choice:
    """The chosen bits per budget, shape (n, 3) (weights, activations, kv), and the split there."""

    bits: Array
    split: Split
    group: NDArray[np.int64]  # which candidate group (law variant) each budget's choice came from
    index: NDArray[np.int64]  # the chosen candidate's position among all groups' candidates


def integer_candidates(law: Law, lo: float, hi: float, untied: bool) -> tuple[Array, list[str]]:
    """Integer bits lo..hi, tied (k, 3) or every (w, a, kv) combination; infeasible ones (a factor
    <= 0: the law breaks down there) are dropped with a note."""
    values = np.arange(np.ceil(lo), np.floor(hi) + 1.0)
    notes: list[str] = []
    if not law.has_precision:
        return np.array([[16.0, 16.0, 16.0]]), notes
    if not untied:
        f = law.precision_factor(values, values, values)
        bad = values[f <= 0]
        if bad.size:
            worst = max(OPERANDS, key=lambda op: law.domain_threshold(op))
            notes.append(
                f"skipped {_list(bad)} bits: outside the law's domain (the effective-parameter factor is <= 0;"
                f" {OPERAND_LABEL[worst]} need more than {law.domain_threshold(worst):.3g} bits)"
            )
        good = values[f > 0]
        return np.repeat(good[:, None], 3, axis=1), notes
    per_operand = []
    for op in OPERANDS:
        f = law.factor(values, op)
        if np.any(f <= 0):
            notes.append(
                f"{OPERAND_LABEL[op]} at {_list(values[f <= 0])} bits skipped: outside the law's domain"
                f" ({OPERAND_LABEL[op]} need more than {law.domain_threshold(op):.3g} bits)"
            )
        per_operand.append(values[f > 0])
    grid = np.stack(np.meshgrid(*per_operand, indexing="ij"), axis=-1).reshape(-1, 3)
    return grid, notes


def _list(values: Array) -> str:
    return ", ".join(f"{v:g}" for v in values)


def choose(groups: list[tuple[Law, Array]], pb: Problem, budget: Array | None, n: int) -> Choice:
    """Best candidate per budget across groups of (law, candidate bits (k, 3))."""
    col = None if budget is None else budget[:, None]
    splits, bits, owner = [], [], []
    for g, (law, cand) in enumerate(groups):
        s = solve_bits(law, pb, cand[None, :, 0], cand[None, :, 1], cand[None, :, 2], col)
        splits.append(_broadcast(s, n))
        bits.append(cand)
        owner.append(np.full(len(cand), g))
    split = Split(*(np.concatenate([getattr(s, f) for s in splits], axis=1) for f in _FIELDS))
    all_bits, all_owner = np.concatenate(bits), np.concatenate(owner)
    # argmin takes the first of equal values: candidates run from low to high bits, so a tie
    # goes to the cheaper precision.
    best = np.argmin(split.objective(pb.mode), axis=1)
    return Choice(all_bits[best], _row(split, best), all_owner[best], best)


_FIELDS = ("params", "tokens", "loss", "train_flops", "inference_flops")


def _row(split: Split, best: NDArray[np.int64]) -> Split:
    return Split(*(np.take_along_axis(getattr(split, f), best[:, None], 1)[:, 0] for f in _FIELDS))


def _broadcast(s: Split, n: int) -> Split:
    return Split(*(np.broadcast_to(getattr(s, f), (n, getattr(s, f).shape[-1])) for f in _FIELDS))


def refine(law: Law, pb: Problem, budget: Array | None, start: Array, lo: float, hi: float, untied: bool) -> Array:
    """Continuous refinement of integer-optimal bits ``start`` (n, 3) within [lo, hi].

    Tied: golden section on P in [P0 - 1, P0 + 1]. Untied: rounds of golden line searches along
    each subset direction of (w, a, kv), which lets tied operands move together."""
    x = start.astype(float).copy()
    directions = DIRECTIONS if untied else DIRECTIONS[:1]  # first direction is (1, 1, 1)
    rounds = 2 if untied else 1
    col = None if budget is None else budget[:, None]

    def objective(bits: Array) -> Array:
        split = solve_bits(law, pb, bits[..., 0], bits[..., 1], bits[..., 2], col)
        return split.objective(pb.mode)

    for _ in range(rounds):
        for d in directions:
            active = d > 0
            t_lo = np.maximum(-1.0, np.max(np.where(active, lo - x, -np.inf), axis=1))
            t_hi = np.minimum(1.0, np.min(np.where(active, hi - x, np.inf), axis=1))
            base = x.copy()
            t, _ = golden_min(
                lambda t: objective(base[:, None, :] + t[..., None] * d), t_lo, np.maximum(t_hi, t_lo), grid=5, iters=40
            )
            x = base + t[:, None] * d
    return x


def point(law: Law, pb: Problem, budget: Array | None, bits: Array) -> Split:
    """The split at per-budget bits (n, 3)."""
    return solve_bits(law, pb, bits[:, 0], bits[:, 1], bits[:, 2], budget)
