"""Training curves of a results store, as ``precplan fit --curves`` reads them.

``precplan validate`` measures the validation loss at a few evenly spaced checkpoints of every
run (``--checkpoints``, recorded as ``checkpoints`` in the run's store line); this module turns a
store's runs into the curves format of :mod:`precplan.fit._curves` (one row per checkpoint:
``run,params,tokens_seen,loss,step,weight_bits,activation_bits,kv_bits``), so the law can be
fitted on whole curves (Choshen et al. 2024, "A Hitchhiker's Guide to Scaling Law Estimation",
arXiv 2410.11840). Only the base-training curve is exported: the post-training-quantization
losses are measured once, after training, and are not points of a curve.

Every run gives its checkpoints before the final step, then one row for its final loss at the
tokens it was trained on (the last checkpoint is that final evaluation, so it is not repeated).
A run recorded without checkpoints (a store written before they were recorded, or a sweep run
with ``--checkpoints 0``) gives its final loss only: a curve of one point, which the fit weighs
as one run like any other. Diverged runs have no final loss and are left out.

No torch here: the export reads the store only.
"""

from __future__ import annotations

import csv
import io
import math
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from precplan.errors import PrecplanError
from precplan.records import check_records
from precplan.io import atomic_write_text

__all__ = [
    "CHECKPOINTS", "COLUMNS", "FINAL_ONLY_NOTE", "FIT_NOTE", "MAX_CHECKPOINTS", "MIN_TOKENS", "SKIP_FRACTION",
    "SUFFIXES", "CurveExport", "check_curves_path", "checkpoint_steps", "curve_rows", "curves_text", "fit_args",
    "fit_command", "fit_note", "write_curves",
]

CHECKPOINTS = 4  # validation-loss checkpoints per run (--checkpoints): 3 passes more than the final evaluation
MAX_CHECKPOINTS = 100  # each one before the final step is a full pass over the validation set
COLUMNS = ("run", "params", "tokens_seen", "loss", "step", "weight_bits", "activation_bits", "kv_bits")
SUFFIXES = (".csv", ".tsv")
# The fit options the export recommends for validate's curves (one place; printed with the file).
# validate's runs see 3e4-4e8 tokens, so fit's --min-tokens default (1e10, Choshen et al.'s choice for
# runs of 1e11+ tokens) would drop every checkpoint: 0 keeps them, and the early part of each curve is
# dropped by fraction instead. Under validate's cosine schedule an intermediate checkpoint sits above
# the loss of a run trained to that many tokens (its learning rate has not decayed yet), the more so
# the earlier it is. Measured (docs/science.md section 11): fitting on the smoke and quick presets'
# 16-bit runs and predicting a held-out larger model, keeping each run's last quarter had the lowest
# held-out error of the curve fits in 3 of 4 comparisons, and the final losses alone beat every curve
# fit in one of the 3 splits: hence the advice to compare under --holdout-largest.
MIN_TOKENS = "0"
SKIP_FRACTION = "0.75"
FIT_NOTE = (f"--min-tokens {MIN_TOKENS}: these runs see far fewer than fit's default 1e10 tokens; --skip-fraction"
            f" {SKIP_FRACTION}: only the last quarter of each run (its earlier checkpoints, taken before the learning rate"
            " decayed, sit above the loss of a run trained to that many tokens); compare with a fit of the final losses"
            " (precplan fit DIR) under --holdout-largest")


