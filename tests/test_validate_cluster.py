"""validate on a cluster, off the happy path (issue 24): failed runs isolated and explained on
every executor, a store that needs no lock across machines, Ray's queue and connection
errors, thread shares, SLURM array chunking, cluster errors before anything is created.

The failing run is made with the test hook ``PRECPLAN_TEST_FAIL_RUN`` (see
``precplan/validate/_failures.py``): a run whose id contains its value raises before training.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from precplan.errors import PrecplanError
from precplan.validate._executors import (
    RayResources, array_chunking, check_cluster, ray_connect, run_ray, thread_share,
)
from precplan.validate._failures import classify, signal_cause, summarize_failures
from precplan.validate._store import (
    StoreReader, append_record, claim_run, failure_record, read_failures, read_folders, read_store, store_files,
    writer_path,
)

ROOT = Path(__file__).resolve().parents[1]
FAIL = "w3a16"  # the ci preset's one quantized run: its id holds this, no other run's does


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **extra}


def _lines(folder: Path, pattern: str = "runs*.jsonl") -> list[dict]:
    """Every record of every writer's file, not de-duplicated (a run stored twice would show)."""
    out = []
    for f in store_files(folder, pattern):
        recs, notes = read_store(f)
        assert notes == [], notes
        out += recs
    return out


# --- the store without locks -------------------------------------------------------------------

WRITER = textwrap.dedent("""
    import fcntl, sys, time
    fcntl.flock = lambda *a, **k: None  # a nolock / local_lock NFS mount: flock reaches nobody
    from precplan.validate._store import append_record, claim_run, writer_path
    out, n = sys.argv[1], int(sys.argv[2])
    pad = "p" * 20000  # long lines: a torn write would show
    for i in range(n):
        rid = f"run-{i:03d}"
        c = claim_run(out, rid, heartbeat_s=0)
        if isinstance(c, str):
            continue
        with c:
            time.sleep(0.002)
            append_record(writer_path(out), {"run_id": rid, "params": 1, "tokens": 1, "loss": 1.0, "pad": pad})
""")


def test_eight_writers_without_any_lock_store_every_run_exactly_once(tmp_path):
    n = 60
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(n)], env=_env()) for _ in range(8)]
    assert [p.wait(timeout=300) for p in procs] == [0] * 8
    records = _lines(tmp_path)  # parse_store raises on any damaged line; notes (partial lines) asserted empty
    ids = [r["run_id"] for r in records]
    assert sorted(ids) == [f"run-{i:03d}" for i in range(n)]  # each once: nothing lost, nothing duplicated
    assert all(len(r["pad"]) == 20000 for r in records)
    files = store_files(tmp_path)
    assert len(files) >= 2 and all(f.name.startswith("runs-") and "-" in f.stem[5:] for f in files)
    assert not list((tmp_path / "claims").glob("*.lock"))  # every claim let go


def test_a_dead_holders_claim_is_retaken_without_flock(tmp_path, monkeypatch):
    import fcntl

    monkeypatch.setattr(fcntl, "flock", lambda *a, **k: None)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    path = tmp_path / "claims" / "run-z.lock"
    path.parent.mkdir()
    path.write_text(json.dumps({"host": socket.gethostname(), "pid": int(dead.stdout), "heartbeat": 0, "token": "t"}))
    c = claim_run(tmp_path, "run-z", heartbeat_s=0)
    assert not isinstance(c, str) and json.loads(path.read_text())["pid"] == os.getpid()
    assert claim_run(tmp_path, "run-z", heartbeat_s=0) == "claimed"  # our own pid is alive
    c.release()
    assert not path.exists()


def test_progress_reads_only_what_was_appended(tmp_path):
    reader = StoreReader(tmp_path)
    assert reader.poll() == []
    a, b = writer_path(tmp_path), tmp_path / "runs-other-host-7.jsonl"
    append_record(a, {"run_id": "r1", "loss": 1.0})
    append_record(b, {"run_id": "r2", "loss": 2.0})
    assert sorted(r["run_id"] for r in reader.poll()) == ["r1", "r2"]
    assert reader.poll() == []
    with open(b, "ab") as fh:  # a writer mid-line: not taken, and noted
        fh.write(b'{"run_id": "r3", "lo')
    assert reader.poll() == [] and len(reader.partial_lines()) == 1
    with open(b, "ab") as fh:
        fh.write(b'ss": 3.0}\n')
    assert [r["run_id"] for r in reader.poll()] == ["r3"] and reader.partial_lines() == []
    assert reader._offsets[b] == b.stat().st_size  # the next poll starts where this one ended
    records, notes = read_folders([tmp_path])
    assert [r["run_id"] for r in records] == ["r1", "r2", "r3"] and notes == []


