"""Checks of the options added since the first round of hostile-input hardening (README "Bad
input"): every count bounded (the bound in the message), options that do nothing in the chosen
mode refused, device and executor options checked against what this machine has, all before
any side effect. Implausible but legal values pass with one ``warning:`` line on stderr."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from precplan.errors import PrecplanError

__all__ = [
    "MAX_SEEDS", "MAX_DEVICES", "MAX_RUNS_PER_TASK", "MAX_THREADS", "MAX_REQUEST_TOKENS", "MAX_BATCH_PLAUSIBLE",
    "given", "warn", "check_optimize_extras", "kv_card_warnings", "check_fit_curve_options", "check_validate_run",
]

MAX_SEEDS = 100  # seeds per configuration: 100 already multiplies a sweep a hundredfold
MAX_DEVICES = 1024  # worker processes on one machine
MAX_RUNS_PER_TASK = 100_000
MAX_THREADS = 4096
MAX_REQUEST_TOKENS = 1e9  # tokens in one request (prompt or output): far beyond any context window
MAX_BATCH_PLAUSIBLE = 65_536  # sequences decoded together on one card, beyond which a warning is printed
MIN_MFU_PLAUSIBLE = 0.01
MIN_PRICE, MAX_PRICE = 1e-4, 1e6  # dollars per GPU-hour


def given(name: str) -> bool:
    """Whether the option behind parameter ``name`` was given on the command line (not its default)."""
    ctx = None
    try:  # typer >= 0.17 carries its own copy of click
        from typer._click.globals import get_current_context  # type: ignore[import-not-found]

        ctx = get_current_context(silent=True)
    except ImportError:
        pass
    if ctx is None:
        import click

        ctx = click.get_current_context(silent=True)
    if ctx is None:
        return False
    source = ctx.get_parameter_source(name)
    return source is not None and getattr(source, "name", "") != "DEFAULT"


def warn(message: str) -> None:
    """One ``warning: ...`` line on stderr (newlines escaped: always one line)."""
    sys.stderr.write("warning: " + message.replace("\r", "\\r").replace("\n", "\\n") + "\n")


def _finite(text: str | None, option: str) -> float | None:
    """A number as typed, refused when not finite (``inf``, ``nan``) whatever else is checked later."""
    if text is None:
        return None
    from precplan.units import parse_count

    t = str(text).strip()
    try:
        v = float(t)
    except ValueError:
        return parse_count(t, option) if t else None
    if not math.isfinite(v):
        raise PrecplanError(f"{option} {t}: not a finite number; give a positive number such as 1e3")
    return v


def check_optimize_extras(gpu: str | None, hardware: str | None, serve_memory: str | None, serve_kv: str | None,
                          serve_activations: str | None, inference_tokens: str | None, json_columns: bool,
                          mfu: str | None, prefill_mfu: str | None, price: str | None, batch: str | None,
                          input_tokens: str | None, output_tokens: str | None, context: str | None) -> None:
    """``optimize``: options that do nothing without another one, non-finite request sizes,
    absurd prices; warnings for implausible MFU and batch sizes."""
    if hardware is not None and gpu is None and not _names_card(serve_memory, hardware):
        raise PrecplanError("--hardware is the catalog --gpu (or a card in --serve-memory) is looked up in; give --gpu"
                            " NAME with it, or leave --hardware out")
    served = inference_tokens is not None or serve_memory is not None or gpu is not None  # a GPU plan reports its KV cache
    for option, value in (("--serve-kv", serve_kv), ("--serve-activations", serve_activations)):
        if value is not None and not served:
            raise PrecplanError(f"{option} sets a serving precision, and nothing is served here: give --inference-tokens"
                                " (serving compute), --serve-memory (serving memory) or --gpu, or leave it out")
    if json_columns and gpu is not None and len([g for g in gpu.split(",") if g.strip()]) > 1:
        raise PrecplanError("--json-columns writes one GPU's sweep as columns; with several GPUs (--gpu a,b) use --json")
    for option, text in (("--input-tokens", input_tokens), ("--output-tokens", output_tokens), ("--context", context),
                         ("--batch", batch)):
        v = _finite(text, option)
        if v is not None and v > MAX_REQUEST_TOKENS and option != "--batch":
            raise PrecplanError(f"{option} {text}: at most {MAX_REQUEST_TOKENS:.0e} tokens per request")
    if price is not None:
        for item in (t for t in price.split(",") if t.strip()):
            p = _finite(item, "--price")
            if p is not None and p > 0 and not MIN_PRICE <= p <= MAX_PRICE:
                raise PrecplanError(f"--price {item.strip()}: dollars per GPU-hour must be from {MIN_PRICE:g} to {MAX_PRICE:g}")
    for option, text in (("--mfu", mfu), ("--prefill-mfu", prefill_mfu)):
        v = _finite(text, option)
        if v is not None and 0 < v < MIN_MFU_PLAUSIBLE:
            warn(f"{option} {text}: an MFU under {MIN_MFU_PLAUSIBLE:.0%} is far below any real training or serving"
                 " (typical 0.3 to 0.6); the plan takes it as given")
    b = _finite(batch, "--batch")
    if b is not None and b > MAX_BATCH_PLAUSIBLE and gpu is None:  # on a GPU, kv_card_warnings speaks for it
        warn(f"--batch {batch}: {b:.3g} sequences decoded together is far beyond any serving setup (typical 1 to"
             f" {MAX_BATCH_PLAUSIBLE:,}); the plan takes it as given")


def kv_card_warnings(sweep: Any, spec: Any) -> list[str]:
    """``sweep``: a Plan or a Sweep. One warning when a plan's KV cache (--batch sequences of --context tokens) is larger than
    the card it is served on: legal, and the plan stands, but no such card serves it."""
    if spec is None:
        return []
    import numpy as np

    raw = getattr(sweep, "kv_cache_bytes", None)  # a Plan's number or a Sweep's array
    kv = np.atleast_1d(np.asarray([] if raw is None else raw, dtype=float))
    kv = kv[np.isfinite(kv)]
    card = float(spec.gpu.total_memory)
    if kv.size == 0 or kv.max() <= card:
        return []
    return [f"the KV cache ({kv.max():.3g} B: --batch sequences x --context tokens) is larger than the {spec.gpu.label}'s"
            f" memory ({card:.3g} B): serving it needs more cards, a smaller batch or a shorter context"]


def _names_card(serve_memory: str | None, hardware: str) -> bool:
    """Whether ``--serve-memory`` names a card (looked up in the --hardware catalog), not a size."""
    if serve_memory is None:
        return False
    from precplan.units import parse_bytes

    try:
        parse_bytes(serve_memory, "--serve-memory")
    except PrecplanError:
        return True
    return False


def check_fit_curve_options(runs: str | None, curves: bool | None) -> None:
    """``fit``: --min-tokens and --skip-fraction act on training curves only."""
    extra = [o for o, name in (("--min-tokens", "min_tokens"), ("--skip-fraction", "skip_fraction")) if given(name)]
    if not extra or runs is None or curves:
        return
    if curves is None:
        from precplan.fit import looks_like_curves

        if looks_like_curves(runs):
            return
    raise PrecplanError(f"{extra[0]} drops early checkpoints of training curves, and {runs} holds final losses (one row"
                        " per run): leave it out, or give a curves file (--curves)")


def check_validate_run(report: bool, list_only: bool, seeds: int, devices: str | None, device: str, executor: str,
                       time_limit: str | None, partition: str | None, slurm_param: Sequence[str] | None,
                       runs_per_task: int | None, gpus_per_node: int, threads: int | None, data: str | None,
                       out: str | None) -> None:
    """``validate``: counts bounded, options of another mode or executor refused, the executor
    and the devices checked against this machine, and --data apart from --out; before the
    results folder is created or torch imported."""
    from precplan.validate import EXECUTORS

    if seeds is not None and (isinstance(seeds, bool) or not 1 <= seeds <= MAX_SEEDS):  # None: the preset's own count
        raise PrecplanError(f"--seeds {seeds}: expected a number of seeds from 1 to {MAX_SEEDS}")
    if executor not in EXECUTORS:
        raise PrecplanError(f"--executor {executor!r}: expected one of {', '.join(EXECUTORS)}")
    if device not in ("auto", "cuda", "cpu"):
        raise PrecplanError(f"--device {device!r}: expected auto, cuda or cpu")
    training = {"--seeds": "seeds", "--devices": "devices", "--device": "device", "--executor": "executor",
                "--time": "time_limit", "--partition": "partition", "--slurm-param": "slurm_param",
                "--runs-per-task": "runs_per_task", "--gpus-per-node": "gpus_per_node", "--threads": "threads",
                "--compile": "compile_", "--ptq": "ptq"}
    if report:
        extra = next((o for o, name in training.items() if given(name)), None)
        if extra is not None:
            raise PrecplanError(f"{extra} is a training option; --report only reads the stores (leave {extra} out)")
        return
    _check_counts(runs_per_task, threads, gpus_per_node)
    if devices is not None and executor != "local":
        raise PrecplanError("--devices is for one machine (--executor local); a cluster executor gives each task its own GPU")
    _check_executor(executor, time_limit, partition, slurm_param, runs_per_task, gpus_per_node, list_only)
    if devices is not None:
        _check_devices(devices, device, executor, list_only)
    elif device == "cuda" and executor == "local" and not list_only and _gpu_count() == 0:
        raise PrecplanError("--device cuda: no CUDA GPU is visible on this machine (use --device cpu or auto)")
    if data is not None and data.strip():
        _check_data_apart(data, out)


def _check_counts(runs_per_task: int | None, threads: int | None, gpus_per_node: int) -> None:
    for option, v, hi in (("--runs-per-task", runs_per_task, MAX_RUNS_PER_TASK), ("--threads", threads, MAX_THREADS),
                          ("--gpus-per-node", gpus_per_node, 64)):
        if v is not None and not 1 <= v <= hi:
            raise PrecplanError(f"{option} {v}: expected a whole number from 1 to {hi:,}")


def _check_executor(executor: str, time_limit: str | None, partition: str | None, slurm_param: Sequence[str] | None,
                    runs_per_task: int | None, gpus_per_node: int, list_only: bool) -> None:
    import shutil

    slurm_only = [o for o, v in (("--time", time_limit), ("--partition", partition), ("--slurm-param", slurm_param or None))
                  if v is not None]
    if given("gpus_per_node"):
        slurm_only.append("--gpus-per-node")
    if slurm_only and not executor.startswith("slurm"):
        raise PrecplanError(f"{slurm_only[0]} is a SLURM option (--executor slurm); it does nothing with --executor {executor}")
    if runs_per_task is not None and executor == "local":
        raise PrecplanError("--runs-per-task groups runs into cluster tasks (--executor slurm, slurm:local or ray); the local"
                            " executor shares runs among its workers by itself")
    from precplan.validate import parse_time, slurm_params

    parse_time(time_limit)
    slurm_params(partition, None, gpus_per_node, list(slurm_param or ()), False, "check")
    if list_only:  # --list submits nothing: what this machine lacks matters when it trains
        return
    if executor.startswith("slurm"):
        import importlib.util

        if importlib.util.find_spec("submitit") is None:
            raise PrecplanError(f"--executor {executor} needs submitit, which is not installed: pip install 'precplan[slurm]'")
        if executor == "slurm" and not (shutil.which("sbatch") and shutil.which("srun")):
            raise PrecplanError("--executor slurm: no SLURM on this machine (sbatch and srun are not on PATH); run on a"
                                " SLURM login node, or use --executor slurm:local to try the same path here")
    if executor == "ray":
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise PrecplanError("--executor ray needs ray, which is not installed: pip install 'precplan[ray]'")


def _check_devices(devices: str, device: str, executor: str, list_only: bool) -> None:
    text = devices.strip()
    if not text:
        raise PrecplanError("--devices is empty; give all, cpu, or a list of cuda:N (e.g. cuda:0,cuda:2)")
    if executor != "local":
        raise PrecplanError("--devices is for one machine (--executor local); a cluster executor gives each task its own GPU")
    if text == "cpu":
        if device == "cuda":
            raise PrecplanError("--devices cpu with --device cuda: pick one")
        return
    if device == "cpu":
        raise PrecplanError(f"--devices {text} with --device cpu: pick one")
    if text != "all":
        parts = [p.strip() for p in text.split(",")]
        if len(parts) > MAX_DEVICES:
            raise PrecplanError(f"--devices: {len(parts)} devices; at most {MAX_DEVICES}")
        for part in parts:
            if not part.startswith("cuda:") or not part[5:].isdigit() or len(part) > 10:
                raise PrecplanError(f"--devices {text!r}: expected all, cpu, or a list of cuda:N (e.g. cuda:0,cuda:2)")
        if len(set(parts)) != len(parts):
            raise PrecplanError(f"--devices {text!r}: a device is listed twice")
        if list_only:
            return
        n = _gpu_count()
        missing = [p for p in parts if int(p[5:]) >= n]
        if missing:
            seen = "no CUDA GPU is visible" if n == 0 else f"{n} CUDA GPU(s) are visible (cuda:0 to cuda:{n - 1})"
            raise PrecplanError(f"--devices {text}: {missing[0]} is not on this machine: {seen}")
    elif not list_only and _gpu_count() == 0:
        raise PrecplanError("--devices all: no CUDA GPU is visible (use --devices cpu, or run on a GPU machine)")


def _gpu_count() -> int:
    """Visible CUDA devices (0 without torch or CUDA); torch counts them without a CUDA context."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return 0
    try:
        import torch
    except ImportError:
        return 0
    try:
        return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0
    except Exception:  # a broken driver counts as no GPU
        return 0


def _check_data_apart(data: str, out: str | None) -> None:
    """--data and --out must not be one folder or nested: the results would become training data."""
    if data.strip() == "python-source" and not Path(data).exists():
        return
    target = out or None
    if target is None:
        return
    d, o = os.path.abspath(data), os.path.abspath(target)
    if d == o or o.startswith(d.rstrip(os.sep) + os.sep) or d.startswith(o.rstrip(os.sep) + os.sep):
        raise PrecplanError(f"--data {data} and --out {target} are the same folder or one holds the other; the results"
                            " would be read as training data: give --out a folder outside the data")