def checkpoint_steps(steps: int, count: int) -> list[int]:
    """The steps after which the validation loss is measured: ``count`` evenly spaced steps,
    ceil(k * steps / count) for k = 1..count, the last being the final step (fewer, without
    repeats, when the run has fewer steps than ``count``; none for ``count`` 0).

    Evenly spaced, not geometric: the fit drops the early part of every curve (``--skip-fraction``,
    Choshen et al. 2024), where a geometric spacing would put most of its checkpoints, and the
    final checkpoint costs nothing (it is the run's final evaluation)."""
    if count < 0:
        raise ValueError(f"checkpoints must be >= 0; got {count}")
    return sorted({-(-k * steps // count) for k in range(1, count + 1)}) if count and steps else []


@dataclass
class CurveExport:
    """The curves rows of a store and what went into them."""

    rows: list[dict[str, Any]]
    runs: int  # runs with at least one row
    with_checkpoints: int  # of them, runs that recorded checkpoints before the final step
    final_only: int  # runs with no checkpoints recorded: their final loss only
    diverged: int  # runs left out (no final loss)
    dropped_checkpoints: int = 0  # checkpoints with a non-finite loss, left out
    notes: list[str] = field(default_factory=list)


def _number(v: Any) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)


def _checkpoints_of(rec: dict[str, Any]) -> list[dict[str, Any]] | None:
    """A record's checkpoints (None when it has none recorded), checked: a malformed entry is an
    error naming the run."""
    raw = rec.get("checkpoints")
    if raw is None:
        return None
    rid = rec.get("run_id")
    if not isinstance(raw, list):
        raise PrecplanError(f"run {rid!r}: checkpoints = {raw!r} is not a list of {{step, tokens_seen, loss}} objects")
    out = []
    for c in raw:
        ok = (isinstance(c, dict) and isinstance(c.get("step"), int) and not isinstance(c.get("step"), bool)
              and c["step"] >= 1 and _number(c.get("tokens_seen")) and c["tokens_seen"] > 0
              and (c.get("loss") is None or (_number(c["loss"]) and c["loss"] > 0)))
        if not ok:
            raise PrecplanError(f"run {rid!r}: checkpoint {c!r} is not {{step: whole number >= 1, tokens_seen: positive"
                                " number, loss: positive number or null}}; is this a store written by precplan validate?")
        out.append(c)
    return out


def _check_story(rows: list[dict[str, Any]], run: str) -> None:
    """One run's checkpoints (sorted by tokens seen): one loss per tokens_seen, and the step
    never falling while tokens_seen rises (refused: the export would feed ``fit`` nonsense)."""
    for a, b in zip(rows, rows[1:]):
        if a["tokens_seen"] == b["tokens_seen"] and a["loss"] != b["loss"]:
            raise PrecplanError(f"run {run!r}: two checkpoints at {a['tokens_seen']:.6g} tokens seen with different losses"
                                f" ({a['loss']:.6g} and {b['loss']:.6g}); the store is inconsistent, not exported")
        sa, sb = a.get("step"), b.get("step")
        if isinstance(sa, (int, float)) and isinstance(sb, (int, float)) and b["tokens_seen"] > a["tokens_seen"] and sb < sa:
            raise PrecplanError(f"run {run!r}: step falls from {sa} to {sb} while tokens seen rise; the store is"
                                " inconsistent, not exported")


def curve_rows(records: Sequence[dict[str, Any]]) -> CurveExport:
    """The curves rows of ``records`` (store records of ``precplan validate``): per run, its
    checkpoints before the final step, then its final loss; runs in store order, each sorted by
    tokens seen.

    Parameters
    ----------
    records
        Store records (:func:`precplan.validate._store.read_folders`).

    Returns
    -------
    CurveExport
        The rows (keys :data:`COLUMNS`) and counts of what went in.
    """
    check_records(records)
    rows: list[dict[str, Any]] = []
    runs = with_ckpt = final_only = diverged = dropped = 0
    for rec in records:
        if rec.get("diverged") or not _number(rec.get("loss")):
            diverged += 1
            continue
        ckpts = _checkpoints_of(rec)
        tokens = rec["tokens"]
        steps = (rec.get("config") or {}).get("steps")
        bits = {k: int(rec.get(k, 16)) for k in ("weight_bits", "activation_bits", "kv_bits")}
        base = {"run": str(rec["run_id"]), "params": rec["params"], **bits}
        mine = []
        for c in ckpts or []:
            if c["tokens_seen"] >= tokens:  # the final evaluation: written from the run's loss below
                continue
            if c["loss"] is None:
                dropped += 1
                continue
            mine.append({**base, "tokens_seen": c["tokens_seen"], "loss": c["loss"], "step": c["step"]})
        mine.sort(key=lambda r: r["tokens_seen"])
        _check_story(mine, base["run"])
        mine.append({**base, "tokens_seen": tokens, "loss": rec["loss"], "step": steps if isinstance(steps, int) else None})
        rows += mine
        runs += 1
        with_ckpt += len(mine) > 1
        final_only += ckpts is None or len(mine) == 1
    if not rows:
        raise PrecplanError(f"no run with a final loss in the store ({diverged} diverged): there is no curve to export")
    notes = [f"curves: {len(rows)} rows of {runs} runs, {len(rows) - runs} intermediate checkpoints and {runs} final losses"
             " (each run's last row; post-training quantization losses are not part of a curve and are not exported)"]
    if final_only:
        notes.append(f"{final_only} of {runs} runs have no checkpoints before the final step (recorded before checkpoints"
                     " were, with --checkpoints 0 or 1, or too few steps): each is exported as its final loss only")
    if diverged:
        notes.append(f"{diverged} diverged run(s) left out (no final loss)")
    if dropped:
        notes.append(f"{dropped} checkpoint(s) with a non-finite validation loss left out")
    return CurveExport(rows, runs, with_ckpt, final_only, diverged, dropped, notes)


def curves_text(rows: Sequence[dict[str, Any]], delimiter: str = ",") -> str:
    """``rows`` as CSV (or TSV) text with a header; losses at full precision (repr)."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow(["" if r[c] is None else repr(r[c]) if isinstance(r[c], float) else r[c] for c in COLUMNS])
    return buf.getvalue()


def check_curves_path(path: str) -> None:
    """``--curves-out``'s name must say CSV or TSV (what fit reads as curves)."""
    if Path(path).suffix.lower() not in SUFFIXES:
        raise PrecplanError(f"--curves-out {path}: expected a .csv or .tsv file name (e.g. --curves-out curves.csv)")


def write_curves(path: str | Path, export: CurveExport) -> Path:
    """Write the curves file atomically (tab-separated for ``.tsv``, else comma-separated)."""
    p = Path(path)
    return atomic_write_text(p, curves_text(export.rows, "\t" if p.suffix.lower() == ".tsv" else ","))


FINAL_ONLY_NOTE = (f"--min-tokens {MIN_TOKENS}: these runs see far fewer than fit's default 1e10 tokens; no run in this"
                   " store has checkpoints before its final step, so the file holds final losses only (the same fit as"
                   " precplan fit DIR); train with --checkpoints K (K >= 2) to record curves")


def fit_args(path: str | Path, with_checkpoints: bool = True) -> list[str]:
    """The ``precplan fit`` arguments for a curves file written by :func:`write_curves`
    (without checkpoints there is no early part of a curve to drop)."""
    skip = ["--skip-fraction", SKIP_FRACTION] if with_checkpoints else []
    return ["precplan", "fit", str(path), "--curves", "--min-tokens", MIN_TOKENS, *skip]


def fit_note(with_checkpoints: bool = True) -> str:
    """Why :func:`fit_args` chose its options."""
    return FIT_NOTE if with_checkpoints else FINAL_ONLY_NOTE


def fit_command(path: str | Path, with_checkpoints: bool = True) -> str:
    """:func:`fit_args` as a shell command line."""
    return " ".join(shlex.quote(a) for a in fit_args(path, with_checkpoints))
