"""``precplan validate``: train small quantized language models and check the law against them.

torch (the ``validate`` extra) is imported only inside the command, and only to train:
``--report`` analyses existing stores without it.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import List, Optional

import typer

from precplan.cli._common import ForceOpt, JsonOpt, LawOpt, PlotOpt, handle_errors, load_cli_law, print_json_warnings

__all__ = ["TORCH_MISSING", "register", "require_torch", "validate"]

TORCH_MISSING = "precplan validate trains models with torch, which is not installed: pip install 'precplan[validate]'"


def require_torch():
    """torch, or a one-line error saying how to install it."""
    from precplan.errors import PrecplanError

    try:
        import torch
    except ImportError:
        raise PrecplanError(TORCH_MISSING) from None
    return torch


@handle_errors
def validate(
    dirs: Optional[List[str]] = typer.Argument(None, help="With --report: result folders (or store files) to merge and analyse."),
    preset: Optional[str] = typer.Option(None, "--preset", help="ci (5 tiny runs, for tests), smoke, quick, gpu or paper (default: gpu when CUDA is present, else quick)."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when present), cuda or cpu."),
    data: Optional[str] = typer.Option(None, "--data", help="python-source (the .py files of this Python environment, as bytes: real code, offline), a text file or folder (as bytes), a nanoGPT .bin of uint16 ids, or a folder with train.bin/val.bin. Default: the built-in synthetic language."),
    out: Optional[str] = typer.Option(None, "--out", help="Results folder: the store (runs*.jsonl), report.md, report.json (default: validate-<preset>)."),
    law: str = LawOpt,
    shard: Optional[str] = typer.Option(None, "--shard", help="Run slice i of n of the sweep (0 <= i < n), e.g. 0/4 .. 3/4 on four GPUs."),
    report: bool = typer.Option(False, "--report", help="Do not train: merge the stores of the given folders (default --out) and report."),
    list_only: bool = typer.Option(False, "--list", help="Do not train: list the preset's runs, what is done and a time estimate."),
    seed: int = typer.Option(0, "--seed", help="Seed of every run (model init and training data order)."),
    seeds: Optional[int] = typer.Option(None, "--seeds", help="Repeat every configuration with this many seeds (--seed, --seed + 1, ...): the report then shows the seed noise and calls effects within it 'not resolved' (default 1; the formats preset: 2)."),
    formats: Optional[str] = typer.Option(None, "--formats", help="Train in these formats instead of the preset's bit widths: one run per format at the preset's format point (N, D), e.g. bf16,e4m3,e5m2,mxfp4,nvfp4 (also mxfp8-e4m3, mxfp8-e5m2, mxfp6-e2m3, mxfp6-e3m2); the report gives each one's loss gap to bf16."),
    formats_backward: bool = typer.Option(False, "--formats-backward", help="With a format: also quantize the backward GEMM inputs (output gradients, weights and activations along each backward GEMM's reduction dimension)."),
    act_granularity: str = typer.Option("token", "--act-granularity", help="Scale of activation and Q/K/V quantization: token (default; one per token, and head: independent of batching) or tensor (one per micro-batch)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads for torch in each worker (default: the worker's share of its machine's cores)."),
    ptq: str = typer.Option("rtn", "--ptq", help="Post-training quantization after each run: rtn (round to nearest) or gptq (Frantar et al. 2022, calibrated on training data; what kumar2024's PTQ constants were fit on)."),
    compile_: bool = typer.Option(False, "--compile", help="Run the training forward pass (fake quantization included) through torch.compile."),
    devices: Optional[str] = typer.Option(None, "--devices", help="One worker process per device, sharing one store: all (every GPU), a list such as cuda:0,cuda:2, or cpu."),
    executor: str = typer.Option("local", "--executor", help="local (this machine), slurm (a submitit job array), slurm:local (submitit's local backend: the same path without a cluster) or ray (RAY_ADDRESS, else a local Ray)."),
    partition: Optional[str] = typer.Option(None, "--partition", help="--executor slurm: the SLURM partition."),
    time_limit: Optional[str] = typer.Option(None, "--time", help="--executor slurm: time limit per task, minutes or H:MM:SS (default 24:00:00)."),
    gpus_per_node: int = typer.Option(1, "--gpus-per-node", help="--executor slurm: GPUs per task (runs use one each)."),
    slurm_param: Optional[List[str]] = typer.Option(None, "--slurm-param", help="--executor slurm: more SLURM settings as key=value (account=..., qos=..., constraint=..., mem=...); repeatable."),
    runs_per_task: Optional[int] = typer.Option(None, "--runs-per-task", help="--executor slurm/ray: runs per task (default 1; slurm:local: runs / CPU cores)."),
    retry: int = typer.Option(0, "--retry", help="Try a run that failed (an exception, out of memory, a data error) up to this many more times within the sweep."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Train again the runs that failed in an earlier sweep (else a rerun leaves them failed)."),
    gpus_per_run: Optional[float] = typer.Option(None, "--gpus-per-run", help="--executor ray: GPUs per task (default 1 where the cluster has GPUs, else 0)."),
    cpus_per_run: Optional[float] = typer.Option(None, "--cpus-per-run", help="--executor ray: CPUs per task, and its torch threads (default 1)."),
    mem_per_run: Optional[str] = typer.Option(None, "--mem-per-run", help="--executor ray: memory per task, e.g. 16GiB (default: Ray's, none reserved)."),
    queue_timeout: float = typer.Option(600.0, "--queue-timeout", help="--executor ray: seconds a task may wait for resources while none runs; then its runs fail, saying what they asked for and what the cluster has."),
    checkpoints: Optional[int] = typer.Option(None, "--checkpoints", help="Measure the validation loss at this many evenly spaced steps of every run, the last being the final step (default 4; 0: at the end only). Each one before the final step is one more pass over the validation set."),
    curves_out: Optional[str] = typer.Option(None, "--curves-out", help="Also write the runs' training curves (validation loss at each checkpoint, and the final loss) to this .csv/.tsv file, the format precplan fit --curves reads; prints the fit command for it."),
    fit_grid: str = typer.Option("full", "--fit-grid", help="Start grid of the base-law fit: full (4,500 starts) or coarse."),
    runs_file: Optional[str] = typer.Option(None, "--runs", help="Train the runs listed in this CSV (shape, tokens, bits, ...: what precplan propose --out writes) instead of a preset."),
    plot: Optional[str] = PlotOpt,
    force: bool = ForceOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Train a sweep of small quantized decoders, fit the law to them, and report where it holds."""
    opts = SimpleNamespace(**locals())  # every option, read by the helpers below
    from precplan.io import check_output_dir
    from precplan.validate import CHECKPOINTS

    the_law, shard_t, format_names, report_dir = _check_args(opts)
    if report:
        return _report_only(opts, the_law, report_dir)
    torch = require_torch()
    name, the_preset, cluster, run_device = _choose_preset(opts, torch, format_names)
    out_dir = out or f"validate-{name}"
    check_output_dir(out_dir, "--out")
    source = _load_data(data, the_preset)
    n_checkpoints = CHECKPOINTS if checkpoints is None else checkpoints
    if list_only:
        return _list(the_preset, source, out_dir, shard_t, json_out, n_checkpoints)
    _train_and_report(opts, torch, the_law, the_preset, name, source, out_dir, shard_t, cluster, run_device, n_checkpoints)


