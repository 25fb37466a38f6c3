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
# A mantissa: plain digits (1500, 1.5, .5), or digits in groups of three split by "," or "_"
# (1,500,000 or 1_500_000; never 1,5 or 1,50). ASCII only: no other scripts' digits.
_MANTISSA = r"(?:\d{1,3}(?:,\d{3})+|\d{1,3}(?:_\d{3})+|\d+)(?:\.\d+|\.)?|\.\d+"
_NUMBER = re.compile(rf"^\s*([+-]?(?:{_MANTISSA}))((?:[eE][+-]?\d+)?)\s*([A-Za-z]*)\s*$", re.ASCII)
EXAMPLES = "examples: 7B, 1.5T, 220M, 2e12, 1,500,000"
MAX_SWEEP = 10_000  # values in a START:STOP:COUNT sweep


def _split(text: str, what: str) -> tuple[float, str]:
    """(value, suffix) of a number as people write it; anything ambiguous is refused."""
    raw = str(text)
    m = _NUMBER.match(raw) if len(raw) <= 200 else None
    if not m:
        shown = raw if len(raw) <= 60 else raw[:40] + "..."
        raise PrecplanError(f"{what}: cannot read {shown!r} as a number ({EXAMPLES}){_hint(raw[:200])}")
    mantissa, exponent, suffix = m.groups()
    if suffix == "e" or (suffix[:1] == "e" and not exponent and suffix.upper() not in _BYTE_SUFFIX):
        raise PrecplanError(
            f"{what}: {raw!r} is ambiguous: an exponent needs its digits (2e12); for the exa suffix (1e18) write {mantissa}E"
        )
    value = float(mantissa.replace(",", "").replace("_", "") + exponent)
    if math.isinf(value):
        raise PrecplanError(f"{what}: {raw!r} is too large to be a number here ({EXAMPLES})")
    return value, suffix.upper()


def _hint(raw: str) -> str:
    """What was probably meant, for the few common mistakes."""
    t = raw.strip()
    if re.fullmatch(r"[+-]?\d+,\d{1,2}[A-Za-z]*|[+-]?\d+,\d{4,}[A-Za-z]*", t, re.ASCII):
        return "; a comma only separates thousands in groups of three (1,500,000): for a decimal write 1.5B, not 1,5B"
    if re.search(r"\d[,_]\d", t):
        return "; commas and underscores only separate thousands, in groups of three (1,500,000)"
    if t.lower() in ("nan", "inf", "+inf", "-inf", "infinity"):
        return "; it must be a finite number"
    if t.lower().startswith(("0x", "0o", "0b")):
        return "; write it in decimal"
    if any(ord(c) > 127 for c in t):
        return "; use ASCII digits"
    return ""


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
    try:  # a count as people write it (13, 1e3, 10K), whole
        n = parse_count(parts[2], what)
    except PrecplanError:
        n = 0.0
    count = int(n) if n == int(n) else 0
    if count < 2 or count > MAX_SWEEP:
        raise PrecplanError(f"{what}: the sweep COUNT must be a whole number from 2 to {MAX_SWEEP} (e.g. 13, 1e3 or 10K); got {parts[2]!r}")
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
