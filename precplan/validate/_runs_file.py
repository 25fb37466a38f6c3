"""``validate --runs FILE``: a sweep read from a CSV of runs (what ``precplan propose --out``
writes for a validate store) instead of a preset, trained exactly as listed.

Columns: ``shape`` (a validate model shape, e.g. 25K), ``tokens`` (a whole number of batches of
``batch_size`` x ``seq_len``), and optionally ``weight_bits``, ``activation_bits``, ``kv_bits``,
``batch_size``, ``seq_len``, ``lr``, ``val_tokens``, ``seed`` (RunSpec's defaults otherwise);
``params``, when present, must be the shape's N; ``preset``, when one value for every row, names
the runs' preset (propose copies the store's, so the store's report merges them). Other columns
(flops, gpu_hours) are ignored.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from precplan.errors import PrecplanError

__all__ = ["preset_from_runs"]

_INT = ("tokens", "weight_bits", "activation_bits", "kv_bits", "batch_size", "seq_len", "val_tokens", "seed")


def preset_from_runs(path: str | Path):  # -> Preset
    """A :class:`Preset` named ``runs`` whose specs are the file's rows, in order.

    Raises
    ------
    PrecplanError
        Unreadable file, no ``shape``/``tokens`` column, an unknown shape, a params value that
        is not the shape's, tokens that are not whole batches, a non-numeric cell.
    """
    from dataclasses import fields

    from precplan.io import decode_text, read_regular_file
    from precplan.validate._model import SHAPES
    from precplan.validate._presets import Preset
    from precplan.validate._train import RunSpec

    p = Path(path)
    text = decode_text(read_regular_file(p, 1 << 24, "runs file", missing="no such file"), p, "save the runs as UTF-8 CSV")
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or not {"shape", "tokens"} <= set(rows[0]):
        raise PrecplanError(f"{p}: --runs needs a CSV with columns shape and tokens (precplan propose --out writes one for a validate store)")
    defaults = {f.name: f.default for f in fields(RunSpec)}
    specs = []
    for i, row in enumerate(rows, start=2):
        where = f"{p}: line {i}"
        shape = (row.get("shape") or "").strip()
        if shape not in SHAPES:
            raise PrecplanError(f"{where}: unknown shape {shape!r} (valid: {', '.join(SHAPES)})")
        kw: dict = {}
        try:
            for name in _INT:
                if (row.get(name) or "").strip():
                    value = float(row[name])
                    if value != int(value) or value < (0 if name == "seed" else 1):
                        raise ValueError
                    kw[name] = int(value)
            if (row.get("lr") or "").strip():
                kw["lr"] = float(row["lr"])
                if not 0 < kw["lr"] < 1:
                    raise ValueError
        except ValueError:
            raise PrecplanError(f"{where}: {name if 'lr' not in kw else 'lr'} must be a positive whole number (lr: in (0, 1))") from None
        if (row.get("params") or "").strip() and abs(float(row["params"]) - SHAPES[shape].params) > 0.5:
            raise PrecplanError(f"{where}: params {row['params']} is not shape {shape}'s {SHAPES[shape].params}")
        batch = kw.get("batch_size", defaults["batch_size"]) * kw.get("seq_len", defaults["seq_len"])
        if "tokens" not in kw or kw["tokens"] % batch:
            raise PrecplanError(f"{where}: tokens must be a whole number of batches of {batch} tokens (batch_size x seq_len)")
        specs.append(RunSpec(shape, **kw))
    names = {(r.get("preset") or "").strip() for r in rows}
    name = names.pop() if len(names) == 1 and "" not in names else "runs"  # the store's preset: its report stays one report
    return Preset(name, f"{len(specs)} runs from {p.name}", tuple(specs), 5e10, "cpu")