def _check_args(o: SimpleNamespace):
    """Every argument checked before any side effect, torch not yet required: the law, the shard,
    the formats and the folder ``--report`` writes to (None when training)."""
    from precplan.validate import parse_shard

    from precplan.cli._checks_round3 import check_validate_run
    from precplan.cli._validate_checks import check_validate_args

    the_law = load_cli_law(o.law, None)
    shard_t = parse_shard(o.shard)
    format_names = _check_formats(o.formats, o.formats_backward, o.preset, o.report)
    report_dir = check_validate_args(the_law, o.dirs, o.out, o.data, o.law, o.preset, o.report, o.list_only, o.seed,
                                     o.act_granularity, o.fit_grid, o.plot, o.force, o.checkpoints, o.curves_out)
    check_validate_run(o.report, o.list_only, o.seeds, o.devices, o.device, o.executor, o.time_limit, o.partition,
                       o.slurm_param, o.runs_per_task, o.gpus_per_node, o.threads, o.data, o.out)
    if o.dirs and not o.report:
        from precplan.errors import PrecplanError

        raise PrecplanError(f"unexpected argument {o.dirs[0]!r}: folders are only taken with --report (use --out DIR to train)")
    return the_law, shard_t, format_names, report_dir


def _report_only(o: SimpleNamespace, the_law, report_dir) -> None:
    """``--report``: merge the stores of the given folders (default --out) and report, no training."""
    from precplan.validate import read_folders

    folders = list(o.dirs or ([o.out] if o.out else []))
    records, notes = read_folders(folders)
    _analyse(records, notes, the_law, o.fit_grid, report_dir, None, o.plot, o.json_out, o.curves_out)


