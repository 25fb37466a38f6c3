"""Numbers as people write them: ``7B``, ``1.5T``, ``220M``, ``2e12``, ``880MB``, ``1.5GiB``.

Counts (parameters, tokens, FLOPs) take decimal suffixes K, M, B (or G), T, P, E.
Sizes in bytes take B, KB/MB/GB/TB (decimal) or KiB/MiB/GiB/TiB (binary).
A sweep is ``START:STOP:COUNT`` (log-spaced, both ends included).
"""

from __future__ import annotations

import math
import re

import numpy as np

from precplan.errors import PrecplanError

_COUNT_SUFFIX = {"": 1.0, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
_BYTE_SUFFIX = {
    "B": 1.0, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "PB": 1e15,
    "KIB": 2.0**10, "MIB": 2.0**20, "GIB": 2.0**30, "TIB": 2.0**40, "PIB": 2.0**50,
}
_NUMBER = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*([A-Za-z]*)\s*$")


def _split(text: str, what: str) -> tuple[float, str]:
    m = _NUMBER.match(str(text).replace("_", "").replace(",", ""))
    if not m:
        raise PrecplanError(f"{what}: cannot read {text!r} as a number (examples: 7B, 1.5T, 220M, 2e12)")
    return float(m.group(1)), m.group(2).upper()


def _check_positive(value: float, text: str, what: str) -> float:
    if not math.isfinite(value) or value <= 0:
        raise PrecplanError(f"{what} must be a positive number, got {text!r}")
    return value


def parse_count(text: str | float, what: str = "value") -> float:
    """A positive count: ``7B`` -> 7e9, ``1.5T`` -> 1.5e12, ``1e21`` -> 1e21."""
    if isinstance(text, (int, float)):
        return _check_positive(float(text), str(text), what)
    value, suffix = _split(text, what)
    if suffix not in _COUNT_SUFFIX:
        raise PrecplanError(
            f"{what}: unknown suffix {suffix!r} in {text!r} (use K, M, B, T, P, or a plain number like 2e12)"
        )
    return _check_positive(value * _COUNT_SUFFIX[suffix], text, what)


def parse_bytes(text: str | float, what: str = "size") -> float:
    """A positive size in bytes: ``880MB`` -> 8.8e8, ``1.5GiB`` -> 1.5 * 2**30, ``8e9`` -> 8e9."""
    if isinstance(text, (int, float)):
        return _check_positive(float(text), str(text), what)
    value, suffix = _split(text, what)
    if suffix == "":
        return _check_positive(value, text, what)
    if suffix not in _BYTE_SUFFIX:
        raise PrecplanError(f"{what}: unknown unit {suffix!r} in {text!r} (use B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)")
    return _check_positive(value * _BYTE_SUFFIX[suffix], text, what)


def parse_count_or_sweep(text: str, what: str = "value") -> np.ndarray:
    """One count, or a log-spaced sweep ``1e19:1e25:13`` (13 values, both ends included)."""
    parts = str(text).split(":")
    if len(parts) == 1:
        return np.array([parse_count(parts[0], what)])
    if len(parts) != 3:
        raise PrecplanError(f"{what}: a sweep is START:STOP:COUNT, e.g. 1e19:1e25:13; got {text!r}")
    start, stop = parse_count(parts[0], what), parse_count(parts[1], what)
    try:
        count = int(parts[2])
    except ValueError:
        count = 0
    if count < 2 or count > 1_000_000:
        raise PrecplanError(f"{what}: the sweep COUNT must be a whole number from 2 to 1000000; got {parts[2]!r}")
    if stop <= start:
        raise PrecplanError(f"{what}: a sweep needs STOP > START; got {text!r}")
    return np.logspace(math.log10(start), math.log10(stop), count)


def format_count(value: float, unit: str = "") -> str:
    """``7.0e9`` -> ``7.00B``; for tables."""
    v = float(value)
    if not math.isfinite(v):
        return str(v)
    for suffix, scale in (("E", 1e18), ("P", 1e15), ("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(v) >= scale:
            return f"{v / scale:.3g}{suffix}{unit}"
    return f"{v:.3g}{unit}"


def format_bytes(value: float) -> str:
    """``8.8e8`` -> ``880MB`` (decimal units)."""
    v = float(value)
    for suffix, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if abs(v) >= scale:
            return f"{v / scale:.3g}{suffix}"
    return f"{v:.3g}B"
