"""Many workers on one store: claims, exactly-once training, SIGKILLed workers (CPU)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from precplan.validate._store import append_record, claim_run, live_claims, read_store, store_files, store_path

ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def _all_records(folder: Path) -> tuple[list[dict], list[str]]:
    """Every line of every writer's store file (not de-duplicated: a run stored twice shows)."""
    records, notes = [], []
    for f in store_files(folder):
        recs, more = read_store(f)
        records += recs
        notes += more
    return records, notes


def test_claim_is_exclusive_and_ends_when_the_run_is_stored(tmp_path):
    c = claim_run(tmp_path, "run-a", heartbeat_s=0)
    assert not isinstance(c, str)
    doc = json.loads(c.path.read_text())
    assert doc["host"] == socket.gethostname() and doc["pid"] == os.getpid()
    assert claim_run(tmp_path, "run-a", heartbeat_s=0) == "claimed"  # a second descriptor: flock excludes it
    assert live_claims(tmp_path) == {"run-a"}
    append_record(store_path(tmp_path), {"run_id": "run-a", "loss": 1.0})
    c.release(finished=True)
    assert not c.path.exists() and live_claims(tmp_path) == set()
    assert claim_run(tmp_path, "run-a") == "finished"
    # a claim let go unfinished (training raised) is free again
    c = claim_run(tmp_path, "run-b", heartbeat_s=0)
    c.release(finished=False)
    c = claim_run(tmp_path, "run-b", heartbeat_s=0)
    assert not isinstance(c, str)
    c.release(finished=False)


def test_claim_of_a_sigkilled_worker_is_taken_over(tmp_path):
    script = textwrap.dedent(f"""
        import sys, time
        from precplan.validate._store import claim_run
        c = claim_run({str(tmp_path)!r}, "run-x", heartbeat_s=0.05)
        print("held" if not isinstance(c, str) else c, flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=_env())
    try:
        assert proc.stdout.readline().strip() == "held"
        assert claim_run(tmp_path, "run-x") == "claimed"
        time.sleep(0.2)  # heartbeats rewrite the claim file meanwhile
        doc = json.loads((tmp_path / "claims" / "run-x.lock").read_text())
        assert doc["pid"] == proc.pid and doc["heartbeat"] > doc["started"]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    c = claim_run(tmp_path, "run-x", heartbeat_s=0)  # its file still names the dead pid: free all the same
    assert not isinstance(c, str)
    c.release(finished=False)


def test_finished_runs_unheld_claims_are_pruned(tmp_path):
    from precplan.validate._store import prune_claims

    for rid in ("done-free", "done-held", "pending"):
        (tmp_path / "claims").mkdir(exist_ok=True)
        (tmp_path / "claims" / f"{rid}.lock").write_text("{}")
    append_record(store_path(tmp_path), {"run_id": "done-free", "loss": 1.0})
    append_record(store_path(tmp_path), {"run_id": "done-held", "loss": 1.0})
    import fcntl

    fd = os.open(tmp_path / "claims" / "done-held.lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # its worker is still between append and removal
    try:
        assert prune_claims(tmp_path) == 1
    finally:
        os.close(fd)
    assert sorted(p.stem for p in (tmp_path / "claims").glob("*.lock")) == ["done-held", "pending"]


def test_claim_held_on_another_host_is_respected_until_its_heartbeat_is_stale(tmp_path):
    path = tmp_path / "claims" / "run-y.lock"
    path.parent.mkdir()
    now = time.time()
    path.write_text(json.dumps({"host": "elsewhere-node-7", "pid": 1, "started": now - 5, "heartbeat": now - 5}))
    assert claim_run(tmp_path, "run-y", stale_s=60) == "claimed"  # flock does not reach other hosts on some NFS
    path.write_text(json.dumps({"host": "elsewhere-node-7", "pid": 1, "started": now - 900, "heartbeat": now - 700}))
    c = claim_run(tmp_path, "run-y", stale_s=60, heartbeat_s=0)
    assert not isinstance(c, str) and json.loads(path.read_text())["host"] == socket.gethostname()
    c.release(finished=False)


@pytest.mark.slow
def test_sigkilled_sweep_then_rerun_loses_and_duplicates_nothing(tmp_path):
    torch = pytest.importorskip("torch")  # noqa: F841
    from precplan.validate._data import ZipfFacts
    from precplan.validate._sweep import run_sweep
    from precplan.validate._train import RunSpec, placement

    specs = [RunSpec("25K", 16 * 64 * n, seq_len=64, val_tokens=1024, ptq_bits=(4,)) for n in (20, 24, 28, 32)]
    code = textwrap.dedent(f"""
        import torch
        torch.set_num_threads(1)
        from precplan.validate._data import ZipfFacts
        from precplan.validate._sweep import run_sweep
        from precplan.validate._train import RunSpec, placement
        specs = [RunSpec("25K", 16 * 64 * n, seq_len=64, val_tokens=1024, ptq_bits=(4,)) for n in (20, 24, 28, 32)]
        run_sweep(specs, ZipfFacts(), placement("cpu"), {str(tmp_path)!r}, "test")
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 900  # generous: a loaded CI machine imports torch slowly
        while time.time() < deadline and sum(f.read_bytes().count(b"\n") for f in store_files(tmp_path)) < 2:
            time.sleep(0.05)
        while time.time() < deadline and not live_claims(tmp_path):  # killed while training its third run
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    first, notes = _all_records(tmp_path)
    assert 2 <= len(first) < 4 and notes == []
    summary = run_sweep(specs, ZipfFacts(), placement("cpu"), tmp_path, "test")
    assert summary.skipped == len(first) and summary.ran == 4 - len(first)
    records, notes = _all_records(tmp_path)
    ids = [r["run_id"] for r in records]
    assert notes == [] and len(ids) == len(set(ids)) == 4
    assert set(ids) == {s.run_id(ZipfFacts().fingerprint) for s in specs}
    # every claim let go (one of a finished run, left by a kill between append and removal, pruned)
    assert not list((tmp_path / "claims").glob("*.lock"))


@pytest.mark.slow
def test_two_validate_processes_train_each_smoke_run_once_even_when_one_is_killed(tmp_path):
    pytest.importorskip("torch")
    cmd = [sys.executable, "-m", "precplan", "validate", "--preset", "smoke", "--device", "cpu", "--out", str(tmp_path),
           "--threads", "1", "--fit-grid", "coarse", "--json"]
    procs = [subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    sweeps = [json.loads(o)["sweep"] for o in outs]
    assert sum(s["ran"] for s in sweeps) == 11 and all(s["ran"] > 0 for s in sweeps)  # both worked, none twice
    records, notes = _all_records(tmp_path)
    ids = [r["run_id"] for r in records]
    assert notes == [] and len(ids) == len(set(ids)) == 11
    # the same command again: nothing left to train
    again = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and json.loads(again.stdout)["sweep"]["ran"] == 0
    assert len(_all_records(tmp_path)[0]) == 11