def _choose_preset(o: SimpleNamespace, torch, format_names):
    """The runs to train (preset name, preset with this command's overrides), the cluster options
    and the device the runs train on; refused in one line before the --out folder is made."""
    from precplan.errors import PrecplanError
    from precplan.validate import get_preset, with_overrides

    if o.runs_file is not None and o.preset is not None:
        raise PrecplanError("--runs FILE and --preset both choose the runs; give one")
    name = "runs" if o.runs_file is not None else o.preset or ("gpu" if torch.cuda.is_available() else "quick")
    if o.runs_file is not None:
        from precplan.validate import preset_from_runs
    the_preset = get_preset(name) if o.runs_file is None else preset_from_runs(o.runs_file)
    name = the_preset.name
    if format_names or o.formats_backward:
        from precplan.validate import with_formats

        the_preset = with_formats(the_preset, format_names or the_preset.formats, o.formats_backward)
    if o.act_granularity not in ("tensor", "token"):
        raise PrecplanError(f"--act-granularity must be tensor or token; got {o.act_granularity!r}")
    if o.ptq not in ("rtn", "gptq"):
        raise PrecplanError(f"--ptq must be rtn or gptq; got {o.ptq!r}")
    if o.devices is not None and o.devices.strip() != "cpu" and o.device == "cpu":
        raise PrecplanError(f"--devices {o.devices} with --device cpu: pick one")
    from precplan.cli._validate_cluster import cluster_options

    cluster = cluster_options(o.executor, o.devices, o.device if not o.list_only else "cpu", o.runs_per_task, o.partition,
                              o.time_limit, o.gpus_per_node, o.slurm_param or (), o.gpus_per_run, o.cpus_per_run,
                              o.mem_per_run, o.queue_timeout, o.retry, o.retry_failed)
    from precplan.validate import compute_kind

    if o.seeds is not None and o.seeds < 1:
        raise PrecplanError(f"--seeds {o.seeds}: expected a number of seeds >= 1")
    run_device = _run_device(o, torch, cluster)
    the_preset = with_overrides(the_preset, seed=o.seed, activation_granularity=o.act_granularity,
                                kv_granularity=o.act_granularity, compute=compute_kind(run_device), seeds=o.seeds,
                                ptq_method=o.ptq)
    return name, the_preset, cluster, run_device


def _run_device(o: SimpleNamespace, torch, cluster) -> str:
    """The device the runs train on: --device, or for auto what the workers or the executor have."""
    if o.device == "auto" and o.devices is not None:
        return "cpu" if o.devices.strip() == "cpu" else "cuda"
    if o.device == "auto" and o.executor == "slurm":
        return "cuda"  # the cluster's GPUs, whatever this (login) node has
    if o.device == "auto" and o.executor == "ray":
        return "cuda" if cluster.ray is not None and cluster.ray.gpus > 0 else "cpu"
    if o.device == "auto" and o.executor == "slurm:local":
        return "cpu" if not torch.cuda.is_available() else "cuda"
    return o.device


