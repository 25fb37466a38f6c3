"""The comparison table of ``optimize``: the same budget (or target, or limits) spent at other
training precisions, each with its own optimal N and D, next to the plan itself.

Which rows (:func:`compare_rows`):

- ``--compare`` given: those precisions;
- the candidates given as a list (``--precisions 4,8,16`` or ``int4,fp8-e4m3,bf16``, two or
  more): those candidates, labelled with their format names;
- otherwise 4, 8 and 16 bits (memory mode: the paper's memory-matched 4, 6, 8, 16, 32).

Every row is predicted by the law variant that serves it, as the candidates are
(:func:`precplan.laws._predict.law_for_weights`: a float weight format -> the law's float
variant). A plain bit count is predicted by the plan's own law family (the float variant when
every candidate is a float format), so a row at the plan's precision reproduces the plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from numpy.typing import NDArray

from precplan.laws import Law, law_for_weights
from precplan.optimize._result import Alternative
from precplan.optimize._problem import Problem
from precplan.optimize._split import solve_bits
from precplan.precision import Bits, Precision, parse_precision

__all__ = ["CompareRow", "Compared", "alternatives_at", "compare_columns", "compare_rows"]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class CompareRow:
    """One comparison row: its label, the law variant that predicts it and its (tied) bits."""

    label: str
    law: Law
    bits: float


def _is_named(p: Precision) -> bool:
    """A format name (int8, fp8-e4m3, bf16) rather than a plain bit count (8)."""
    return p.name != f"{p.bits:g}-bit"


def compare_rows(
    law: Law,
    family: Law,
    compare: Sequence[Precision | float | str] | None,
    listed: Sequence[Precision] | None,
    default: Sequence[float],
) -> tuple[CompareRow, ...]:
    """The rows, deduplicated by (law variant, bits) with their names joined (fp8-e4m3/fp8-e5m2).

    ``family`` predicts plain bit counts; named formats get ``law_for_weights(law, format)``."""
    if not law.has_precision:
        return (CompareRow("16-bit", law, 16.0),)
    if compare is not None:
        return _rows(law, family, [parse_precision(c) for c in compare])
    if listed is not None and len(rows := _rows(law, family, listed)) >= 2:
        return rows
    return _rows(law, family, [parse_precision(float(b)) for b in default])


def _rows(law: Law, family: Law, chosen: Sequence[Precision]) -> tuple[CompareRow, ...]:
    rows: dict[tuple[str, float], tuple[Law, list[str]]] = {}
    for p in chosen:
        variant = law_for_weights(law, p)[0] if _is_named(p) else family
        rows.setdefault((variant.id, p.bits), (variant, []))[1].append(p.name)
    ordered = sorted(rows.items(), key=lambda kv: kv[0][1])  # by bits; ties keep the order given
    return tuple(CompareRow("/".join(dict.fromkeys(names)), variant, bits) for (_, bits), (variant, names) in ordered)


@dataclass(frozen=True, eq=False)  # arrays: compare fields, not objects
class Compared:
    """One comparison row solved for every budget: arrays (one entry per budget) of its own
    optimal N, D, loss and lifetime FLOPs (NaN / +inf where infeasible)."""

    label: str
    law: str
    bits: float
    params: Array
    tokens: Array
    loss: Array
    total_flops: Array


def compare_columns(rows: Sequence[CompareRow], pb: Problem, budget: Array | None, n: int) -> list[Compared]:
    """Every comparison row at its own optimal N, D for each of ``n`` budgets (vectorized: one
    solve per law variant, budgets down, rows across)."""
    col = None if budget is None else budget[:, None]
    by_law: dict[str, tuple[Law, list[int]]] = {}
    for j, r in enumerate(rows):
        by_law.setdefault(r.law.id, (r.law, []))[1].append(j)
    out: dict[int, Compared] = {}
    for law, idx in by_law.values():
        cb = np.array([rows[j].bits for j in idx])
        s = solve_bits(law, pb, cb[None, :], cb[None, :], cb[None, :], col)
        for k, j in enumerate(idx):
            pick = lambda a: np.broadcast_to(a[:, k] if a.shape[0] == n else a[0, k], (n,))  # noqa: E731
            out[j] = Compared(rows[j].label, law.id, rows[j].bits, pick(s.params), pick(s.tokens), pick(s.loss), pick(s.total_flops))
    return [out[j] for j in range(len(rows))]


def alternatives_at(
    compared: Sequence[Compared], i: int, star_label: str, star_law: str, star_bits: Bits,
    star_params: float, star_tokens: float, star_loss: float, star_flops: float, target: bool,
) -> list[Alternative]:
    """Budget ``i``'s comparison table: each row at its own optimal N, D, then the plan itself."""
    row = [
        _alternative(c.label, c.law, Bits(c.bits, c.bits, c.bits), c.params[i], c.tokens[i], c.loss[i], c.total_flops[i],
                     star_loss, star_flops, target)
        for c in compared
    ]
    row.append(_alternative(star_label, star_law, star_bits, star_params, star_tokens, star_loss, star_flops, star_loss, star_flops, target))
    return row


def _alternative(label, law, bits, N, D, loss, flops, star_loss, star_flops, target) -> Alternative:
    ok = bool(np.isfinite(loss))
    num = lambda x: float(x) if ok else None  # noqa: E731
    return Alternative(
        label=label,
        bits=bits,
        feasible=ok,
        params=num(N),
        tokens=num(D),
        tokens_per_param=num(D / N) if ok else None,
        loss=num(loss),
        total_flops=num(flops),
        loss_gap=None if not ok or target else float(loss - star_loss),
        flops_ratio=None if not ok or star_flops <= 0 else float(flops / star_flops),
        law=law,
    )
