"""Training curves as fit input, as Choshen et al. 2024 ("A Hitchhiker's Guide to Scaling Law
Estimation", arXiv 2410.11840) advise: fit on the intermediate checkpoints of each run, not only
on its final loss, after dropping the early part of every curve, and weigh runs, not checkpoints.

The curves format (CSV or TSV, one row per checkpoint)::

    run,params,tokens_seen,loss[,step][,weight_bits,activation_bits,kv_bits]
    160m-a,1.6e8,1.0e10,3.41,2400
    160m-a,1.6e8,2.0e10,3.29,4800

- ``run`` (or ``run_id``): which run the checkpoint belongs to (any text);
- ``params``: the run's model size N (the same on every checkpoint of a run);
- ``tokens_seen``: tokens seen at the checkpoint, the D it is fitted at (without a
  ``tokens_seen`` column, ``tokens`` is read as tokens seen);
- ``loss``: the (evaluation) loss at the checkpoint;
- ``step`` (optional): the optimizer step, for the reader's benefit only;
- training bits (optional): as in a runs file, the same on every checkpoint of a run.

Choices (options of ``precplan fit``, stated in the output):

- checkpoints with fewer than ``min_tokens`` tokens seen are dropped (default 1e10, the guide's
  choice), and so are those in the first ``skip_fraction`` of each run's tokens (default 0);
- each run weighs 1 in the objective, its k kept checkpoints 1/k each; the bootstrap resamples
  runs (whole curves), not checkpoints;
- an intermediate checkpoint is fitted as if its run had ended there; under a decaying learning
  rate it sits above the loss of a run trained to that many tokens, which is why the early part
  of each curve is dropped.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping

import numpy as np

from precplan.errors import PrecplanError
from precplan.fit._runs import load_runs, parse_columns
from precplan.fit._table import Runs

__all__ = [
    "MIN_TOKENS", "PROGRESS_COLUMNS", "RUN_COLUMNS", "SKIP_FRACTION", "CurveRuns", "group_clusters", "group_weights",
    "header_of", "load_curves", "looks_like_curves",
]

RUN_COLUMNS = ("run", "run_id")
PROGRESS_COLUMNS = ("step", "tokens_seen")
MIN_TOKENS = 1e10     # Choshen et al. 2024: drop checkpoints before 10B tokens seen
SKIP_FRACTION = 0.0   # and/or the first fraction of each run's tokens (off by default)


@dataclass(frozen=True)
class CurveRuns(Runs):
    """Checkpoints as runs, with the run each belongs to and its weight (1 / kept checkpoints)."""

    run: np.ndarray | None = None        # (rows,) index into run_names
    weight: np.ndarray | None = None     # (rows,) weight of each checkpoint; each run's sum to 1
    run_names: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def subset(self, mask: np.ndarray) -> "CurveRuns":
        out = super().subset(mask)
        return replace(out, run=self.run[mask], weight=self.weight[mask])


def header_of(path: str | Path) -> list[str]:
    """The column names of a CSV/TSV file ([] for JSON, an unreadable or empty file)."""
    p = Path(path)
    if p.suffix.lower() in (".jsonl", ".ndjson", ".json") or not p.is_file():
        return []  # not a regular file (/dev/zero, a pipe): the runs reader refuses it in one line
    try:
        with open(p, encoding="utf-8-sig", errors="replace", newline="") as fh:
            first = fh.readline(1 << 20)  # a header line, bounded: a file without newlines is not read whole
    except OSError:
        return []
    row = next(csv.reader([first], delimiter=_delimiter(p)), [])
    return [h.strip() for h in row]


def looks_like_curves(path: str | Path) -> bool:
    """A file with a run id column and a ``step``/``tokens_seen`` column holds training curves."""
    header = header_of(path)
    return any(c in header for c in RUN_COLUMNS) and any(c in header for c in PROGRESS_COLUMNS)


def load_curves(path: str | Path, columns: Mapping[str, str] | str | None = None, min_tokens: float = MIN_TOKENS,
                skip_fraction: float = SKIP_FRACTION) -> CurveRuns:
    """Read training curves (the format in this module's docstring), drop the early checkpoints
    and weigh every run 1. ``columns`` maps standard names as for a runs file."""
    if not (np.isfinite(min_tokens) and min_tokens >= 0):
        raise PrecplanError(f"`min_tokens` must be a token count >= 0 (e.g. 1e10, 0 to keep every checkpoint); got {min_tokens!r}")
    if not (np.isfinite(skip_fraction) and 0 <= skip_fraction < 1):
        raise PrecplanError(f"`skip_fraction` must be a fraction from 0 to below 1 (e.g. 0.1); got {skip_fraction!r}")
    p = Path(path)
    header = header_of(p)
    run_col = next((c for c in RUN_COLUMNS if c in header), None)
    if run_col is None and p.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        raise PrecplanError(f"{p}: training curves are read from CSV/TSV, one row per checkpoint; for the results store of"
                            " precplan validate, write them with: precplan validate --report DIR --curves-out curves.csv")
    if run_col is None:
        raise PrecplanError(f"{p}: training curves need a run id column ({' or '.join(RUN_COLUMNS)}), one row per"
                            f" checkpoint (columns: {', '.join(header[:12]) or 'none'})")
    mapping = parse_columns(columns) if isinstance(columns, str) else dict(columns or {})
    if "tokens" not in mapping and "tokens_seen" in header:
        mapping["tokens"] = "tokens_seen"
    runs = load_runs(p, mapping)
    ids = _column(p, run_col)
    if len(ids) != runs.n:
        raise PrecplanError(f"{p}: the {run_col} column has {len(ids)} values for {runs.n} checkpoints; every row needs one")
    names, run = np.unique(np.asarray(ids, dtype=object).astype(str), return_inverse=True)
    run = run.reshape(-1)
    if any(not str(name) for name in names):
        raise PrecplanError(f"{p}: a checkpoint has an empty {run_col}; every checkpoint needs the id of its run")
    _check_constant(runs, run, names, p)
    _check_progress(runs, run, names, p, _column(p, "step") if "step" in header else None)

    tokens = runs.tokens
    final = np.zeros(names.size)
    np.maximum.at(final, run, tokens)
    early = tokens < min_tokens
    head = (tokens < skip_fraction * final[run]) & ~early
    keep = ~(early | head)
    if not keep.any():
        raise PrecplanError(
            f"{p}: every checkpoint is dropped (fewer than {min_tokens:.3g} tokens seen, or in the first {skip_fraction:.0%}"
            f" of its run); the most tokens any checkpoint saw is {tokens.max():.3g}: lower `min_tokens` (`min_tokens` 0 keeps"
            " them; drop the early part of each run with `skip_fraction` instead)"
        )
    kept_count = np.bincount(run[keep], minlength=names.size)
    weight = np.where(keep, 1.0 / np.maximum(kept_count[run], 1), 0.0)
    n_runs, n_kept_runs = names.size, int(np.count_nonzero(kept_count))
    notes = [
        f"training curves: {runs.n:,} checkpoints of {n_runs:,} runs; fitted on {int(keep.sum()):,} checkpoints of"
        f" {n_kept_runs:,} runs, each run weighing 1 (its k checkpoints 1/k each; Choshen et al. 2024)",
        f"dropped {int(early.sum()):,} checkpoints with fewer than {min_tokens:.3g} tokens seen (`min_tokens`)"
        f" and {int(head.sum()):,} in the first {skip_fraction:.0%} of their run's tokens (`skip_fraction`)",
        "a checkpoint is fitted as if its run had ended there (under a decaying learning rate it sits above such a run)",
    ]
    if n_kept_runs < n_runs:
        notes.append(f"{n_runs - n_kept_runs} run(s) had no checkpoint left after dropping the early ones")
    out = CurveRuns(**{f: getattr(runs, f) for f in Runs.__dataclass_fields__}, run=run, weight=weight,
                    run_names=tuple(str(n) for n in names), notes=tuple(notes))
    return out.subset(keep)


def group_weights(data) -> np.ndarray:
    """(G,) weight of each training run of a :class:`precplan.fit._plan.Data` (1 each, or the
    checkpoint weights of training curves)."""
    runs = data.runs
    if isinstance(runs, CurveRuns):
        return np.asarray(runs.weight[data.rep], dtype=float)
    return np.ones(data.n_training)


def group_clusters(data) -> np.ndarray | None:
    """(G,) the run (curve) of each training run of ``data``, or ``None`` for plain runs."""
    runs = data.runs
    return np.asarray(runs.run[data.rep]) if isinstance(runs, CurveRuns) else None


def _delimiter(p: Path) -> str:
    return "\t" if p.suffix.lower() == ".tsv" else ","


def _column(p: Path, name: str) -> list[str]:
    """One column's text, row by row as the runs reader reads rows (blank lines skipped)."""
    with open(p, encoding="utf-8-sig", errors="replace", newline="") as fh:
        reader = csv.reader(fh, delimiter=_delimiter(p))
        header = [h.strip() for h in next(reader, [])]
        j = header.index(name)
        return [row[j].strip() if j < len(row) else "" for row in reader if row]


def _check_progress(runs: Runs, run: np.ndarray, names: np.ndarray, p: Path, steps: list[str] | None) -> None:
    """A run's checkpoints tell one story: two at the same tokens_seen have one loss, and with a
    step column, tokens_seen never falls while the step rises."""
    tokens, loss = np.asarray(runs.tokens, dtype=float), np.asarray(runs.loss, dtype=float)
    order = np.lexsort((tokens, run))
    r, t, lo = run[order], tokens[order], loss[order]
    same = (r[1:] == r[:-1]) & (t[1:] == t[:-1]) & (lo[1:] != lo[:-1])
    if same.any():
        i = int(np.flatnonzero(same)[0])
        raise PrecplanError(f"{p}: run {str(names[r[i]])!r} has two checkpoints at {t[i]:.6g} tokens seen with different"
                            f" losses ({lo[i]:.6g} and {lo[i + 1]:.6g}); a checkpoint is measured once: remove one, or give"
                            " each training run its own run id")
    if steps is None or len(steps) != run.size:
        return
    try:
        step = np.asarray([float(x) for x in steps])
    except ValueError:
        return  # the runs reader speaks for the columns it reads; a bad step is refused by the export
    order = np.lexsort((tokens, step, run))
    r, t, s = run[order], tokens[order], step[order]
    back = (r[1:] == r[:-1]) & (s[1:] > s[:-1]) & (t[1:] < t[:-1])
    if back.any():
        i = int(np.flatnonzero(back)[0])
        raise PrecplanError(f"{p}: run {str(names[r[i]])!r} has tokens_seen falling from {t[i]:.6g} to {t[i + 1]:.6g} while"
                            f" its step rises from {s[i]:.6g} to {s[i + 1]:.6g}; tokens seen only grow during a run: check"
                            " the columns, or give each training run its own run id")


def _check_constant(runs: Runs, run: np.ndarray, names: np.ndarray, p: Path) -> None:
    """Model size and training bits are properties of a run: the same on all its checkpoints."""
    cols = [("params", runs.params)] + [(c, runs.bits(c)) for c in ("weight_bits", "activation_bits", "kv_bits")
                                         if getattr(runs, c) is not None]
    for label, v in cols:
        lo = np.full(names.size, np.inf)
        hi = np.full(names.size, -np.inf)
        np.minimum.at(lo, run, v)
        np.maximum.at(hi, run, v)
        bad = np.flatnonzero(lo != hi)
        if bad.size:
            raise PrecplanError(f"{p}: run {str(names[bad[0]])!r} has checkpoints with different {label} ({lo[bad[0]]:.4g} and"
                                f" {hi[bad[0]]:.4g}); a run has one {label}: give each configuration its own run id")
