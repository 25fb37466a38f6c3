"""Runs as a table: the standard columns, the :class:`Runs` arrays, and the checks that turn
records (one dict per row, from CSV, JSON lines or a list) into validated columns. Shared by the
readers in :mod:`precplan.fit._runs` and the fast CSV path :mod:`precplan.fit._fastcsv`."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping

import numpy as np

from precplan.errors import PrecplanError
from precplan.precision import REFERENCE_BITS, parse_precision
from precplan.units import parse_count

__all__ = [
    "BITS", "COLUMNS", "MIN_LARGEST_PARAMS", "MIN_MOST_TOKENS", "OPTIONAL", "REQUIRED", "Runs",
    "build_runs", "check_duplicates", "scale_warnings",
]

REQUIRED = ("params", "tokens", "loss")
BITS = ("weight_bits", "activation_bits", "kv_bits")
OPTIONAL = BITS + ("post_bits", "post_loss")
COLUMNS = REQUIRED + OPTIONAL


@dataclass(frozen=True)
class Runs:
    """Runs as numpy arrays (one entry per row). Optional columns are ``None`` when the data has
    none; within a present column, NaN marks a row without a value (bits: high precision;
    post_bits/post_loss: no post-training quantization for that row)."""

    params: np.ndarray
    tokens: np.ndarray
    loss: np.ndarray
    weight_bits: np.ndarray | None = None
    activation_bits: np.ndarray | None = None
    kv_bits: np.ndarray | None = None
    post_bits: np.ndarray | None = None
    post_loss: np.ndarray | None = None
    lines: np.ndarray | None = None
    path: str | None = None
    n_source_rows: int = 0
    sha256: str = ""
    columns: Mapping[str, str] | None = None
    warnings: tuple[str, ...] = ()

    def __repr__(self) -> str:
        where = "" if self.path is None else f" from {self.path}"
        return f"<Runs: {len(self)} rows{where}>"

    def __len__(self) -> int:
        return int(self.params.shape[0])

    @property
    def n(self) -> int:
        return len(self)

    @property
    def source(self) -> dict[str, Any]:
        """Where the runs came from: what a fitted law file records as its provenance."""
        return {"path": self.path or "<records>", "rows": self.n_source_rows, "rows_used": self.n, "sha256": self.sha256}

    def bits(self, name: str) -> np.ndarray:
        """Training bits of one operand column with missing values read as the 16-bit reference."""
        col = getattr(self, name)
        if col is None:
            return np.full(self.n, REFERENCE_BITS)
        return np.where(np.isnan(col), REFERENCE_BITS, col)

    def training_bits(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.bits("weight_bits"), self.bits("activation_bits"), self.bits("kv_bits")

    @property
    def high_precision(self) -> np.ndarray:
        """Rows trained with every operand at >= 16 bits (or bits not given)."""
        w, a, kv = self.training_bits()
        return (w >= REFERENCE_BITS) & (a >= REFERENCE_BITS) & (kv >= REFERENCE_BITS)

    @property
    def has_post(self) -> np.ndarray:
        """Rows that carry a post-training-quantization measurement."""
        if self.post_bits is None or self.post_loss is None:
            return np.zeros(self.n, dtype=bool)
        return np.isfinite(self.post_bits) & np.isfinite(self.post_loss)

    def line(self, i: int) -> str:
        return f"line {int(self.lines[i])}" if self.lines is not None else f"row {i + 1}"

    def subset(self, mask: np.ndarray) -> "Runs":
        """The runs where ``mask`` holds (a boolean or index array)."""
        def pick(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[mask]

        return replace(
            self, params=self.params[mask], tokens=self.tokens[mask], loss=self.loss[mask],
            weight_bits=pick(self.weight_bits), activation_bits=pick(self.activation_bits),
            kv_bits=pick(self.kv_bits), post_bits=pick(self.post_bits), post_loss=pick(self.post_loss),
            lines=pick(self.lines),
        )

    def column(self, name: str) -> np.ndarray:
        """A standard column by name (bits columns with the reference filled in)."""
        if name in BITS:
            return self.bits(name)
        col = getattr(self, name, None) if name in COLUMNS else None
        if col is None:
            raise PrecplanError(f"the runs have no column {name!r} (they have: {', '.join(self.present_columns())})")
        return col

    def present_columns(self) -> list[str]:
        return [c for c in COLUMNS if getattr(self, c) is not None]


def _number(value: Any, where: str, column: str, kind: str) -> float:
    """One cell as a float: NaN when empty (callers decide whether that is allowed)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return math.nan
    if isinstance(value, bool):
        raise PrecplanError(f"{where}: {column} = {value!r} is not a number")
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    if kind == "bits":
        return parse_precision(text).bits
    try:
        return parse_count(text, column)
    except PrecplanError:
        raise PrecplanError(f"{where}: {column} = {text!r} is not a number (examples: 220M, 1.5e9, 3.21)") from None


