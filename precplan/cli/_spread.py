"""The spread across laws: ``--law a,b,c`` on ``predict``, ``optimize`` and ``ptq-risk`` runs the
request once per law and shows one row per law side by side, with the spread (min..max and
the max/min ratio) of every headline number. JSON is the list of results, one per law; a law
that cannot answer the request (e.g. ``ptq-risk`` with a law without PTQ terms, or a law
without precision terms asked about 4-bit training) is an entry
``{"law": ..., "applicable": false, "reason": ...}`` and a "not applicable" row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from precplan.errors import PrecplanError

__all__ = ["Column", "NotApplicable", "band", "cell", "render_side_by_side", "run_each", "spread_text"]


@dataclass(frozen=True)
class NotApplicable:
    """A law in a ``--law`` list that cannot answer this request, and why."""

    law: str
    applicable: bool
    reason: str


@dataclass(frozen=True)
class Column:
    """One headline number: its header, the result attribute, the ``uncertainty`` key of its
    interval (if any), and the cell formatter."""

    header: str
    attr: str
    unc: str | None
    show: Callable[[float], str]


def run_each(laws: Sequence[Any], solve: Callable[[Any], Any]) -> list[Any]:
    """``solve(law)`` for every law, each result headed by its law's own warnings (composition,
    ...); a law that cannot answer becomes :class:`NotApplicable`. If none can, the first law's
    reason is the (one-line) error."""
    from precplan.cli._common import law_warnings

    out: list[Any] = []
    for law in laws:
        try:
            result = solve(law)
            result.warnings[:0] = law_warnings(law)
            out.append(result)
        except PrecplanError as exc:
            out.append(NotApplicable(law.id, False, str(exc)))
    if all(isinstance(r, NotApplicable) for r in out):
        raise PrecplanError(out[0].reason)
    return out


def print_spread_warnings(results: Sequence[Any]) -> None:
    """With --json, every law's warnings on stderr too (README: warnings go to stderr), once each."""
    from precplan.cli._common import print_json_warnings

    print_json_warnings(list(dict.fromkeys(w for r in results for w in (getattr(r, "warnings", None) or ()))))


def spread_text(values: Sequence[float], show: Callable[[float], str]) -> str:
    """``min..max (max/min = r x)`` of the finite positive values."""
    v = np.asarray([x for x in values if x is not None], dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return "-"
    lo, hi = float(v.min()), float(v.max())
    ratio = f" ({hi / lo:.3g}x)" if lo > 0 else ""
    return f"{show(lo)}..{show(hi)}{ratio}"


def band(unc: dict | None, key: str, show: Callable[[float], str]) -> str:
    """`` [lo, hi]`` of ``unc[key]`` (the uncertainty object of a result), or empty text."""
    if not unc or not unc.get(key):
        return ""
    lo, hi = unc[key]
    return f" [{show(lo)}, {show(hi)}]"


def cell(result: Any, col: Column) -> str:
    """The value with its interval, e.g. ``2.9080 [2.8849, 2.9311]``."""
    value = getattr(result, col.attr, None)
    if value is None:
        return "-"
    text = col.show(value)
    unc = getattr(result, "uncertainty", None)
    if unc and col.unc and unc.get(col.unc):
        lo, hi = unc[col.unc]
        text += f" [{col.show(lo)}, {col.show(hi)}]"
    return text


def render_side_by_side(title: str, results: Sequence[Any], columns: Sequence[Column]) -> None:
    """One row per law, then the spread row; each law's warnings (prefixed by the law) on stderr."""
    from precplan.cli._render import console, print_notes, print_warnings, table

    rows = []
    for r in results:
        if isinstance(r, NotApplicable):
            rows.append([r.law, "not applicable"] + [""] * (len(columns) - 1))
        else:
            rows.append([r.law] + [cell(r, c) for c in columns])
    ok = [r for r in results if not isinstance(r, NotApplicable)]
    if len(ok) > 1:
        rows.append(["[bold]spread (min..max, max/min)[/bold]"] + [spread_text([getattr(r, c.attr, None) for r in ok], c.show) for c in columns])
    levels = {r.uncertainty["level"] for r in ok if getattr(r, "uncertainty", None)}
    caption = f"\\[lo, hi]: central {levels.pop():.0%} interval over the law's coefficient samples" if len(levels) == 1 else None
    out = console()
    out.print(table(title, ["law"] + [c.header for c in columns], rows, caption))
    notes, warnings = [], []
    for r in results:
        if isinstance(r, NotApplicable):
            notes.append(f"{r.law}: not applicable: {r.reason}")
            continue
        notes += [f"{r.law}: {n}" for n in r.notes if "coefficient samples" in n or n.startswith("intervals:")]
        warnings += [f"{r.law}: {w}" for w in r.warnings]
    print_notes(dict.fromkeys(notes))
    print_warnings(dict.fromkeys(warnings))
