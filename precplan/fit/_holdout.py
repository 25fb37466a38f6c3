"""Held-out evaluation (Choshen et al. 2024, "A Hitchhiker's Guide to Scaling Law Estimation"):
fit on some runs, report the mean absolute relative error and R^2 on the others, typically the
largest models. ``params>=1e9`` selects runs to hold out; ``largest`` holds out the largest N."""

from __future__ import annotations

import operator
import re

import numpy as np

from precplan.errors import PrecplanError
from precplan.fit._table import COLUMNS, Runs
from precplan.units import parse_count

__all__ = ["holdout_mask", "parse_holdout"]

_OPS = {">=": operator.ge, "<=": operator.le, "==": operator.eq, ">": operator.gt, "<": operator.lt}
_EXPR = re.compile(r"^\s*([A-Za-z_]+)\s*(>=|<=|==|>|<)\s*([^<>=\s]\S*)\s*$")


def parse_holdout(expr: str) -> tuple[str, str, float]:
    """``params>=1e9`` -> (column, op, value). Numbers accept 1B, 220M, 1e9."""
    m = _EXPR.match(expr or "")
    if not m:
        raise PrecplanError(
            f"`holdout` {expr!r}: expected COLUMN OP NUMBER, e.g. \"params>=1e9\" (OP one of >=, >, <=, <, ==)"
        )
    column, op, text = m.groups()
    if column not in COLUMNS:
        raise PrecplanError(f"`holdout`: {column!r} is not a column (valid: {', '.join(COLUMNS)})")
    try:
        value = float(text)
    except ValueError:
        value = parse_count(text, "`holdout`")
    return column, op, value


def holdout_mask(runs: Runs, expr: str | None = None, largest: bool = False) -> np.ndarray | None:
    """Rows to hold out (``None`` when no holdout was asked for). Errors if it leaves nothing on
    either side."""
    if expr and largest:
        raise PrecplanError("give either `holdout` EXPR or `holdout_largest`, not both")
    if largest:
        mask = runs.params == runs.params.max()
        label = f"the largest model size ({runs.params.max():.4g} parameters)"
    elif expr:
        column, op, value = parse_holdout(expr)
        mask = _OPS[op](runs.column(column), value)
        label = f"runs with {column} {op} {value:g}"
    else:
        return None
    if not mask.any():
        raise PrecplanError(f"the holdout selects no runs ({label}); nothing would be held out")
    if mask.all():
        raise PrecplanError(f"the holdout selects every run ({label}); nothing would be left to fit on")
    return mask