def build_runs(records: list[dict[str, Any]], lines: list[int], header: Iterable[str],
           mapping: Mapping[str, str], where: str, digest: str) -> Runs:
    header = list(header)
    names = {c: mapping.get(c, c) for c in COLUMNS}
    used = [c for c in COLUMNS if names[c] in header or c in mapping]
    for i, c in enumerate(used):
        for other in used[:i]:
            if names[c] == names[other]:
                raise PrecplanError(
                    f"{where}: {other} and {c} would both read the column {names[c]!r}; map each standard column to"
                    " its own column with `columns` (e.g. params=Parameters,tokens=Tokens)"
                )
    for c in REQUIRED:
        if names[c] not in header:
            hint = f"; map it with --columns {c}=NAME" if c not in mapping else ""
            raise PrecplanError(
                f"{where}: no column {names[c]!r} for {c} (columns: {', '.join(header[:12])}"
                f"{', ...' if len(header) > 12 else ''}){hint}"
            )
    for c, name in mapping.items():
        if c not in REQUIRED and name not in header:
            raise PrecplanError(f"{where}: `columns` maps {c} to {name!r}, which is not a column ({', '.join(header[:12])})")
    present = [c for c in OPTIONAL if names[c] in header]
    if ("post_loss" in present) != ("post_bits" in present):
        raise PrecplanError(f"{where}: post_bits and post_loss go together (the precision quantized to after"
                            " training, and the loss reached); the data has only one of them")
    store_ptq = "ptq" in header and "post_bits" not in present
    rows: dict[str, list[float]] = {c: [] for c in COLUMNS}
    out_lines: list[int] = []
    warnings: list[str] = []
    diverged = 0
    for rec, line in zip(records, lines):
        here = f"{where}: line {line}"
        if _truthy(rec.get("diverged")):
            diverged += 1
            continue
        values = {c: _number(rec.get(names[c]), here, names[c], "bits" if c in BITS or c == "post_bits" else "count")
                  for c in REQUIRED + tuple(present)}
        for c in REQUIRED:
            v = values[c]
            if not math.isfinite(v):
                raw = rec.get(names[c])
                what = "empty" if raw is None or not str(raw).strip() else f"{raw!s} (not a finite number)"
                raise PrecplanError(f"{here}: {names[c]} is {what}; every run needs a finite positive {c}")
            if v <= 0:
                raise PrecplanError(f"{here}: {names[c]} = {v:g} must be positive")
        for c in present:
            v = values[c]
            if math.isinf(v) or (math.isfinite(v) and v <= 0) or (c in BITS + ("post_bits",) and v > 64):
                raise PrecplanError(f"{here}: {names[c]} = {v:g} is not valid ({'1..64 bits' if 'bits' in c else 'a positive loss'})")
        if "post_bits" in present and "post_loss" in present:
            if math.isnan(values["post_bits"]) != math.isnan(values["post_loss"]):
                raise PrecplanError(f"{here}: post_bits and post_loss must both be given or both be empty")
        expansions: list[tuple[float, float]] = [(values.get("post_bits", math.nan), values.get("post_loss", math.nan))]
        if store_ptq and rec.get("ptq"):
            expansions = _ptq_entries(rec["ptq"], here)
        for post_bits, post_loss in expansions:
            for c in COLUMNS:
                rows[c].append(values.get(c, math.nan))
            rows["post_bits"][-1], rows["post_loss"][-1] = post_bits, post_loss
            out_lines.append(line)
    if diverged:
        warnings.append(f"{diverged} diverged run{'s' if diverged != 1 else ''} skipped (marked diverged in {where})")
    if not out_lines:
        raise PrecplanError(f"{where}: no usable runs (all {len(records)} diverged)")
    arrays = {c: np.asarray(v, dtype=float) for c, v in rows.items()}
    warnings += scale_warnings(arrays["params"], arrays["tokens"], names)
    keep_post = "post_bits" in present or store_ptq
    runs = Runs(
        params=arrays["params"], tokens=arrays["tokens"], loss=arrays["loss"],
        **{c: (arrays[c] if c in present else None) for c in BITS},
        post_bits=arrays["post_bits"] if keep_post and np.isfinite(arrays["post_bits"]).any() else None,
        post_loss=arrays["post_loss"] if keep_post and np.isfinite(arrays["post_loss"]).any() else None,
        lines=np.asarray(out_lines), path=where, n_source_rows=len(records), sha256=digest,
        columns=dict(mapping) or None, warnings=tuple(warnings),
    )
    check_duplicates(runs, where)
    return runs