def _train_and_report(o: SimpleNamespace, torch, the_law, the_preset, name, source, out_dir, shard_t, cluster, run_device,
                      n_checkpoints) -> None:
    """Train the sweep (here or through the executor), then report on what finished; exit 1 when
    runs failed (after the report of the others, or with why there is none)."""
    from precplan.errors import PrecplanError
    from precplan.cli._render import console
    from precplan.cli._validate_cluster import failure_lines, sweep_start
    from precplan.validate import placement, read_folders, run_sweep, store_files

    if o.threads is not None:
        if o.threads < 1:
            raise PrecplanError(f"--threads {o.threads}: expected a positive number of CPU threads")
        torch.set_num_threads(o.threads)
    started = sweep_start()
    if o.devices is not None or o.executor != "local":
        from precplan.validate import execute

        summary = execute(o.executor, o.devices, the_preset.specs, source, o.data, _need(the_preset), out_dir, name,
                          run_device, o.threads, o.compile_, console(stderr=True), cluster, shard=shard_t,
                          checkpoints=n_checkpoints)
    else:
        where = placement(o.device)
        summary = run_sweep(the_preset.specs, source, where, out_dir, name, shard_t, console=console(stderr=True),
                            compile=o.compile_, checkpoints=n_checkpoints, retry=o.retry, retry_failed=o.retry_failed)
    summary.failures, earlier = failure_lines(out_dir, started)
    if summary.elsewhere and not store_files(out_dir) and not summary.failures:  # a second worker on this shard
        console(stderr=True).print(f"note: all {summary.elsewhere} run(s) of this shard are training in another worker"
                                   f" sharing {out_dir}; nothing to report yet (precplan validate --report {out_dir} later)")
        return
    records, notes = read_folders([out_dir]) if store_files(out_dir) else ([], [])
    try:
        _analyse(records, notes + summary.warnings + earlier, the_law, o.fit_grid, out_dir, summary, o.plot, o.json_out,
                 o.curves_out)
    except PrecplanError as exc:
        if not summary.failures:
            raise
        for line in summary.failures:  # too few runs finished to report on: the failures, then why no report
            console(stderr=True).print(line, soft_wrap=True, highlight=False)
        console(stderr=True).print(f"no report: {exc}", soft_wrap=True, highlight=False)
        raise typer.Exit(1) from None
    if summary.failures:
        raise typer.Exit(1)  # the report of what finished is written; the failures said in one line each


def _check_formats(formats, backward, preset, report) -> tuple[str, ...]:
    """The canonical names of ``--formats`` (none: ()), refused in one line before any side effect."""
    from precplan.errors import PrecplanError
    from precplan.validate import parse_formats

    if report and (formats is not None or backward):
        raise PrecplanError("--formats and --formats-backward are training options; --report reads what the stores hold")
    if backward and formats is None and preset != "formats":
        raise PrecplanError("--formats-backward needs --formats LIST (or --preset formats)")
    return () if formats is None else parse_formats(formats)


def _need(preset) -> tuple[int, int]:
    """Training and validation tokens the preset's largest run reads (sizes python-source)."""
    return (max(s.steps * s.batch_size * s.seq_len for s in preset.specs),
            max(s.val_tokens + s.seq_len + 1 for s in preset.specs))


def _load_data(data, preset):
    """The token source, sized for the whole preset (every shard and worker reads the same
    corpus), refused when its validation split is smaller than the runs evaluate on."""
    from precplan.validate import load_source

    source = load_source(data, need=_need(preset))
    check = getattr(source, "check_validation", None)
    if check is not None:
        for s in {(x.val_tokens, x.seq_len) for x in preset.specs}:
            check(*s)
    return source


def _analyse(records, notes, law, grid, out_dir, summary, plot, json_out, curves_out=None) -> None:
    """Analyse, write report.md/report.json (the plot, the curves file), then print."""
    import shlex
    import sys

    from precplan.cli._render import print_json
    from precplan.validate import analyze
    from precplan.cli._validate_report import print_report, report_json, write_report

    curves = None
    if curves_out:
        from precplan.validate import curve_rows

        curves = curve_rows(records)  # refused (one line) before any analysis or writing
    rep = analyze(records, law, grid=grid)
    rep.warnings[:0] = notes
    command = "precplan " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else None
    files = [str(p) for p in write_report(out_dir, rep, command, summary)]
    if plot:
        from precplan.plots import save_figure
        from precplan.plots import validate_figure

        files.append(str(save_figure(validate_figure(rep), plot)))
    curves_doc = None if curves is None else _write_curves(curves_out, curves, files)
    if json_out:
        doc = report_json(rep, summary)
        doc["files"] = files
        if curves_doc is not None:
            doc["curves"] = curves_doc
        print_json(doc)
        print_json_warnings(rep.warnings)
        for line in summary.failures if summary is not None else ():
            print(line, file=sys.stderr)
        return
    print_report(rep)
    from precplan.cli._render import console

    if summary is not None:
        console().print(f"sweep: ran {summary.ran}, skipped {summary.skipped} already finished, {summary.diverged} diverged,"
                        f" {summary.wall_s:.0f} s on {summary.device}; store {summary.store}"
                        + (f"; {summary.elsewhere} still training in other workers" if summary.elsewhere else ""))
    if summary is not None:
        for line in summary.failures:
            console(stderr=True).print(f"[red]{line}[/red]", soft_wrap=True, highlight=False)
    console().print("wrote " + ", ".join(files))
    if curves_doc is not None:
        from precplan.cli._render import print_notes

        print_notes(curves_doc["notes"])
        console().print(f"fit the law on these curves with:\n  {curves_doc['fit_command']}", soft_wrap=True)
        print_notes([curves_doc["fit_note"]])


