"""Published post-training quantization measurements on real public models (``data/ptq_measurements.csv``).

Each row is a WikiText-2 perplexity before and after weight-only PTQ (RTN, GPTQ or AWQ at 3, 4
or 8 bits) of a public model (OPT, BLOOM, LLaMA-1, Llama-2, Llama-3), copied as printed from the
table its ``locator`` names. Perplexity is the exponential of the mean cross-entropy (nats/token)
on the same text, so the loss degradation is

    delta_loss = ln(ppl_after) - ln(ppl_before)      # nats/token

the quantity Kumar et al. 2024 (eq. 2) call delta_PTQ. Caveats (WikiText-2 is not the
pretraining text, total vs non-embedding parameters, group-wise scales, uncertain token counts):
``data/README.md``.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from precplan.errors import PrecplanError
from precplan.io import bundled_dir

__all__ = [
    "COLLAPSED", "MEASUREMENTS_FILE", "METHODS", "Measurement", "measured_rows", "measurements", "nearest_measurements",
    "predicted_degradation",
]

MEASUREMENTS_FILE = "ptq_measurements.csv"
COLLAPSED = 1.0  # nats/token: a model degraded this much is outside any law's regime (data/README.md)
METHODS = ("rtn", "gptq", "awq")


@dataclass(frozen=True)
class Measurement:
    """One published PTQ measurement: a model quantized with ``method`` to ``bits`` weight bits."""

    model: str
    family: str
    params: float  # total parameters (embeddings included), as the row's params_note says
    tokens: float  # pretraining tokens
    method: str  # "rtn", "gptq" or "awq"
    bits: float  # weight bits; activations stay 16 bit
    group: str  # "per-channel" or "g128" / "g1024" (one scale per that many weights)
    dataset: str
    ppl_before: float
    ppl_after: float
    delta_loss: float  # ln(ppl_after) - ln(ppl_before), nats/token
    source: str  # the paper (title; authors; year; arXiv id)
    locator: str  # table, row and column in the source

    @property
    def citation(self) -> str:
        """Short form of the source: ``Frantar et al. 2022, arXiv:2210.17323v2`` for a paper (title;
        authors; year; arXiv id), the part before ``(`` otherwise (``IST-DASLab/gptq README``)."""
        parts = [p.strip() for p in self.source.split(";")]
        arxiv = re.search(r"arXiv:\s*[0-9.]+(v\d+)?", self.source)
        if len(parts) >= 3 and re.match(r"\d{4}", parts[2]) and arxiv:
            return f"{parts[1].split(',')[0]} et al. {parts[2][:4]}, {arxiv.group(0)}"
        return self.source.split("(")[0].strip()

    @property
    def table(self) -> str:
        """The table part of the locator, e.g. ``Table 3``."""
        m = re.match(r"(Table \d+|[^,(]+)", self.locator)
        return m.group(1).strip() if m else self.locator


def _group(size: str) -> str:
    size = size.strip()
    return size if size == "per-channel" else f"g{int(size)}"


@lru_cache(maxsize=1)
def measurements() -> tuple[Measurement, ...]:
    """All bundled measurements, loaded once (``data/ptq_measurements.csv``)."""
    path = bundled_dir("data") / MEASUREMENTS_FILE
    if not path.is_file():
        raise PrecplanError(f"bundled PTQ measurements not found at {path}; reinstall precplan")
    out = []
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            before, after = float(row["value_before"]), float(row["value_after"])
            out.append(
                Measurement(
                    model=row["model"],
                    family=row["family"],
                    params=float(row["params"]),
                    tokens=float(row["train_tokens"]),
                    method=row["method"],
                    bits=float(row["bits"]),
                    group=_group(row["group_size"]),
                    dataset=row["dataset"],
                    ppl_before=before,
                    ppl_after=after,
                    delta_loss=math.log(after) - math.log(before),  # perplexity = exp(mean loss), same text
                    source=row["source"],
                    locator=row["source_locator"],
                )
            )
    return tuple(out)


@lru_cache(maxsize=1)
def _arrays() -> dict[str, np.ndarray]:
    rows = measurements()
    return {
        "log_n": np.log10([r.params for r in rows]),
        "log_d": np.log10([r.tokens for r in rows]),
        "bits": np.array([r.bits for r in rows]),
        "method": np.array([METHODS.index(r.method) for r in rows]),
        "per_channel": np.array([r.group == "per-channel" for r in rows]),
    }


def nearest_measurements(
    params: float, tokens: float, post_bits: float, method: str | None = None, k: int = 5
) -> list[Measurement]:
    """The ``k`` measured models closest to (``params``, ``tokens``), same bits preferred.

    Parameters
    ----------
    params, tokens : float
        Parameters and pretraining tokens of the model asked about.
    post_bits : float
        Serving precision in bits: rows are ranked first by ``|bits - post_bits|``.
    method : {"rtn", "gptq", "awq"} or None
        Keep only that quantizer; None keeps all.
    k : int
        How many rows to return.

    Returns
    -------
    list of Measurement
        Ordered by bit difference, then Euclidean distance in (log10 N, log10 D), then
        method (rtn, gptq, awq), per-channel before group-wise, then file order.
    """
    if method is not None and method not in METHODS:
        raise PrecplanError(f"unknown PTQ method {method!r}; valid: {', '.join(METHODS)}")
    if not (params > 0 and tokens > 0) or k < 1:
        raise PrecplanError("params and tokens must be positive and k at least 1")
    a = _arrays()
    dist = np.hypot(a["log_n"] - math.log10(params), a["log_d"] - math.log10(tokens))
    bit_gap = np.abs(a["bits"] - float(post_bits))
    keep = np.ones(dist.size, bool) if method is None else a["method"] == METHODS.index(method)
    order = np.lexsort((np.arange(dist.size), ~a["per_channel"], a["method"], np.round(dist, 9), bit_gap))
    order = order[keep[order]][:k]
    rows = measurements()
    return [rows[i] for i in order]


def predicted_degradation(law, rows) -> np.ndarray:
    """The law's delta_PTQ (Kumar et al. 2024, eqs. 2, 8-9) at each row's N (total parameters, as
    printed: the law's N is non-embedding, so small models are favoured), D and bits, for a model
    trained in 16 bit (all these models were trained in 16-bit floating point)."""
    n = np.array([r.params for r in rows], dtype=float)
    d = np.array([r.tokens for r in rows], dtype=float)
    b = np.array([r.bits for r in rows], dtype=float)
    return np.asarray(law.ptq_degradation(n, d, b), dtype=float)


def measured_rows(law, params: float, tokens: float, post_bits: float, method: str | None = None, k: int = 5):
    """:class:`~precplan.ptq._results.MeasuredRow` for the ``k`` nearest measurements, each with the
    law's prediction for that row and the ratio predicted / measured (None where measured is 0)."""
    from precplan.ptq._results import MeasuredRow

    rows = nearest_measurements(params, tokens, post_bits, method, k)
    pred = predicted_degradation(law, rows)
    return [
        MeasuredRow(
            model=r.model,
            params=r.params,
            tokens=r.tokens,
            method=r.method,
            bits=r.bits,
            group=r.group,
            measured=r.delta_loss,
            predicted=float(p),
            ratio=float(p / r.delta_loss) if r.delta_loss > 0 else None,
            source=f"{r.citation}, {r.table}",
        )
        for r, p in zip(rows, pred)
    ]
