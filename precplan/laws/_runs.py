"""Real low-precision training runs measured against a high-precision baseline
(``data/lowprec_training_runs.csv``; sources and caveats in ``data/README.md``).

Each row is one published run: N (total, and active for MoE), D, the format and recipe (GEMMs,
block and scale, layers kept in BF16, rounding), the baseline format and the measured relative
loss gap ``(L_run - L_baseline) / L_baseline`` as the source states it: ``~`` (about), ``<``
(an upper bound) or ``>``. Nobody on this project measured these numbers.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from precplan.errors import PrecplanError
from precplan.formats import parse_format
from precplan.io import bundled_dir
from precplan.laws._variant import law_for_weights
from precplan.precision import parse_precision

__all__ = ["RUNS_FILE", "MeasuredRun", "RunCheck", "check_law_against_runs", "nearest_runs", "training_runs"]

RUNS_FILE = "lowprec_training_runs.csv"
RELATIONS = ("~", "<", ">")


@dataclass(frozen=True)
class MeasuredRun:
    """One published low-precision training run and its measured gap to its baseline."""

    id: str
    model: str
    params: float
    params_active: float | None
    tokens: float
    format: str
    recipe: str
    baseline: str
    comparable: bool
    relation: str
    gap_rel: float
    note: str
    source: str
    locator: str

    def describe_gap(self) -> str:
        """``~1.5%``, ``<0.25%``."""
        return f"{self.relation}{self.gap_rel * 100:.3g}%"


@lru_cache(maxsize=1)
def training_runs() -> tuple[MeasuredRun, ...]:
    """All rows of ``data/lowprec_training_runs.csv``.

    Returns
    -------
    tuple of MeasuredRun

    Raises
    ------
    PrecplanError
        If the bundled file is missing or a row is malformed.

    Example
    -------
    >>> len(training_runs()) >= 8
    True
    """
    path = bundled_dir("data") / RUNS_FILE
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise PrecplanError(f"cannot read the bundled training runs {path}: {exc.strerror}") from None
    out = []
    for i, r in enumerate(rows, start=2):
        try:
            if r["gap_relation"] not in RELATIONS:
                raise ValueError(f"gap_relation {r['gap_relation']!r}")
            for name in (r["format"], r["baseline"]):
                parse_format(name)
            out.append(MeasuredRun(
                id=r["id"], model=r["model"], params=float(r["params_total"]),
                params_active=float(r["params_active"]) if r["params_active"] else None,
                tokens=float(r["tokens"]), format=r["format"],
                recipe="; ".join(x for x in (r["gemms"], r["block_scale"], "BF16: " + r["high_precision_layers"],
                                             "rounding: " + r["rounding"]) if x),
                baseline=r["baseline"], comparable=r["comparable"] == "yes", relation=r["gap_relation"],
                gap_rel=float(r["gap_rel"]), note=r["gap_note"], source=r["source"], locator=r["source_locator"],
            ))
        except (KeyError, ValueError, PrecplanError) as exc:
            raise PrecplanError(f"{path}: line {i}: malformed row ({exc})") from None
    return tuple(out)


def nearest_runs(params: float, tokens: float, format: str | None = None, count: int = 3) -> list[MeasuredRun]:
    """The ``count`` measured runs nearest to (``params``, ``tokens``), the same format first.

    Parameters
    ----------
    params, tokens : float
        The planned model's parameters and training tokens.
    format : str or None
        A format name (``nvfp4``, ``e4m3``): runs in a format with the same element layout and
        bits per element rank first, then by bits-per-element difference. None ranks by size only.
    count : int
        How many runs to return (at least 1).

    Returns
    -------
    list of MeasuredRun
        Ordered by format match, then by Euclidean distance in (log10 N, log10 D), then file order.

    Raises
    ------
    PrecplanError
        Non-positive params or tokens, count below 1, or an unknown format name.

    Example
    -------
    >>> nearest_runs(8e9, 1e12, "mxfp4", count=1)[0].format
    'mxfp4'
    """
    if not (params > 0 and tokens > 0) or count < 1:
        raise PrecplanError("params and tokens must be positive and count at least 1")
    runs = training_runs()
    n = np.log10([r.params for r in runs])
    d = np.log10([r.tokens for r in runs])
    dist = np.round(np.hypot(n - math.log10(params), d - math.log10(tokens)), 9)
    if format is None:
        same = np.zeros(len(runs))
        bpe_gap = np.zeros(len(runs))
    else:
        want = parse_format(format)
        fmts = [parse_format(r.format) for r in runs]
        same = np.array([0.0 if (f.name == want.name) else 1.0 for f in fmts])
        bpe_gap = np.array([abs(f.bits_per_element - want.bits_per_element) for f in fmts])
    order = np.lexsort((np.arange(len(runs)), dist, bpe_gap, same))
    return [runs[i] for i in order[:count]]


@dataclass(frozen=True)
class RunCheck:
    """A law's predicted relative gap for one measured run (None where the law cannot describe
    the run's format or baseline: ``reason`` says why), and predicted / measured."""

    run: MeasuredRun
    predicted: float | None
    ratio: float | None
    consistent: bool | None  # for "<" rows: predicted below the bound; for "~" rows: within 2x
    reason: str = ""


def check_law_against_runs(law) -> list[RunCheck]:
    """Every comparable measured run with ``law``'s predicted relative gap
    ``(L(format) - L(baseline)) / L(baseline)`` at the run's total N and D.

    Parameters
    ----------
    law : FormatLaw or Law
        A format-aware law, or a bit-count law (predicted at the formats' bits per element, with
        weights, activations and KV all in the run's format).

    Returns
    -------
    list of RunCheck
    """
    out = []
    for run in training_runs():
        if not run.comparable:
            continue
        try:
            pred = _relative_gap(law, run)
        except PrecplanError as exc:
            out.append(RunCheck(run, None, None, None, str(exc)))
            continue
        ratio = pred / run.gap_rel if run.gap_rel > 0 else None
        if run.relation == "<":
            ok = pred <= run.gap_rel
        elif run.relation == ">":
            ok = pred >= run.gap_rel
        else:
            ok = ratio is not None and 0.5 <= ratio <= 2.0
        out.append(RunCheck(run, pred, ratio, ok))
    return out


def _relative_gap(law, run: MeasuredRun) -> float:
    fmt, base = parse_format(run.format), parse_format(run.baseline)
    if getattr(law, "is_format_law", False):
        lf = float(law.loss(run.params, run.tokens, fmt))
        lb = float(law.loss(run.params, run.tokens, base))
        return (lf - lb) / lb
    pf, pb = parse_precision(run.format), parse_precision(run.baseline)
    lf_law, _ = law_for_weights(law, pf)
    lb_law, _ = law_for_weights(law, pb)
    lf_law.check_domain(run.params, run.tokens, pf.bits, pf.bits, pf.bits)
    lf = float(lf_law.loss(run.params, run.tokens, pf.bits, pf.bits, pf.bits))
    lb = float(lb_law.loss(run.params, run.tokens, pb.bits, pb.bits, pb.bits))
    return (lf - lb) / lb