def test_writer_files_name_host_pid_and_shard(tmp_path):
    host = writer_path(tmp_path).name
    assert host.startswith("runs-") and host.endswith(f"-{os.getpid()}.jsonl")
    assert writer_path(tmp_path, (1, 4)).name.startswith("runs-1of4-")
    assert writer_path(tmp_path, kind="failed").name.startswith("failed-")


# --- failures: classes, one line each ----------------------------------------------------------

def test_failures_are_classified_and_summarized_in_one_line_per_class(tmp_path):
    oom = RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.1 GiB total capacity)")
    assert classify(oom) == ("oom", "CUDA out of memory")
    assert classify(ValueError("Out of range float values are not JSON compliant"))[0] == "nan"
    assert classify(RuntimeError("data loading failed: OSError('x')"))[0] == "data"
    assert "SIGBUS" in signal_cause(-7) and "SIGKILL" in signal_cause(137) and "status 3" in signal_cause(3)
    log = str(tmp_path / "logs" / "x.log")
    for rid, n in (("a", 220e6), ("b", 220e6)):
        append_record(writer_path(tmp_path, kind="failed"),
                      failure_record(rid, "CUDA out of memory", "oom", log, params=n, micro_batch=64))
    append_record(writer_path(tmp_path, kind="failed"), failure_record("c", "KeyError: 'x'", "error", log))
    append_record(writer_path(tmp_path), {"run_id": "c", "loss": 1.0})  # c succeeded later: no longer failed
    failed = read_failures(tmp_path)
    assert sorted(failed) == ["a", "b"]
    lines = summarize_failures(failed.values())
    assert lines == [f"2 runs failed: CUDA out of memory (N=220M, micro-batch 64); see {log}"]


# --- threads, arrays, cluster errors -----------------------------------------------------------

