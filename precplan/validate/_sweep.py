"""Run a sweep: skip finished runs, train the rest, append each result to the store.

Every run is trained under its claim (:func:`precplan.validate._store.claim_run`): any number
of sweeps over one store folder (processes, GPUs, cluster tasks) share the work and train each
run once; a run another live worker holds is left to it.

Progress: one bar for the sweep (measured in estimated FLOPs, so its ETA weighs big runs
properly) and one for the current run (tokens, tokens/s, training loss, ETA).
"""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from precplan.units import format_count
from precplan.validate._data import Source
from precplan.validate._formats import quantizer_label
from precplan.validate._model import SHAPES
from precplan.validate._failures import TRANSIENT, classify, maybe_inject_failure
from precplan.validate._store import (
    StoreReader, append_record, claim_run, failure_record, finished_ids, prune_claims, read_failures, shard_slice,
    writer_path,
)
from precplan.validate._train import CHECKPOINTS, Outcome, Placement, RunSpec, train_run

__all__ = ["PTQ_METHOD_LABEL", "SweepSummary", "make_record", "pending", "run_cost", "run_sweep"]


@dataclass
class SweepSummary:
    """What a sweep did."""

    preset: str
    store: str
    shard: tuple[int, int]
    planned: int
    skipped: int
    ran: int
    diverged: int
    wall_s: float
    device: str
    data: str
    warnings: list[str] = field(default_factory=list)
    elsewhere: int = 0  # runs another live worker was training when this sweep ended
    failed: int = 0  # runs whose last attempt in this sweep failed (recorded in failed-*.jsonl)
    retried: int = 0  # failed attempts that were tried again (--retry)
    failures: list[str] = field(default_factory=list)  # one line per failure class (set by the command)


PTQ_METHOD_LABEL = {"rtn": "rtn-per-channel", "gptq": "gptq-per-channel"}


def _gptq_settings() -> dict[str, Any]:
    """GPTQ's settings (Frantar et al. 2022): Hessian damping, columns per block, calibration sequences."""
    from precplan.validate._gptq import BLOCK, DAMP
    from precplan.validate._train import CALIBRATION_SEQUENCES

    return {"damp": DAMP, "block": BLOCK, "calibration_sequences": CALIBRATION_SEQUENCES}


