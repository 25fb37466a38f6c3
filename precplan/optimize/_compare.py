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

from precplan.laws._law import Law
from precplan.optimize._result import Alternative
from precplan.optimize._split import Problem, Split, solve_bits
from precplan.precision import Precision, parse_precision
from precplan.laws._variant import law_for_weights
from precplan.precision import Bits

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


def comparison(
    rows: Sequence[CompareRow],
    pb: Problem,
    budget: Array | None,
    star: Split,
    star_bits: Array,
    star_laws: Sequence[str],
    star_label: str,
) -> list[list[Alternative]]:
    """Per budget: each row at its own optimal N, D, then the plan (``star``, predicted by
    ``star_laws[i]``) itself."""
    col = None if budget is None else budget[:, None]
    by_law: dict[str, tuple[Law, list[int]]] = {}
    for j, r in enumerate(rows):
        by_law.setdefault(r.law.id, (r.law, []))[1].append(j)
    solved: dict[int, tuple[Split, int]] = {}
    for law, idx in by_law.values():
        cb = np.array([rows[j].bits for j in idx])
        s = solve_bits(law, pb, cb[None, :], cb[None, :], cb[None, :], col)
        for k, j in enumerate(idx):
            solved[j] = (s, k)
    target = pb.mode == "target-loss"
    out: list[list[Alternative]] = []
    for i in range(star_bits.shape[0]):
        row = []
        for j, r in enumerate(rows):
            s, k = solved[j]
            at = (min(i, s.params.shape[0] - 1), k)
            row.append(
                _alternative(r.label, r.law.id, Bits(r.bits, r.bits, r.bits), s.params[at], s.tokens[at], s.loss[at],
                             s.total_flops[at], star.loss[i], star.total_flops[i], target)
            )
        bits = Bits(*(float(x) for x in star_bits[i]))
        row.append(_alternative(star_label, star_laws[i], bits, star.params[i], star.tokens[i], star.loss[i], star.total_flops[i],
                                star.loss[i], star.total_flops[i], target))
        out.append(row)
    return out


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