def test_thread_share_and_array_chunking():
    assert thread_share(2, cores=2) == 1 and thread_share(3, cores=2) == 1 and thread_share(4, cores=16) == 4
    assert thread_share(None, cores=16) == 16
    assert array_chunking(1200, None, 1001) == (2, array_chunking(1200, None, 1001)[1])
    size, note = array_chunking(1200, None, 1001)
    assert -(-1200 // size) <= 1001 and "600 array tasks" in note and "MaxArraySize" in note
    assert array_chunking(1001, None, 1001) == (1, None)  # indices 0..1000: exactly at the limit
    assert array_chunking(1200, 4, 1001) == (4, None)


def test_cluster_errors_are_one_line_before_submitting(monkeypatch):
    pytest.importorskip("submitit")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(PrecplanError, match="no sbatch or srun on PATH"):
        check_cluster("slurm")
    for ex in ("slurm", "slurm:local"):
        with pytest.raises(PrecplanError, match="--slurm-param acount=...: not a SLURM setting"):
            check_cluster(ex, slurm_extra=("acount=proj",))
        with pytest.raises(PrecplanError, match="--time '4h'"):
            check_cluster(ex, time_limit="4h")
    with pytest.raises(PrecplanError, match="SLURM settings"):
        check_cluster("local", time_limit="1:00:00")


@pytest.mark.slow
def test_cluster_errors_leave_no_output_folder(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("submitit")
    out = tmp_path / "never"
    env = _env(PATH=str(Path(sys.executable).parent))  # python, but no sbatch
    for args, msg in ((["--executor", "slurm"], "sbatch and srun are not on PATH"), (["--executor", "slurm:local", "--time", "4h"], "--time"),
                      (["--executor", "slurm:local", "--slurm-param", "qos"], "--slurm-param")):
        res = subprocess.run([sys.executable, "-m", "precplan", "validate", "--preset", "ci", "--out", str(out), *args],
                             env=env, capture_output=True, text=True, timeout=300)
        assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1 and msg in res.stderr, res.stderr
        assert not out.exists()


# --- Ray's queue and connection errors, with a stand-in for ray (ray is an optional extra) -----

class _FakeRay:
    """Just enough of ray for run_ray: tasks that never get resources (a cluster without GPUs)."""

    def __init__(self):
        self.cancelled = []

    def is_initialized(self):
        return True

    def remote(self, **kw):
        fake = self

        class Task:
            def options(self, **opts):
                fake.asked = opts
                return self

            def remote(self, order):
                return ("ref", order["ids"][0])

        return lambda fn: Task()

    def wait(self, refs, num_returns, timeout):
        return [], refs

    def cluster_resources(self):
        return {"CPU": 2.0, "memory": 8 * 2**30}

    def available_resources(self):
        return {"CPU": 2.0, "memory": 8 * 2**30}

    def cancel(self, ref, force=False):
        self.cancelled.append(ref)


def test_ray_task_waiting_for_resources_fails_in_one_line_after_the_queue_timeout(tmp_path, monkeypatch):
    import precplan.validate._executors as ex

    monkeypatch.setattr(ex, "POLL_S", 0.05)
    fake = _FakeRay()
    orders = [{"ids": [f"run-{k}"], "specs": []} for k in range(3)]
    out = run_ray(orders, tmp_path, [f"run-{k}" for k in range(3)], None, RayResources(gpus=1.0, cpus=2.0),
                  queue_timeout=0.3, ray=fake)
    assert out == [] and len(fake.cancelled) == 3 and fake.asked == {"num_gpus": 1.0, "num_cpus": 2.0}
    failed = read_failures(tmp_path)
    assert sorted(failed) == ["run-0", "run-1", "run-2"] and {r["kind"] for r in failed.values()} == {"queue"}
    [line] = summarize_failures(failed.values())
    assert line.startswith("3 runs failed: waited over 0.3 s for resources: each task asks for 2 CPU, 1 GPU;")
    assert "the cluster has 2 CPU, 0 GPU" in line


def test_ray_connection_and_authentication_errors_are_named():
    class Refusing:
        def __init__(self, exc):
            self.exc = exc

        def is_initialized(self):
            return False

        def init(self, **kw):
            assert kw["runtime_env"]["py_modules"][0].endswith("precplan")  # the driver's code ships with the job
            raise self.exc

    with pytest.raises(PrecplanError, match="refused authentication"):
        ray_connect(Refusing(ConnectionError("Unauthenticated: invalid token")), "ray://head:10001")
    with pytest.raises(PrecplanError, match="cannot connect to the Ray cluster at ray://head:10001"):
        ray_connect(Refusing(ConnectionError("Could not connect to head")), "ray://head:10001")


# --- a truncated .bin ----------------------------------------------------------------------------

def test_a_bin_truncated_under_a_run_is_an_error_not_sigbus(tmp_path):
    from precplan.validate._data import load_source

    path = tmp_path / "corpus.bin"
    np.arange(20000, dtype=np.uint16).__mod__(500).astype(np.uint16).tofile(path)
    source = load_source(str(path))
    batches = source.batches(4, 16, seed=0)
    next(batches)
    os.truncate(path, 1000)  # the file loses most of its tokens under the running sweep
    with pytest.raises(OSError, match="shrank from 40,000 to 1,000 bytes"):
        next(batches)
    with pytest.raises(OSError, match="shrank"):
        source.validation(64, 16)


# --- one failing run, on every executor ----------------------------------------------------------

def _validate(out: Path, *args: str, fail: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = _env(PRECPLAN_TEST_FAIL_RUN=FAIL) if fail else _env()
    return subprocess.run([sys.executable, "-m", "precplan", "validate", "--preset", "ci", "--threads", "1",
                           "--out", str(out), "--fit-grid", "coarse", "--json", *args],
                          env=env, capture_output=True, text=True, timeout=900, cwd=cwd)


def _one_failure_then_retry(out: Path, *args: str, cwd: Path | None = None) -> None:
    res = _validate(out, *args, cwd=cwd)
    folder = out if cwd is None else cwd / out
    assert res.returncode == 1, res.stderr[-3000:]
    sweep = json.loads(res.stdout)["sweep"]
    assert sweep["ran"] == 4 and sweep["failed"] == 1
    stored = _lines(folder)
    assert len(stored) == 4 and not any(FAIL in r["run_id"] for r in stored)  # the other runs finished, once
    [(rid, rec)] = read_failures(folder).items()
    assert FAIL in rid and rec["cause"].startswith("InjectedFailure: injected failure") and Path(rec["log"]).exists()
    said = [ln for ln in res.stderr.splitlines() if "failed:" in ln and not ln.startswith("run ")]
    assert said == [sweep["failures"][0]] and said[0].startswith("1 run failed: InjectedFailure")
    assert (folder / "report.md").exists() and json.loads((folder / "report.json").read_text())["sweep"]["failed"] == 1
    again = _validate(out, *args, cwd=cwd)  # a plain rerun leaves the failed run alone
    assert again.returncode == 0 and json.loads(again.stdout)["sweep"]["ran"] == 0
    assert "1 run failed in an earlier sweep" in again.stderr + again.stdout
    retried = _validate(out, *args, "--retry-failed", fail=False, cwd=cwd)
    assert retried.returncode == 0, retried.stderr[-3000:]
    assert json.loads(retried.stdout)["sweep"]["ran"] == 1  # only the failed run
    stored = _lines(folder)
    assert len(stored) == 5 and len({r["run_id"] for r in stored}) == 5 and read_failures(folder) == {}


@pytest.mark.slow
def test_one_failing_run_in_process(tmp_path):
    pytest.importorskip("torch")
    _one_failure_then_retry(tmp_path / "local", "--device", "cpu")


@pytest.mark.slow
def test_one_failing_run_under_slurm_local(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("submitit")
    _one_failure_then_retry(tmp_path / "slurm", "--executor", "slurm:local", "--device", "cpu")


@pytest.mark.slow
def test_one_failing_run_under_ray_with_a_relative_out_and_no_gpu(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("ray")  # an optional extra
    _one_failure_then_retry(Path("rel"), "--executor", "ray", cwd=tmp_path)  # no --device: no GPU asked for


@pytest.mark.slow
def test_retry_takes_a_transient_failure_a_second_time(tmp_path):
    pytest.importorskip("torch")
    env = _env(PRECPLAN_TEST_FAIL_RUN=FAIL, PRECPLAN_TEST_FAIL_ONCE=str(tmp_path))
    res = subprocess.run([sys.executable, "-m", "precplan", "validate", "--preset", "ci", "--threads", "1", "--device",
                          "cpu", "--out", str(tmp_path / "o"), "--fit-grid", "coarse", "--json", "--retry", "1"],
                         env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    sweep = json.loads(res.stdout)["sweep"]
    assert sweep["ran"] == 5 and sweep["retried"] == 1 and sweep["failed"] == 0


@pytest.mark.slow
def test_a_device_worker_killed_by_a_signal_has_its_run_failed_and_is_restarted(tmp_path):
    pytest.importorskip("torch")
    kill = "N25K-D32.8K-w16"  # the ci preset's first run: the worker dies at once, the other four are left
    env = _env(PRECPLAN_TEST_SIGNAL_RUN=kill)
    res = subprocess.run([sys.executable, "-m", "precplan", "validate", "--preset", "ci", "--threads", "1", "--devices",
                          "cpu", "--out", str(tmp_path), "--fit-grid", "coarse", "--json"],
                         env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 1, res.stderr[-3000:]
    assert len(_lines(tmp_path)) == 4  # the worker started again and trained the runs left
    [(rid, rec)] = read_failures(tmp_path).items()
    assert kill in rid and rec["kind"] == "signal" and "worker killed by SIGKILL" in rec["cause"]
    assert "1 run failed: worker killed by SIGKILL" in res.stderr


def test_a_repaired_partial_line_is_reported_not_dropped_silently(tmp_path):
    path = writer_path(tmp_path)
    assert append_record(path, {"run_id": "a", "loss": 1.0}) == 0
    with open(path, "ab") as fh:
        fh.write(b'{"run_id": "b", "lo')  # this file's earlier writer, killed mid-write
    assert append_record(path, {"run_id": "c", "loss": 1.0}) == len(b'{"run_id": "b", "lo')
    assert [r["run_id"] for r in read_store(path)[0]] == ["a", "c"]