def make_record(spec: RunSpec, run_id: str, outcome: Outcome, source: Source, where: Placement, preset: str) -> dict[str, Any]:
    """One store line. The keys the fit code reads (run_id, params, tokens, loss, weight_bits,
    activation_bits, kv_bits, ptq, diverged) stay fixed; the rest documents the run."""
    import torch

    from precplan import __version__

    shape = SHAPES[spec.shape]
    return {
        "run_id": run_id,
        "params": shape.params,
        "tokens": spec.steps * spec.batch_size * spec.seq_len,
        "loss": outcome.loss,
        "weight_bits": spec.weight_bits,
        "activation_bits": spec.activation_bits,
        "kv_bits": spec.kv_bits,
        "ptq": outcome.ptq,
        "ptq_method": PTQ_METHOD_LABEL[spec.ptq_method],
        # a training format (e4m3, mxfp4, nvfp4, ...; the bits above are its element bits); None (and
        # absent in older stores): the integer bit-width path
        "format": spec.format or None,
        "format_backward": bool(spec.format and spec.format_backward),
        "diverged": outcome.diverged,
        "diverged_at_tokens": outcome.diverged_at_tokens,
        "seed": spec.seed,
        "config": {
            "shape": spec.shape, "d_model": shape.d_model, "n_layers": shape.n_layers, "n_heads": shape.n_heads,
            "d_ff": shape.d_ff, "vocab": source.vocab_size, "seq_len": spec.seq_len, "batch_size": spec.batch_size,
            "steps": spec.steps, "lr": spec.lr, "weight_decay": spec.weight_decay, "warmup_frac": spec.warmup_frac,
            "min_lr_frac": spec.min_lr_frac, "val_tokens": spec.val_tokens, "ptq_bits": list(spec.ptq_bits),
            # every setting a measurement depends on (the comparability key of _report.check_comparable)
            "weight_granularity": "channel", "activation_granularity": spec.activation_granularity,
            "kv_granularity": spec.kv_granularity, "quantizer": quantizer_label(spec.format), "ptq_method": spec.ptq_method,
            "gptq": _gptq_settings() if spec.ptq_method == "gptq" else None,
            "compute": spec.compute, "device_kind": where.device.type, "dtype": where.dtype,
            "micro_batch": outcome.micro_batch, "eval_batch": outcome.eval_batch, "compiled": outcome.compiled,
        },
        "initial_train_loss": outcome.initial_train_loss,
        "final_train_loss": outcome.final_train_loss,
        "curve": outcome.curve,
        # validation loss at evenly spaced steps, the last being the final step ([] with --checkpoints 0;
        # absent from stores written before checkpoints were recorded): what --curves-out exports
        "checkpoints": outcome.checkpoints,
        "tokens_per_s": round(outcome.tokens_per_s, 1),
        "wall_s": round(outcome.wall_s, 2),
        "device": where.label,
        "data": source.name,
        "data_fingerprint": source.fingerprint,
        "preset": preset,
        "precplan_version": __version__,
        "torch_version": torch.__version__,
        "finished_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def run_cost(spec: RunSpec, vocab: int) -> float:
    """Training FLOPs of a run (the sweep bar's unit)."""
    return SHAPES[spec.shape].flops_per_token(vocab, spec.seq_len) * spec.steps * spec.batch_size * spec.seq_len


def pending(specs: Sequence[RunSpec], source: Source, out_dir: str | Path, shard: tuple[int, int],
            retry_failed: bool = False) -> tuple[list[RunSpec], int]:
    """This shard's runs not yet in any store of ``out_dir``, nor failed before (unless
    ``retry_failed``), and how many were skipped."""
    mine = shard_slice(specs, *shard)
    done = finished_ids(out_dir) if Path(out_dir).exists() else set()
    if not retry_failed:
        done |= set(read_failures(out_dir))
    todo = [s for s in mine if s.run_id(source.fingerprint) not in done]
    return todo, len(mine) - len(todo)


def _log_failure(out_dir: str | Path, run_id: str, exc: BaseException) -> str:
    """The traceback of a failed attempt, in ``<out>/logs/failed/``; its path."""
    import os
    import socket
    import traceback

    folder = Path(out_dir) / "logs" / "failed"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{run_id}-{socket.gethostname()}-{os.getpid()}.log"
    with open(path, "a") as fh:
        fh.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)) + "\n")
    return str(path)


