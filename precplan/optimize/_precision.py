"""Choosing the training precision: integer grid, explicit format lists, continuous refinement,
tied or untied (weights, activations and KV searched separately).

With N, D and P free under a compute budget the best P maximizes f(P) / P, effective parameters
per bit (Kumar et al. 2024, sec. 4.3; docs/science.md section 8), so it does not depend
on the budget: 7.00 bits for kumar2024. Untied, a matmul is paid at its widest operand
(cost bits = max(P_w, P_a, P_kv)); since each factor f_x grows with its bits, a pure compute
budget then still picks equal bits. Untied choices differ once memory (weights only) or
post-training quantization (robustness per operand, eq. 9) enters.

Every search is vectorized over budgets: candidates form one axis, refinement is a vectorized
golden-section line search (:func:`precplan.numerics.golden_min`). Large (untied) grids are
first pruned of candidates another one beats at every budget (:func:`undominated`), then
screened per budget by a cheap lower bound of each candidate's loss (:func:`_solve_screened`),
so only candidates that can be the best are solved.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from precplan.laws import Law
from precplan.precision import OPERAND_LABEL, OPERANDS
from precplan.costs import infer_coef
from precplan.optimize._memory import params_cap
from precplan.optimize._closed import budget_floor
from precplan.optimize._problem import Problem
from precplan.optimize._split import Split, solve_bits
from precplan.numerics import golden_min

__all__ = [
    "DIRECTIONS", "SCREEN_MARGIN", "SCREEN_MIN_CANDIDATES", "Choice", "choose", "integer_candidates", "point",
    "refine", "undominated",
]

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
    """Best candidate per budget across groups of (law, candidate bits (k, 3)).

    Large grids (untied) are first pruned of candidates another one beats whatever the budget
    (:func:`undominated`), and in budget mode screened per budget by a lower bound
    (:func:`_solve_screened`); both only drop candidates that cannot be (or tie with) the best."""
    col = None if budget is None else budget[:, None]
    splits, index, bits, owner = [], [], [], []
    offset, identity = 0, True  # identity: every candidate solved, in order (column = candidate)
    for g, (law, cand) in enumerate(groups):
        keep = np.flatnonzero(undominated(law, pb, cand)) if len(cand) >= SCREEN_MIN_CANDIDATES else np.arange(len(cand))
        sub = cand[keep]
        if _screened(pb, budget, sub):
            s, pos = _solve_screened(law, pb, sub, col, n)
            index.append(offset + keep[pos])
            identity = False
        else:
            s = _broadcast(solve_bits(law, pb, sub[None, :, 0], sub[None, :, 1], sub[None, :, 2], col), n)
            index.append(np.broadcast_to(offset + keep, (n, len(sub))))
            identity &= len(sub) == len(cand)
        splits.append(s)
        bits.append(cand)
        owner.append(np.full(len(cand), g))
        offset += len(cand)
    split = Split(*(np.concatenate([getattr(s, f) for s in splits], axis=1) for f in _FIELDS))
    all_bits, all_owner = np.concatenate(bits), np.concatenate(owner)
    # argmin takes the first of equal values: candidates run from low to high bits (and stay in
    # that order after pruning), so a tie goes to the cheaper precision.
    best = np.argmin(split.objective(pb.mode), axis=1)
    chosen = best if identity else np.take_along_axis(np.concatenate(index, axis=1), best[:, None], 1)[:, 0]
    return Choice(all_bits[chosen], _row(split, best), all_owner[chosen], chosen)


_FIELDS = ("params", "tokens", "loss", "train_flops", "inference_flops")
SCREEN_MIN_CANDIDATES = 64  # grids this large (untied) are pruned and screened
SCREEN_MARGIN = 1e-12  # relative slack on the screen's comparison (rounding in the bound's formula)


def undominated(law: Law, pb: Problem, cand: Array) -> NDArray[np.bool_]:
    """Which candidates no other candidate beats at every budget.

    Y beats X when it costs no more to train (c_tr), to serve (the inference cost's coefficients)
    and in memory (a cap on N at least X's), and has strictly more effective parameters per
    parameter (f, Kumar et al. 2024 eq. 5) and, with PTQ, no larger a PTQ coefficient
    (eqs. 8-9 at N = D = 1). Then Y reaches any (N, D) X can, with a lower loss (and, for a
    target loss, a lower cost): X is never the best nor tied with it. With PTQ the loss can rise
    with D, so under a budget with a fixed N or a memory cap nothing is pruned. Nor is anything
    when the law's coefficient samples change f or the PTQ coefficient across samples.

    Candidates with equal costs form groups; within a group, X is dropped when a candidate with a
    strictly larger f has a PTQ coefficient no larger (all zero without PTQ)."""
    keep = np.ones(len(cand), dtype=bool)
    w, a, kv = cand[:, 0], cand[:, 1], cand[:, 2]
    capped = pb.memory is not None or pb.serve_memory is not None
    if pb.post is not None and pb.mode == "budget" and pb.tokens is None and (pb.params is not None or capped):
        return keep
    c_tr, ps, ws, ks = pb.costs(w, a, kv)
    features = [c_tr, -params_cap(w, pb.memory, pb.serve_memory, pb.post, pb.kv_memory, ks)]
    serving = pb.inference_tokens > 0 and (pb.mode != "budget" or pb.budget_inference)
    if serving:
        features += [infer_coef(ps)] if pb.hardware is None else list(np.broadcast_arrays(*pb.hardware.infer_terms(1.0, ps, ws, ks)))
    lw = law.lift(2)
    f = np.atleast_2d(lw.precision_factor(w[None, :], a[None, :], kv[None, :]))
    K = np.zeros_like(f)
    if pb.post is not None and law.has_ptq:
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            K = np.atleast_2d(lw.ptq_degradation(np.ones(1), np.ones(1), pb.post, w[None, :], a[None, :], kv[None, :]))
    if np.any(np.ptp(f, axis=0) != 0) or np.any(np.ptp(K, axis=0) != 0) or not np.all(f[0] > 0):
        return keep
    f, K = f[0], np.where(np.isnan(K[0]), np.inf, K[0])
    _, group = np.unique(np.column_stack(features), axis=0, return_inverse=True)
    group = group.ravel()
    order = np.lexsort((-f, group))  # by group, then f descending
    g, fs = group[order], f[order]
    _, k_rank = np.unique(K[order], return_inverse=True)
    k_rank = k_rank.ravel()
    k = len(cand)
    # prefix minimum of the PTQ coefficient's rank within each group (later groups offset below)
    running = np.minimum.accumulate(k_rank - g * k) + g * k
    i = np.arange(k)
    new_group = np.r_[True, g[1:] != g[:-1]]
    new_tie = new_group | np.r_[True, fs[1:] != fs[:-1]]
    tie_start = np.maximum.accumulate(np.where(new_tie, i, 0))  # first index of each f-tie block
    has_better = ~new_group[tie_start]  # some candidate in the group has a strictly larger f
    best_better = running[np.maximum(tie_start - 1, 0)]
    dominated = has_better & (best_better <= k_rank)
    keep[order[dominated]] = False
    return keep


def _screened(pb: Problem, budget: Array | None, cand: Array) -> bool:
    """Whether the budget-mode solve is worth screening: a large (untied) grid of candidates. (With
    inference demand or PTQ the bound is loose: most of a tied grid's candidates survive it.)"""
    if budget is None or pb.mode != "budget" or pb.params is not None or pb.tokens is not None:
        return False
    return len(cand) >= SCREEN_MIN_CANDIDATES


def _solve_screened(law: Law, pb: Problem, cand: Array, col: Array, n: int) -> tuple[Split, NDArray[np.intp]]:
    """:func:`solve_bits` for the candidates that can win at each budget: the split (n, m) and
    which candidates (positions in ``cand``) its columns are.

    A lower bound of each candidate's loss (:func:`precplan.optimize._closed.budget_floor`: the
    optimum without the inference and PTQ terms, cheap) ranks them; the best-ranked one per
    budget is solved, and its loss is an upper bound on the best. Only candidates whose lower
    bound does not exceed it can be the best (or tie with it); they are solved, in candidate
    order, each row padded with repeats of its first survivor."""
    lb = np.broadcast_to(budget_floor(law, pb, cand[None, :, 0], cand[None, :, 1], cand[None, :, 2], col), (n, len(cand)))
    first = np.argmin(lb, axis=1)
    s1 = solve_bits(law, pb, cand[first, 0][:, None], cand[first, 1][:, None], cand[first, 2][:, None], col)
    ub = np.broadcast_to(s1.objective(pb.mode), (n, 1))
    keep = lb <= ub * (1.0 + SCREEN_MARGIN)
    keep[np.arange(n), first] = True
    m = int(keep.sum(axis=1).max())
    order = np.argsort(~keep, axis=1, kind="stable")[:, :m]  # each row's survivors first, in candidate order
    sel = np.where(np.take_along_axis(keep, order, 1), order, order[:, :1])  # pad with a survivor
    s2 = _broadcast(solve_bits(law, pb, cand[sel, 0], cand[sel, 1], cand[sel, 2], col), n)
    return s2, sel


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
