"""Reading, validating, composing and writing law files (YAML).

The format is documented in ``laws/README.md``. Every error names the file and the key.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np
import yaml

from precplan.errors import LawFileError, PrecplanError
from precplan.io import atomic_write_text, bundled_dir
from precplan.laws._format_law import FIT_CONDITION_KEYS, FORMAT_FORMS, FormatLaw
from precplan.laws._law import BASE, FORMS, SOURCES, Coefficient, Law, Samples

__all__ = [
    "COEF_KEYS", "MAX_LAW_BYTES", "MAX_LAW_DEPTH", "NON_NEGATIVE", "POSITIVE", "RANGE_KEYS", "REQUIRED_TOP",
    "SAMPLE_KEYS", "TOP_KEYS", "as_law", "bundled_names", "compose", "compose_samples", "dump_law", "law_from_mapping",
    "law_to_mapping", "laws_dir", "load_law", "parse_law_text", "read_law_file", "save_law",
]

TOP_KEYS = {
    "id", "title", "citation", "form", "description", "reference_bits", "weight_format",
    "float_variant", "coefficients", "fit_range", "notes", "provenance", "samples",
}
REQUIRED_TOP = ("id", "title", "citation", "form", "coefficients", "fit_range")
COEF_KEYS = {"value", "source", "ref", "note", "stderr"}
RANGE_KEYS = ("params", "tokens", "bits")
# Coefficients that must be positive (the rest, the offsets n_x and b_post, may take any sign).
POSITIVE = {"A", "B", "alpha", "beta", "gamma_w", "gamma_a", "gamma_kv", "gamma_post", "C_w", "C_a", "C_kv"}
NON_NEGATIVE = {"E", "C_T", "gamma_D", "gamma_N"}


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise LawFileError(f"{where}: {value!r} is not a number") from None
        else:
            raise LawFileError(f"{where}: {value!r} is not a number")
    v = float(value)
    if not math.isfinite(v):
        raise LawFileError(f"{where}: {value!r} is not a finite number")
    return v


def law_from_mapping(data: Mapping[str, Any], origin: str = "<memory>") -> Law:
    """Validate a parsed law file and build a :class:`Law`. Errors name ``origin`` and the key."""
    if not isinstance(data, Mapping):
        raise LawFileError(f"{origin}: a law file must be a mapping of keys (id, title, citation, form, ...)")
    if data.get("form") in FORMAT_FORMS:
        return format_law_from_mapping(data, origin)
    unknown = sorted((k for k in data if k not in TOP_KEYS), key=str)
    if unknown:
        raise LawFileError(f"{origin}: unknown key {unknown[0]!r} (valid keys: {', '.join(sorted(TOP_KEYS))})")
    for key in REQUIRED_TOP:
        if key not in data or data[key] is None:
            raise LawFileError(f"{origin}: missing key {key!r}")
    form = data["form"]
    if not isinstance(form, str) or form not in FORMS:
        raise LawFileError(f"{origin}: form: {form!r} is not a known form (valid: {', '.join(list(FORMS) + list(FORMAT_FORMS))})")
    coefs_in = data["coefficients"]
    if not isinstance(coefs_in, Mapping):
        raise LawFileError(f"{origin}: coefficients: must be a mapping from coefficient name to value")
    expected = FORMS[form]
    for name in coefs_in:
        if not isinstance(name, str) or name not in expected:
            raise LawFileError(
                f"{origin}: coefficients.{name}: unknown key for form {form!r} (valid: {', '.join(expected)})"
            )
    coefs: dict[str, Coefficient] = {}
    for name in expected:
        if name not in coefs_in:
            raise LawFileError(f"{origin}: coefficients.{name}: missing key (form {form!r} needs {', '.join(expected)})")
        coefs[name] = _coefficient(coefs_in[name], f"{origin}: coefficients.{name}", name)
    return Law(
        id=_text(data, "id", origin),
        title=_text(data, "title", origin),
        citation=_text(data, "citation", origin),
        form=form,
        coefficients=MappingProxyType(coefs),
        fit_range=MappingProxyType(_fit_range(data["fit_range"], form, origin)),
        reference_bits=_reference_bits(data.get("reference_bits", 16), origin),
        weight_format=_weight_format(data.get("weight_format", "int"), origin),
        float_variant=_optional_text(data, "float_variant", origin),
        description=str(data.get("description") or "").strip(),
        notes=_notes(data.get("notes"), origin),
        provenance=MappingProxyType(_provenance(data.get("provenance"), origin)),
        origin=origin,
        samples=_samples(data.get("samples"), coefs, origin),
    )


FORMAT_TOP_KEYS = {"id", "title", "citation", "form", "description", "coefficients", "fit_range", "fit_conditions", "notes"}


def format_law_from_mapping(data: Mapping[str, Any], origin: str = "<memory>") -> FormatLaw:
    """Validate a format-aware law file (form ``sun2025``, ``quartet`` or ``qat``) and build a
    :class:`~precplan.laws.FormatLaw`. Every coefficient needs a source, and ``fit_conditions``
    must state the data, model sizes, tokens, tensors quantized and whether quantization was
    simulated or native. Errors name ``origin`` and the key."""
    unknown = sorted((k for k in data if k not in FORMAT_TOP_KEYS), key=str)
    if unknown:
        raise LawFileError(f"{origin}: unknown key {unknown[0]!r} (valid keys: {', '.join(sorted(FORMAT_TOP_KEYS))})")
    for key in REQUIRED_TOP + ("fit_conditions",):
        if key not in data or data[key] is None:
            raise LawFileError(f"{origin}: missing key {key!r}")
    form = data["form"]
    coefs_in = data["coefficients"]
    if not isinstance(coefs_in, Mapping):
        raise LawFileError(f"{origin}: coefficients: must be a mapping from coefficient name to value")
    expected = FORMAT_FORMS[form]
    for name in coefs_in:
        if name not in expected:
            raise LawFileError(f"{origin}: coefficients.{name}: unknown key for form {form!r} (valid: {', '.join(expected)})")
    coefs: dict[str, Coefficient] = {}
    for name in expected:
        if name not in coefs_in:
            raise LawFileError(f"{origin}: coefficients.{name}: missing key (form {form!r} needs {', '.join(expected)})")
        coefs[name] = _coefficient(coefs_in[name], f"{origin}: coefficients.{name}", name)
        if coefs[name].value <= 0:
            raise LawFileError(f"{origin}: coefficients.{name}.value: must be positive, got {coefs[name].value:g}")
        if name.startswith("eff_") and coefs[name].value > 1:
            raise LawFileError(f"{origin}: coefficients.{name}.value: an efficiency lies in (0, 1], got {coefs[name].value:g}")
    cond = data["fit_conditions"]
    if not isinstance(cond, Mapping):
        raise LawFileError(f"{origin}: fit_conditions: must map {', '.join(FIT_CONDITION_KEYS)} to text")
    for key in cond:
        if key not in FIT_CONDITION_KEYS:
            raise LawFileError(f"{origin}: fit_conditions.{key}: unknown key (valid: {', '.join(FIT_CONDITION_KEYS)})")
    for key in FIT_CONDITION_KEYS:
        if not isinstance(cond.get(key), str) or not cond[key].strip():
            raise LawFileError(f"{origin}: fit_conditions.{key}: missing (state it as text)")
    return FormatLaw(
        id=_text(data, "id", origin),
        title=_text(data, "title", origin),
        citation=_text(data, "citation", origin),
        form=form,
        coefficients=MappingProxyType(coefs),
        fit_range=MappingProxyType(_fit_range(data["fit_range"], "chinchilla", origin)),
        fit_conditions=MappingProxyType({k: " ".join(cond[k].split()) for k in FIT_CONDITION_KEYS}),
        description=str(data.get("description") or "").strip(),
        notes=_notes(data.get("notes"), origin),
        origin=origin,
    )


SAMPLE_KEYS = ("method", "names", "values")


def _samples(value: Any, coefs: Mapping[str, Coefficient], origin: str) -> Samples | None:
    """The optional ``samples:`` block: ``method`` (how the rows were drawn, text), ``names``
    (coefficients of this law) and ``values``: one coefficient vector per row, either a list of
    lists or (compact, fast to load) a text block with one row of space-separated numbers per line."""
    if value is None:
        return None
    where = f"{origin}: samples"
    if not isinstance(value, Mapping):
        raise LawFileError(f"{where}: must map method, names and values (rows of coefficient vectors)")
    unknown = sorted(set(value) - set(SAMPLE_KEYS))
    if unknown:
        raise LawFileError(f"{where}.{unknown[0]}: unknown key (valid: {', '.join(SAMPLE_KEYS)})")
    for key in SAMPLE_KEYS:
        if value.get(key) is None:
            raise LawFileError(f"{where}.{key}: missing key")
    method = value["method"]
    if not isinstance(method, str) or not method.strip():
        raise LawFileError(f"{where}.method: must be text saying how the rows were drawn (e.g. 'bootstrap, 200 resamples')")
    names = value["names"]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise LawFileError(f"{where}.names: must be a list of coefficient names (e.g. [E, A, B, alpha, beta])")
    for n in names:
        if n not in coefs:
            raise LawFileError(f"{where}.names: {n!r} is not a coefficient of this law (valid: {', '.join(coefs)})")
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise LawFileError(f"{where}.names: {dup!r} appears twice")
    rows = value["values"]
    if isinstance(rows, str):  # the compact form: one row per line, numbers separated by spaces
        rows = [_text_row(line, i, where, names) for i, line in enumerate(rows.strip().splitlines())]
    if not isinstance(rows, list) or len(rows) < 2:
        raise LawFileError(
            f"{where}.values: must hold at least 2 rows of {len(names)} numbers (a list of lists, or text with one row per line)"
        )
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(names):
            got = f"{len(row)} values" if isinstance(row, list) else repr(row)
            raise LawFileError(f"{where}.values[{i}]: must list {len(names)} numbers (one per name: {', '.join(names)}), got {got}")
        for j, x in enumerate(row):
            if isinstance(x, bool) or not isinstance(x, (int, float)):
                raise LawFileError(f"{where}.values[{i}][{j}] ({names[j]}): {x!r} is not a number")
    arr = np.asarray(rows, dtype=float)
    bad = ~np.isfinite(arr)
    if bad.any():
        i, j = (int(k) for k in np.argwhere(bad)[0])
        raise LawFileError(f"{where}.values[{i}][{j}] ({names[j]}): {rows[i][j]!r} is not a finite number")
    for j, n in enumerate(names):
        col = arr[:, j]
        if (n in POSITIVE and np.any(col <= 0)) or (n in NON_NEGATIVE and np.any(col < 0)):
            i = int(np.argmax(col <= 0 if n in POSITIVE else col < 0))
            need = "positive" if n in POSITIVE else "non-negative"
            raise LawFileError(f"{where}.values[{i}][{j}] ({n}): must be {need}, got {col[i]:g}")
    return Samples(tuple(names), arr, method.strip())


def _text_row(line: str, i: int, where: str, names: list[str]) -> list[Any]:
    out: list[Any] = []
    for j, word in enumerate(line.split()):
        try:
            out.append(float(word))
        except ValueError:
            name = f" ({names[j]})" if j < len(names) else ""
            raise LawFileError(f"{where}.values[{i}][{j}]{name}: {word!r} is not a number") from None
    return out


def _provenance(value: Any, origin: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise LawFileError(f"{origin}: provenance: must be a mapping (e.g. fitted_to: runs.csv)")
    return {str(k): v for k, v in value.items()}


def _text(data: Mapping[str, Any], key: str, origin: str) -> str:
    value = data[key]
    if not isinstance(value, str) or not value.strip():
        raise LawFileError(f"{origin}: {key}: must be non-empty text")
    return value.strip()


def _optional_text(data: Mapping[str, Any], key: str, origin: str) -> str | None:
    return None if data.get(key) is None else _text(data, key, origin)


def _coefficient(entry: Any, where: str, name: str) -> Coefficient:
    if not isinstance(entry, Mapping):
        entry = {"value": entry, "source": None}
    unknown = sorted((k for k in entry if k not in COEF_KEYS), key=str)
    if unknown:
        raise LawFileError(f"{where}.{unknown[0]}: unknown key (valid: {', '.join(sorted(COEF_KEYS))})")
    if "value" not in entry:
        raise LawFileError(f"{where}.value: missing key")
    value = _number(entry["value"], f"{where}.value")
    if name in POSITIVE and value <= 0:
        raise LawFileError(f"{where}.value: must be positive, got {value:g}")
    if name in NON_NEGATIVE and value < 0:
        raise LawFileError(f"{where}.value: must be non-negative, got {value:g}")
    source = entry.get("source")
    if source not in SOURCES:
        raise LawFileError(f"{where}.source: {source!r} must be one of {', '.join(SOURCES)}")
    stderr = entry.get("stderr")
    return Coefficient(
        value=value,
        source=source,
        ref=str(entry.get("ref") or ""),
        note=str(entry.get("note") or "").strip(),
        stderr=None if stderr is None else _number(stderr, f"{where}.stderr"),
    )


def _fit_range(value: Any, form: str, origin: str) -> dict[str, tuple[float, float]]:
    if not isinstance(value, Mapping):
        raise LawFileError(f"{origin}: fit_range: must map params, tokens (and bits) to [low, high]")
    unknown = sorted((k for k in value if k not in RANGE_KEYS), key=str)
    if unknown:
        raise LawFileError(f"{origin}: fit_range.{unknown[0]}: unknown key (valid: {', '.join(RANGE_KEYS)})")
    needed = RANGE_KEYS if form != "chinchilla" else RANGE_KEYS[:2]
    out: dict[str, tuple[float, float]] = {}
    for key in RANGE_KEYS:
        if key not in value:
            if key in needed:
                raise LawFileError(f"{origin}: fit_range.{key}: missing key")
            continue
        pair = value[key]
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise LawFileError(f"{origin}: fit_range.{key}: must be a [low, high] pair")
        lo, hi = (_number(v, f"{origin}: fit_range.{key}") for v in pair)
        if not 0 < lo <= hi:
            raise LawFileError(f"{origin}: fit_range.{key}: needs 0 < low <= high, got [{lo:g}, {hi:g}]")
        out[key] = (lo, hi)
    return out


def _reference_bits(value: Any, origin: str) -> float | None:
    if value is None:
        return None
    bits = _number(value, f"{origin}: reference_bits")
    if not 1 <= bits <= 64:
        raise LawFileError(f"{origin}: reference_bits: must be from 1 to 64 bits, got {bits:g}")
    return bits


def _weight_format(value: Any, origin: str) -> str:
    if value not in ("int", "float"):
        raise LawFileError(f"{origin}: weight_format: {value!r} must be 'int' or 'float'")
    return str(value)


def _notes(value: Any, origin: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value.strip(),)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise LawFileError(f"{origin}: notes: must be a list of text lines")
    return tuple(v.strip() for v in value)


def law_to_mapping(law: Law) -> dict[str, Any]:
    """A :class:`Law` as plain data, ready for YAML (round-trips through :func:`law_from_mapping`)."""
    if isinstance(law, FormatLaw):
        return _format_law_to_mapping(law)
    coefs = _coefficients_to_mapping(law)
    out: dict[str, Any] = {
        "id": law.id,
        "title": law.title,
        "citation": law.citation,
        "form": law.form,
        "reference_bits": law.reference_bits,
        "weight_format": law.weight_format,
    }
    if law.float_variant:
        out["float_variant"] = law.float_variant
    if law.description:
        out["description"] = law.description
    out["coefficients"] = coefs
    out["fit_range"] = {k: [float(lo), float(hi)] for k, (lo, hi) in law.fit_range.items()}
    if law.notes:
        out["notes"] = list(law.notes)
    if law.provenance:
        out["provenance"] = dict(law.provenance)
    if law.samples is not None:
        out["samples"] = {"method": law.samples.method, "names": list(law.samples.names),
                          "values": law.samples.values.tolist()}
    return out


def _coefficients_to_mapping(law: Law | FormatLaw) -> dict[str, Any]:
    coefs: dict[str, Any] = {}
    for name, c in law.coefficients.items():
        entry: dict[str, Any] = {"value": float(c.value), "source": c.source}
        if c.ref:
            entry["ref"] = c.ref
        if c.note:
            entry["note"] = c.note
        if getattr(c, "stderr", None) is not None:
            entry["stderr"] = float(c.stderr)
        coefs[name] = entry
    return coefs


def _format_law_to_mapping(law: FormatLaw) -> dict[str, Any]:
    out: dict[str, Any] = {"id": law.id, "title": law.title, "citation": law.citation, "form": law.form}
    if law.description:
        out["description"] = law.description
    out["coefficients"] = _coefficients_to_mapping(law)
    out["fit_range"] = {k: [float(lo), float(hi)] for k, (lo, hi) in law.fit_range.items()}
    out["fit_conditions"] = dict(law.fit_conditions)
    if law.notes:
        out["notes"] = list(law.notes)
    return out


def dump_law(law: Law) -> str:
    """The YAML text of a law file (a coefficient sample last, one flow-style row per line)."""
    data = law_to_mapping(law)
    samples = data.pop("samples", None)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    if samples is not None:
        text += _dump_samples(samples)
    return text


def _dump_samples(samples: Mapping[str, Any]) -> str:
    head = yaml.safe_dump({"samples": {"method": samples["method"], "names": samples["names"]}},
                          sort_keys=False, allow_unicode=True, width=100, default_flow_style=None)
    rows = "".join("    " + " ".join(f"{x:.10g}" for x in row) + "\n" for row in samples["values"])
    return head + "  values: |\n" + rows  # one row per line: thousands of rows load fast


def save_law(law: Law, path: str | Path) -> Path:
    """Write a law file atomically (validated by reading it back first)."""
    text = dump_law(law)
    law_from_mapping(yaml.safe_load(text), str(path))
    return atomic_write_text(path, text)


# ------------------------------------------------------------------------ bundled laws
def laws_dir() -> Path:
    """Where the bundled law files live: inside the wheel, or ``laws/`` in a source checkout."""
    return bundled_dir("laws")


def bundled_names() -> list[str]:
    """Names of the bundled laws (file stems)."""
    return sorted(p.stem for p in laws_dir().glob("*.yaml"))


MAX_LAW_BYTES = 1 << 20  # a law file is a page of YAML (the bundled ones are under 10 KiB)
MAX_LAW_DEPTH = 32  # nesting levels (the format needs 4)


def parse_law_text(text: str, origin: str) -> Any:
    """The YAML data of a law file, refusing aliases, anchors, deep nesting and repeated keys
    (the one rule for YAML inputs: :func:`precplan.io.parse_yaml_text`)."""
    from precplan.io import parse_yaml_text

    try:
        return parse_yaml_text(text, origin, "law file", MAX_LAW_DEPTH)
    except PrecplanError as exc:
        raise LawFileError(str(exc)) from None


def read_law_file(path: str | Path) -> Law:
    """Parse and validate one law file: a regular file of at most 1 MiB of UTF-8 YAML."""
    from precplan.io import decode_text, read_regular_file

    p = Path(path)
    try:
        text = decode_text(read_regular_file(p, MAX_LAW_BYTES, "law file"), p, "a law file is UTF-8 YAML text")
    except PrecplanError as exc:
        raise LawFileError(str(exc)) from None
    return law_from_mapping(parse_law_text(text, str(p)), str(p))


@lru_cache(maxsize=64)
def _load_cached(name_or_path: str) -> Law:
    if not name_or_path.strip() or "\0" in name_or_path:
        raise PrecplanError(f"law {name_or_path!r}: not a law name or file (bundled: {', '.join(bundled_names())})")
    looks_like_path = name_or_path.endswith((".yaml", ".yml")) or "/" in name_or_path or "\\" in name_or_path
    if looks_like_path or _exists(name_or_path):
        return read_law_file(name_or_path)
    path = laws_dir() / f"{name_or_path}.yaml"
    if not path.is_file():
        raise PrecplanError(
            f"unknown law {name_or_path!r} (bundled: {', '.join(bundled_names())}; or pass a path to a .yaml law file)"
        )
    return read_law_file(path)


def _exists(path: str) -> bool:
    try:
        return os.path.isfile(path)
    except (OSError, ValueError):
        return False


def load_law(name_or_path: str | Law = "kumar2024", base: str | Law | None = None) -> Law:
    """Load a bundled law by name or a law file by path; with ``base``, compose (see :func:`compose`)."""
    law = name_or_path if isinstance(name_or_path, (Law, FormatLaw)) else _load_cached(str(name_or_path))
    if base is None:
        return law
    if isinstance(law, FormatLaw):
        raise PrecplanError(f"law {law.id!r} is format-aware and has its own base terms: it takes no base law")
    return compose(law, base if isinstance(base, Law) else _load_cached(str(base)))


def as_law(law: "Law | str") -> Law:
    """A :class:`Law` given as itself, a bundled name or a path to a law file."""
    return law if isinstance(law, (Law, FormatLaw)) else load_law(law)


def compose(precision_law: Law, base_law: Law) -> Law:
    """``base_law``'s base terms (E, A, B, alpha, beta) with ``precision_law``'s precision and PTQ
    terms. An assumption (the precision factors were fit against another base): say so in output."""
    coefs = dict(precision_law.coefficients)
    for name in BASE:
        coefs[name] = base_law.coefficients[name]
    fit_range = dict(precision_law.fit_range)
    fit_range["params"] = base_law.fit_range["params"]
    fit_range["tokens"] = base_law.fit_range["tokens"]
    base_id = base_law.composed_from[1] if base_law.composed_from else base_law.id
    note = (
        f"Composed: base terms (E, A, B, alpha, beta) from {base_id}, precision and PTQ terms from"
        f" {precision_law.id}. The composition is an assumption: the precision factors were fit against"
        f" {precision_law.id}'s base law."
    )
    return replace(
        precision_law,
        id=f"{precision_law.id}+{base_id}",
        title=f"{precision_law.title} on the base of {base_law.title.split(' on the base of ')[-1]}",
        citation=f"{precision_law.citation}; {base_law.citation}",
        coefficients=MappingProxyType(coefs),
        fit_range=MappingProxyType(fit_range),
        reference_bits=base_law.reference_bits if base_law.reference_bits is not None else precision_law.reference_bits,
        notes=(note,) + precision_law.notes,
        origin=f"{precision_law.origin} + {base_law.origin}",
        composed_from=(precision_law.id, base_id),
        samples=compose_samples(precision_law.samples, base_law.samples),
    )


def compose_samples(precision: Samples | None, base: Samples | None) -> Samples | None:
    """The samples of a composed law: the base law's for the base terms, the precision law's for
    the rest. When both carry samples, row i of one is paired with row i of the other (both are
    independent draws), keeping as many rows as the shorter has."""
    parts = [(s, [n for n in s.names if (n in BASE) == is_base]) for s, is_base in ((base, True), (precision, False)) if s is not None]
    parts = [(s, names) for s, names in parts if names]
    if not parts:
        return None
    if len(parts) == 1:
        s, names = parts[0]
        return Samples(tuple(names), s.values[:, [s.names.index(n) for n in names]], s.method)
    count = min(s.count for s, _ in parts)
    names = tuple(n for _, ns in parts for n in ns)
    values = np.concatenate([s.values[:count, [s.names.index(n) for n in ns]] for s, ns in parts], axis=1)
    method = "; ".join(f"{', '.join(ns)}: {s.method}" for s, ns in parts) + f" (rows paired, {count} kept)"
    return Samples(names, values, method)
