"""Where runs execute: device workers, submitit (its local backend: what CI can run), Ray."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from precplan.errors import PrecplanError
from precplan.validate._executors import cuda_devices, groups, parse_time, slurm_params
from precplan.validate._store import read_store, store_path

ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def _validate(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "precplan", "validate", *args], env=_env(), capture_output=True,
                          text=True, timeout=timeout)


def _stored_once(out: Path, n: int) -> list[dict]:
    records = []
    for f in sorted(out.glob("runs*.jsonl")):
        recs, notes = read_store(f)
        assert notes == []
        records += recs
    ids = [r["run_id"] for r in records]
    assert len(ids) == len(set(ids)) == n, ids
    return records


def test_time_limits_and_slurm_parameters():
    assert parse_time("240") == 240 and parse_time("4:00:00") == 240 and parse_time("1:30") == 90
    assert parse_time("1-00:00:00") == 1440 and parse_time("0:00:30") == 1 and parse_time(None) is None
    for bad in ("4h", "0", "a:b", "1:2:3:4"):
        with pytest.raises(PrecplanError, match="--time"):
            parse_time(bad)
    p = slurm_params("gpu", 90, 1, ["account=proj", "mem=64G", "cpus_per_task=8"], local=False, name="precplan-gpu")
    assert p == {"timeout_min": 90, "gpus_per_node": 1, "tasks_per_node": 1, "nodes": 1, "name": "precplan-gpu",
                 "slurm_partition": "gpu", "slurm_account": "proj", "slurm_mem": "64G", "slurm_cpus_per_task": 8}
    with pytest.raises(PrecplanError, match="--slurm-param"):
        slurm_params(None, None, 1, ["account"], local=False, name="x")
    assert slurm_params(None, None, 0, [], local=True, name="x")["gpus_per_node"] == 0
    assert groups(list(range(7)), 3) == [[0, 1, 2], [3, 4, 5], [6]]


def test_device_lists():
    assert cuda_devices("cpu") == [""]
    assert cuda_devices("cuda:0,cuda:2") == ["0", "2"]
    for bad in ("gpu0", "cuda:0,cuda:0", "cuda:x"):
        with pytest.raises(PrecplanError, match="--devices"):
            cuda_devices(bad)


@pytest.mark.slow
def test_bad_executor_options_are_one_line(tmp_path):
    for args, msg in ((["--executor", "pbs"], "--executor 'pbs'"), (["--devices", "cpu", "--shard", "2/2"], "--shard"),
                      (["--executor", "slurm", "--devices", "all"], "--devices is for one machine"),
                      (["--ptq", "awq"], "--ptq must be rtn or gptq"), (["--time", "4h", "--executor", "slurm"], None)):
        res = _validate("--preset", "ci", "--out", str(tmp_path / "o"), "--list", *args, timeout=300)
        if msg is None:
            continue  # --list does not submit: the time is parsed when submitting
        assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1 and msg in res.stderr, res.stderr


@pytest.mark.slow
def test_device_workers_on_cpu_store_every_run_once(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "dev"
    res = _validate("--preset", "ci", "--devices", "cpu", "--threads", "1", "--out", str(out), "--json", "--fit-grid", "coarse")
    assert res.returncode == 0, res.stderr[-2000:]
    sweep = json.loads(res.stdout)["sweep"]
    assert sweep["ran"] == 5 and "1 worker(s) on cpu" in sweep["device"]
    _stored_once(out, 5)
    assert (out / "logs" / "worker-0-cpu.log").exists()


@pytest.mark.slow
def test_submitit_local_stores_the_smoke_preset_once_and_resumes(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("submitit")
    out = tmp_path / "slurm"
    args = ("--preset", "smoke", "--executor", "slurm:local", "--device", "cpu", "--threads", "1", "--out", str(out),
            "--json", "--fit-grid", "coarse")
    res = _validate(*args)
    assert res.returncode == 0, res.stderr[-3000:]
    sweep = json.loads(res.stdout)["sweep"]
    assert sweep["ran"] == 11 and sweep["skipped"] == 0 and "submitit local" in sweep["device"]
    _stored_once(out, 11)
    again = _validate(*args)  # the same command again: resumes, nothing left to train
    assert again.returncode == 0 and json.loads(again.stdout)["sweep"]["ran"] == 0
    _stored_once(out, 11)


def test_ray_local_cluster_with_cpu_workers(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("ray")  # an optional extra: not installed in CI
    out = tmp_path / "ray"
    res = _validate("--preset", "ci", "--executor", "ray", "--device", "cpu", "--threads", "1", "--out", str(out), "--json",
                    "--fit-grid", "coarse")
    assert res.returncode == 0, res.stderr[-3000:]
    assert json.loads(res.stdout)["sweep"]["ran"] == 5
    _stored_once(out, 5)