def run_sweep(
    specs: Sequence[RunSpec],
    source: Source,
    where: Placement,
    out_dir: str | Path,
    preset: str,
    shard: tuple[int, int] = (0, 1),
    console: Any = None,
    on_record: Callable[[dict[str, Any]], None] | None = None,
    compile: bool = False,
    checkpoints: int = CHECKPOINTS,
    retry: int = 0,
    retry_failed: bool = False,
    file_shard: tuple[int, int] | None = None,
) -> SweepSummary:
    """Train this shard's unfinished runs in grid order, appending one record per run, with the
    validation loss at ``checkpoints`` evenly spaced steps of each (:func:`train_run`).

    A run that raises is recorded as failed (:func:`precplan.validate._store.failure_record`: its
    cause in one line, the traceback's log file) and the sweep goes on to the next run; a
    transient failure is tried again up to ``retry`` more times. Runs that failed in an earlier
    sweep are trained again only with ``retry_failed``. ``file_shard``: the shard named in this
    writer's store file (default ``shard``; a cluster task gets its runs already sliced)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    t0 = time.perf_counter()
    specs = [s if s.compute == where.compute else replace(s, compute=where.compute) for s in specs]
    todo, skipped = pending(specs, source, out_dir, shard, retry_failed)
    skipped0 = skipped
    prune_claims(out_dir)
    path = writer_path(out_dir, file_shard or shard)
    fail_path = writer_path(out_dir, file_shard or shard, kind="failed")
    stored, failures = StoreReader(out_dir), StoreReader(out_dir, "failed*.jsonl")
    failures.poll()
    tries_before = dict(failures.counts)

    def is_done(rid: str) -> bool:  # stored, or failed meanwhile in another worker (it is not retried twice)
        failures.poll()
        return rid in stored.ids() or failures.counts.get(rid, 0) > tries_before.get(rid, 0)

    failed = retried = 0
    warnings = sorted({w for s in todo if (w := source.repeat_warning(s.steps * s.batch_size * s.seq_len))})
    diverged = 0
    columns = (
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
    )
    if console is not None:
        for w in warnings:
            console.print(f"[yellow]warning:[/yellow] {w}")
    ran = 0
    deferred: list[RunSpec] = []
    elsewhere: list[RunSpec] = []
    with Progress(*columns, console=console, transient=False) as progress:
        total = sum(run_cost(s, source.vocab_size) for s in todo)
        sweep = progress.add_task(f"sweep {preset}", total=max(total, 1.0), info=f"0/{len(todo)} runs")
        queue, second_pass = list(todo), False
        while queue:
            for spec in queue:
                cost, base = run_cost(spec, source.vocab_size), progress.tasks[sweep].completed
                claim = claim_run(out_dir, spec.run_id(source.fingerprint), is_done=is_done)
                if claim == "claimed" and not second_pass:  # another worker trains it; look again at the end
                    deferred.append(spec)
                    continue
                if isinstance(claim, str):  # finished meanwhile by another worker, or still theirs
                    skipped += claim == "finished"
                    if claim == "claimed":
                        elsewhere.append(spec)
                    progress.update(sweep, completed=base + cost)
                    continue
                with claim:
                    run_tokens = spec.steps * spec.batch_size * spec.seq_len
                    task = progress.add_task(f"  N={spec.shape} D={format_count(run_tokens)} {spec.bits_label} s{spec.seed}",
                                             total=run_tokens, info="")
                    rid = spec.run_id(source.fingerprint)
                    for attempt in range(retry + 1):
                        started = time.perf_counter()

                        def update(done: int, total_tokens: int, loss: float, task=task, base=base, cost=cost, started=started) -> None:
                            rate = done / max(time.perf_counter() - started, 1e-9)
                            progress.update(task, completed=done, info=f"{rate:,.0f} tok/s  loss {loss:.3f}")
                            progress.update(sweep, completed=base + cost * done / total_tokens)

                        try:
                            maybe_inject_failure(rid, out_dir)
                            outcome = train_run(spec, source, where, on_progress=update, compile=compile,
                                                checkpoints=checkpoints)
                            record = make_record(spec, rid, outcome, source, where, preset)
                            cut = append_record(path, record)  # before the claim is let go (the with block's exit)
                            if cut:
                                warnings.append(f"{path}: removed a partial last line ({cut} bytes) left by a killed"
                                                " writer of this file; its run is trained again")
                            break
                        except Exception as exc:  # a failed run is recorded; the sweep goes on
                            kind, cause = classify(exc)
                            log = _log_failure(out_dir, rid, exc)
                            append_record(fail_path, failure_record(
                                rid, cause, kind, log, params=spec.params, micro_batch=_micro(spec, source, where),
                                attempt=attempt + 1, preset=preset, device=where.label))
                            if console is not None:
                                console.print(f"[red]run {rid} failed[/red] (attempt {attempt + 1}): {cause}")
                            outcome = None
                            if kind == "oom":
                                _free_cuda()
                            if kind not in TRANSIENT or attempt == retry:
                                break
                            retried += 1
                if outcome is None:
                    failed += 1
                    progress.remove_task(task)
                    progress.update(sweep, completed=base + cost)
                    continue
                ran += 1
                diverged += outcome.diverged
                if on_record:
                    on_record(record)
                progress.remove_task(task)
                progress.update(sweep, completed=base + cost, info=f"{ran + skipped - skipped0}/{len(todo)} runs")
            queue, deferred, second_pass = deferred, [], True
    return SweepSummary(
        preset=preset, store=str(path), shard=shard, planned=len(todo) + skipped0, skipped=skipped,
        ran=ran, diverged=diverged, wall_s=time.perf_counter() - t0, device=where.label,
        data=source.name, warnings=warnings, elsewhere=len(elsewhere), failed=failed, retried=retried,
    )


def _free_cuda() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _micro(spec: RunSpec, source: Source, where: Placement) -> int | None:
    """The micro-batch a run uses (for a failure's line), or None when it cannot be told."""
    try:
        from precplan.validate._train import micro_batch_size

        return micro_batch_size(spec, source.vocab_size, where)
    except Exception:
        return None