def _write_curves(curves_out: str, curves, files: list[str]) -> dict:
    """Write the training curves export (appending its path to ``files``); its JSON summary."""
    from precplan.validate import fit_args, fit_command, fit_note, write_curves

    files.append(str(write_curves(curves_out, curves)))
    has = curves.with_checkpoints > 0
    return {"path": files[-1], "rows": len(curves.rows), "runs": curves.runs,
            "runs_with_checkpoints": curves.with_checkpoints, "runs_final_loss_only": curves.final_only,
            "diverged_left_out": curves.diverged, "notes": curves.notes, "fit_args": fit_args(files[-1], has)[1:],
            "fit_command": fit_command(files[-1], has), "fit_note": fit_note(has)}


def _list(preset, source, out_dir, shard, json_out, checkpoints) -> None:
    from pathlib import Path

    from precplan.cli._render import console, fmt, print_json, table
    from precplan.units import format_count
    from precplan.validate import finished_ids, live_claims, read_failures, shard_slice

    done = finished_ids(out_dir) if Path(out_dir).exists() else set()
    failed = read_failures(out_dir)
    running = live_claims(out_dir) if Path(out_dir).exists() else set()
    mine = shard_slice(preset.specs, *shard)
    rows = []
    for s in mine:
        rid = s.run_id(source.fingerprint)
        d = s.steps * s.batch_size * s.seq_len
        rows.append({"run_id": rid, "params": s.params, "tokens": d, "format": s.format or None, "weight_bits": s.weight_bits,
                     "activation_bits": s.activation_bits, "kv_bits": s.kv_bits, "lr": s.lr, "steps": s.steps,
                     "done": rid in done, "running": rid in running and rid not in done,
                     "failed": failed[rid]["cause"] if rid in failed else None,
                     "repeats_data": bool(source.repeat_warning(d))})
    estimate = preset.estimate_seconds(source.vocab_size, mine, checkpoints)
    doc = {"preset": preset.name, "description": preset.description, "shard": list(shard), "data": source.name,
           "runs": rows, "estimated_seconds": estimate, "estimate_device": preset.device_hint}
    if json_out:
        print_json(doc)
        return
    cols = ["run id", "N", "D", "w/a/kv or format", "lr", "steps", "status"]
    body = [[r["run_id"], format_count(r["params"]), format_count(r["tokens"]),
             s.bits_label if s.format else f"{r['weight_bits']}/{r['activation_bits']}/{r['kv_bits']}", fmt(r["lr"]),
             str(r["steps"]),
             "done" if r["done"] else "training (claimed by a live worker)" if r["running"]
             else "failed (--retry-failed)" if r["failed"]
             else ("pending, repeats data" if r["repeats_data"] else "pending")] for s, r in zip(mine, rows)]
    out = console()
    out.print(table(f"{preset.name}: {preset.description} (shard {shard[0]}/{shard[1]}: {len(rows)} runs)", cols, body))
    out.print(f"data: {source.name}; estimated time on {preset.device_hint} for this shard: {estimate / 60:.0f} min"
              f" (rough); {sum(r['done'] for r in rows)} done in {out_dir}")


def register(app: typer.Typer) -> None:
    """Add this command to the app."""
    app.command("validate")(validate)
