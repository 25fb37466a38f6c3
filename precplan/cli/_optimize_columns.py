"""The command line's table schema for an ``optimize`` sweep: the named columns ``--csv`` and
``--json-columns`` write, and the header ``--json`` gives a sweep. The library's
:class:`~precplan.optimize.Sweep` keeps the arrays; this module names and orders them."""

from __future__ import annotations

from typing import Any

import numpy as np

from precplan.cli._render import csv_table
from precplan.optimize import Sweep

__all__ = ["sweep_columns", "sweep_header", "write_csv"]


def sweep_columns(sweep: Sweep) -> dict[str, Any]:
    """The sweep as named columns (numpy arrays, or lists of text), one entry per budget:
    what ``--csv`` and ``--json-columns`` write. Comparison rows appear as
    ``<quantity>_at_<label>`` (e.g. ``loss_gap_at_16-bit``); intervals as ``<quantity>_lo`` /
    ``<quantity>_hi``."""
    n = sweep.count
    none = np.full(n, np.nan)
    d = sweep.decomposition
    cols: dict[str, Any] = {
        "budget": none if sweep.budget is None else sweep.budget,
        "target_loss": np.full(n, np.nan if sweep.target_loss is None else sweep.target_loss),
        "params": sweep.params, "tokens": sweep.tokens, "tokens_per_param": sweep.tokens_per_param,
        "bits_weights": sweep.bits[:, 0], "bits_activations": sweep.bits[:, 1], "bits_kv": sweep.bits[:, 2],
        "cost_bits": sweep.cost_bits, "loss": sweep.loss,
        "irreducible": d.irreducible, "param_term": d.param_term, "data_term": d.data_term, "ptq_degradation": d.ptq_degradation,
        "inference_precision": np.full(n, np.nan if sweep.inference_precision is None else sweep.inference_precision),
        "inference_tokens": np.full(n, sweep.inference_tokens),
        "train_flops": sweep.train_flops, "inference_flops": sweep.inference_flops, "total_flops": sweep.total_flops,
        "weights_memory_bytes": sweep.weights_memory_bytes,
        "gpu_hours": none if sweep.gpu_cost is None else sweep.gpu_hours,
        "dollars": none if sweep.gpu_cost is None else np.array([np.nan if g.total_dollars is None else g.total_dollars for g in sweep.gpu_cost]),
        "cost_model": [sweep.cost_model] * n,
        "gpu": [sweep.gpu] * n,
        "gpus": [sweep.gpus] * n,
        "train_format": [g.train_format for g in sweep.gpu_cost] if sweep.gpu_cost else _format_column(sweep),
        "emulated": [bool(g.emulated) for g in sweep.gpu_cost] if sweep.gpu_cost else [False] * n,
        "wall_days": none if sweep.gpu_cost is None else np.array([np.nan if g.wall_days is None else g.wall_days for g in sweep.gpu_cost]),
        "serve_format": [g.serve_format for g in sweep.gpu_cost] if sweep.gpu_cost else [None] * n,
        "kv_cache_bytes": none if sweep.kv_cache_bytes is None else sweep.kv_cache_bytes,
        # added after the first CSV release: new columns go last
        "law": sweep.law_ids, "serve_bits": sweep.serve_bits, "serve_memory_bytes": sweep.serve_memory_bytes,
        "effective_fraction": d.effective_fraction, "memory_binds": sweep.binds,
    }
    return {**cols, **_extra_columns(sweep)}


def _extra_columns(sweep: Sweep) -> dict[str, Any]:
    """The comparison rows, the PTQ shift, the inference-blind reference and the intervals."""
    cols: dict[str, Any] = {}
    target = sweep.mode == "target-loss"
    for c in sweep.compared:
        ok = np.isfinite(c.loss)
        cols[f"params_at_{c.label}"] = c.params
        cols[f"tokens_at_{c.label}"] = c.tokens
        if target:
            cols[f"total_flops_at_{c.label}"] = np.where(ok, c.total_flops, np.nan)
            cols[f"flops_ratio_at_{c.label}"] = np.where(ok, c.total_flops / sweep.total_flops, np.nan)
        else:
            cols[f"loss_at_{c.label}"] = np.where(ok, c.loss, np.nan)
            cols[f"loss_gap_at_{c.label}"] = np.where(ok, c.loss - sweep.loss, np.nan)
    if sweep.without_ptq is not None:
        w = sweep.without_ptq
        cols.update({"params_without_ptq": w.params, "tokens_without_ptq": w.tokens, "bits_weights_without_ptq": w.bits[:, 0],
                     "loss_without_ptq_before": w.loss_before_ptq, "loss_without_ptq_after": w.loss_after_ptq})
    if sweep.reference is not None:
        r = sweep.reference
        total = r.train_flops + r.inference_flops
        cols.update({"reference_params": r.params, "reference_tokens": r.tokens, "reference_total_flops": total,
                     "saved_flops": total - r.star_flops, "saved_fraction": r.saved_fraction})
    if sweep.uncertainty is not None and any(u for u in sweep.uncertainty):
        keys = [k for k, v in next(u for u in sweep.uncertainty if u).items() if isinstance(v, (list, tuple)) and k != "sampled"]
        for k in keys:
            bands = np.array([(u[k] if u and u.get(k) else (np.nan, np.nan)) for u in sweep.uncertainty], dtype=float)
            cols[f"{k}_lo"], cols[f"{k}_hi"] = bands[:, 0], bands[:, 1]
    return cols


def _format_column(sweep: Sweep) -> list[str | None]:
    if sweep.formats is None:
        return [None] * sweep.count
    return [sweep.formats[k] for k in sweep.index.tolist()]


def sweep_header(sweep: Sweep) -> dict:
    """What a sweep's JSON says once, before its rows or columns."""
    unc = next((u for u in sweep.uncertainty or () if u), None)
    return {
        "law": sweep.law, "mode": sweep.mode, "count": sweep.count, "cost_model": sweep.cost_model,
        "target_loss": sweep.target_loss, "inference_precision": sweep.inference_precision,
        "inference_tokens": sweep.inference_tokens, "gpu": sweep.gpu, "gpus": sweep.gpus,
        "uncertainty": None if unc is None else {k: unc[k] for k in ("level", "samples", "method", "sampled")},
        "assumed": list(sweep.assumed), "notes": sweep.notes, "warnings": sweep.warnings,
    }


def write_csv(sweep: Sweep, path: str) -> None:
    """The plans as CSV (:func:`sweep_columns`, one row per budget), to stdout (``-``) or
    atomically to a file."""
    import sys

    from precplan.io import atomic_write_text

    text = csv_table(sweep_columns(sweep))
    if path == "-":
        sys.stdout.write(text)
    else:
        atomic_write_text(path, text)
