"""Training-format runs set against bf16: the measured loss gap of each format (no torch here).

A format run (store field ``format``: e4m3, mxfp4, nvfp4, ...) is compared with the ``bf16``
run at the same N and D: gap = mean loss - mean bf16 loss (nats/token, means over seeds) and
the relative gap gap / bf16 loss, the "relative loss error" that real low-precision training
reports quote (DeepSeek-V3 App. B.1; NVIDIA arXiv 2509.25149 sec. 3). With two or more seeds
per format the gap is called resolved when it exceeds ``resolve_sigmas`` standard errors of
the pooled seed-to-seed standard deviation.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, Sequence

import numpy as np

__all__ = ["BASELINE", "is_format_run", "format_gaps"]

BASELINE = "bf16"


def is_format_run(rec: dict[str, Any]) -> bool:
    """Whether a store record was trained in a format (stores without the field: the bit-width path)."""
    return bool(rec.get("format"))


def _label(name: str, backward: bool) -> str:
    return f"{name}+bwd" if backward else name


def format_gaps(records: Sequence[dict[str, Any]], resolve_sigmas: float = 2.0) -> dict[str, Any] | None:
    """The per-format table of the format runs among ``records`` (None when there are none).

    Parameters
    ----------
    records : sequence of dict
        Store records; those without a ``format`` are ignored.
    resolve_sigmas : float
        A gap is resolved when |gap| > resolve_sigmas * sd * sqrt(1/n_format + 1/n_bf16).

    Returns
    -------
    dict or None
        ``rows``: one per (N, D, format, backward) with ``seeds``, ``mean_loss``, ``sd``,
        ``gap``, ``rel_gap``, ``resolved`` (None without seed noise or a bf16 run) and
        ``diverged`` (runs of it that diverged); ``pooled_sd``; ``verdict``, one line.

    Example
    -------
    >>> recs = [{"format": f, "params": 1e5, "tokens": 1e6, "loss": x, "seed": 0}
    ...         for f, x in (("bf16", 4.0), ("nvfp4", 4.04))]
    >>> round(format_gaps(recs)["rows"][1]["rel_gap"], 4)
    0.01
    """
    runs = [r for r in records if is_format_run(r)]
    if not runs:
        return None
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for r in runs:
        groups[(float(r["params"]), float(r["tokens"]), str(r["format"]), bool(r.get("format_backward")))].append(r)
    ss, df = 0.0, 0
    stats: dict[tuple, dict[str, Any]] = {}
    for key, rs in groups.items():
        losses = np.array([float(r["loss"]) for r in rs if not r.get("diverged") and _finite(r.get("loss"))])
        if len(losses) > 1:
            ss, df = ss + float(((losses - losses.mean()) ** 2).sum()), df + len(losses) - 1
        stats[key] = {"n": len(losses), "mean": float(losses.mean()) if len(losses) else None,
                      "sd": float(losses.std(ddof=1)) if len(losses) > 1 else None,
                      "diverged": len(rs) - len(losses), "bits": rs[0].get("weight_bits")}
    pooled = math.sqrt(ss / df) if df else None
    rows = []
    for key in sorted(groups, key=lambda k: (k[0], k[1], k[2] != BASELINE, k[3], k[2])):
        n_, d_, name, bwd = key
        st = stats[key]
        base = stats.get((n_, d_, BASELINE, bwd)) or stats.get((n_, d_, BASELINE, not bwd))
        gap = rel = resolved = None
        if base and base["mean"] is not None and st["mean"] is not None:
            gap = st["mean"] - base["mean"]
            rel = gap / base["mean"]
            if pooled is not None and name != BASELINE:
                resolved = abs(gap) > resolve_sigmas * pooled * math.sqrt(1 / st["n"] + 1 / base["n"])
        rows.append({"params": n_, "tokens": d_, "format": name, "backward": bwd, "label": _label(name, bwd),
                     "element_bits": st["bits"], "seeds": st["n"], "mean_loss": st["mean"], "sd": st["sd"],
                     "gap": gap, "rel_gap": rel, "resolved": resolved, "diverged": st["diverged"]})
    return {"baseline": BASELINE, "rows": rows, "pooled_sd": pooled, "pooled_df": df, "resolve_sigmas": resolve_sigmas,
            "verdict": _verdict(rows, pooled)}


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _verdict(rows: Sequence[dict[str, Any]], pooled: float | None) -> str:
    """One line: each format's relative gap to bf16, worst first, and whether it stands out of the noise."""
    measured = [r for r in rows if r["rel_gap"] is not None and r["format"] != BASELINE]
    diverged = [r["label"] for r in rows if r["diverged"] and not r["seeds"]]
    if not measured:
        why = "no bf16 run at the same N and D to compare with" if not any(r["format"] == BASELINE for r in rows) \
            else "no format run besides bf16 finished"
        return f"training formats: {why}" + (f"; diverged: {', '.join(diverged)}" if diverged else "")
    parts = []
    for r in sorted(measured, key=lambda r: -r["rel_gap"]):
        mark = "" if r["resolved"] is None else (" (within seed noise)" if not r["resolved"] else "")
        parts.append(f"{r['label']} {100 * r['rel_gap']:+.2f}%{mark}")
    where = {(r["params"], r["tokens"]) for r in measured}
    noise = ("one seed each: seed noise not measured (use --seeds 2 or more)" if pooled is None
             else f"seed noise sd {pooled:.4f} nats")
    head = "loss vs bf16" + (" at one N and D" if len(where) == 1 else f" at {len(where)} (N, D) points")
    return f"{head}: {', '.join(parts)}; {noise}" + (f"; diverged: {', '.join(diverged)}" if diverged else "")
