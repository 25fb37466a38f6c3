"""``validate``: train small quantized decoders (PyTorch, the ``validate`` extra), store the runs,
fit the law to them and report how well it holds.

torch is imported only when a name that needs it is used, so ``import precplan.validate`` and
the store/report functions stay light (``fit`` reads the store without torch).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "analyze": "_report", "ValidationReport": "_report",
    "read_store": "_store", "read_folders": "_store", "append_record": "_store", "store_path": "_store",
    "finished_ids": "_store", "parse_shard": "_store", "claim_run": "_store", "live_claims": "_store",
    "check_comparable": "_report", "seed_noise": "_report",
    "execute": "_executors", "run_group": "_executors",
    "writer_path": "_store", "read_failures": "_store", "StoreReader": "_store",
    "ClusterOptions": "_executors", "RayResources": "_executors", "summarize_failures": "_failures",
    "gptq_quantize": "_gptq",
    "curve_rows": "_curves", "write_curves": "_curves", "CurveExport": "_curves", "checkpoint_steps": "_curves",
    "python_source": "_data",
    "get_preset": "_presets", "Preset": "_presets", "PRESETS": "_presets",
    "run_sweep": "_sweep", "SweepSummary": "_sweep",
    "RunSpec": "_train", "train_run": "_train",
    "load_source": "_data", "Source": "_data",
    "Decoder": "_model", "QuantConfig": "_model",
    "fake_quant": "_quant",
    # used by the command line
    "CHECKPOINTS": "_curves", "MAX_CHECKPOINTS": "_curves", "check_curves_path": "_curves", "fit_args": "_curves",
    "fit_command": "_curves", "fit_note": "_curves", "EXECUTORS": "_executors", "parse_time": "_executors", "slurm_params": "_executors", "store_files": "_store", "compute_kind": "_train",
    "placement": "_train", "shard_slice": "_store", "with_overrides": "_presets",
    "parse_formats": "_formats", "get_format": "_formats", "TrainFormat": "_formats",
    "quantize_format": "_fpquant", "fake_quant_format": "_fpquant", "format_linear": "_fpquant",
    "format_gaps": "_format_report", "with_formats": "_presets", "preset_from_runs": "_runs_file",
    "check_cluster": "_executors", "ray_gpus": "_executors", "read_failures": "_store",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"precplan.validate.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'precplan.validate' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