MIN_LARGEST_PARAMS = 1e4  # the smallest validate model has 25K parameters
MIN_MOST_TOKENS = 1e5  # validate's smoke runs see up to 262K tokens


def scale_warnings(params: np.ndarray, tokens: np.ndarray, names: Mapping[str, str]) -> list[str]:
    """Counts far too small for any language model are likely given in millions (or billions):
    the laws need raw counts, and a fit on scaled counts looks fine while meaning nothing."""
    small = []
    if params.max() < MIN_LARGEST_PARAMS:
        small.append(f"the largest model has {params.max():.4g} {names['params']}")
    if tokens.max() < MIN_MOST_TOKENS:
        small.append(f"the most {names['tokens']} any run saw is {tokens.max():.4g}")
    if not small:
        return []
    return [f"counts look like millions? {' and '.join(small)}; laws use raw counts (220M = 2.2e8)"]


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def _ptq_entries(ptq: Any, here: str) -> list[tuple[float, float]]:
    if not isinstance(ptq, Mapping):
        raise PrecplanError(f"{here}: ptq must be an object from post bits to post-PTQ loss, e.g. {{\"4\": 3.41}}")
    out = []
    for bits, loss in ptq.items():
        b = _number(bits, here, "ptq key", "bits")
        v = _number(loss, here, f"ptq[{bits}]", "count") if loss is not None else math.nan
        if not (math.isfinite(b) and 0 < b <= 64):
            raise PrecplanError(f"{here}: ptq key {bits!r} is not a bit count from 1 to 64")
        if not (math.isfinite(v) and v > 0):
            raise PrecplanError(f"{here}: ptq[{bits}] = {loss!r} is not a finite positive loss")
        out.append((b, v))
    return out or [(math.nan, math.nan)]


def check_duplicates(runs: Runs, where: str) -> None:
    cols = [runs.params, runs.tokens, runs.loss] + [
        np.nan_to_num(c, nan=-1.0) for c in (runs.weight_bits, runs.activation_bits, runs.kv_bits,
                                                runs.post_bits, runs.post_loss) if c is not None
    ]
    table = np.stack(cols, axis=1)
    _, first, counts = np.unique(table, axis=0, return_index=True, return_counts=True)
    if np.any(counts > 1):
        i = int(first[np.argmax(counts > 1)])
        dup = [j for j in range(runs.n) if np.array_equal(table[j], table[i])]
        raise PrecplanError(
            f"{where}: {runs.line(dup[0])} and {runs.line(dup[1])} are the same run (params {runs.params[i]:.4g},"
            f" tokens {runs.tokens[i]:.4g}, loss {runs.loss[i]:.6g}); remove the duplicate (repeats of a"
            " configuration are fine when their losses differ)"
        )
