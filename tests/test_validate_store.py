"""The validate results store: atomic appends, killed writers, resume and shards (no torch)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from precplan.errors import PrecplanError
from precplan.validate._store import (
    append_record, finished_ids, parse_shard, read_folders, read_store, shard_slice, store_path,
)


def rec(i: int, **extra) -> dict:
    return {"run_id": f"run-{i}", "params": 1e5 * (i + 1), "tokens": 1e6, "loss": 3.0 - 0.01 * i, **extra}


def test_append_and_read_round_trip(tmp_path):
    path = tmp_path / "runs.jsonl"
    for i in range(3):
        append_record(path, rec(i))
    records, notes = read_store(path)
    assert [r["run_id"] for r in records] == ["run-0", "run-1", "run-2"] and notes == []
    assert path.read_bytes().count(b"\n") == 3
    with pytest.raises(ValueError):  # NaN is not JSON: refused, nothing written
        append_record(path, rec(9, loss=float("nan")))
    assert len(read_store(path)[0]) == 3


def test_partial_trailing_line_is_ignored_then_repaired(tmp_path):
    path = tmp_path / "runs.jsonl"
    append_record(path, rec(0))
    with open(path, "ab") as fh:  # a writer killed mid-line
        fh.write(b'{"run_id": "run-1", "params": 2e5, "FRAGMENT')
    records, notes = read_store(path)
    assert [r["run_id"] for r in records] == ["run-0"]
    assert len(notes) == 1 and "partial" in notes[0]
    append_record(path, rec(2))  # the next append truncates the fragment first
    records, notes = read_store(path)
    assert [r["run_id"] for r in records] == ["run-0", "run-2"] and notes == []
    assert b"FRAGMENT" not in path.read_bytes()
    # a file that is nothing but a fragment
    frag = tmp_path / "frag.jsonl"
    frag.write_bytes(b'{"run_id": "x"')
    append_record(frag, rec(5))
    assert [r["run_id"] for r in read_store(frag)[0]] == ["run-5"]


def test_sigkilled_writer_leaves_a_valid_store(tmp_path):
    path = tmp_path / "runs.jsonl"
    # Big records make each write take long enough to be killed in the middle of some.
    script = textwrap.dedent(f"""
        import sys
        from precplan.validate._store import append_record
        pad = "x" * (4 << 20)
        i = 0
        while True:
            append_record({str(path)!r}, {{"run_id": f"run-{{i}}", "params": 1, "tokens": 1, "loss": 1.0, "pad": pad}})
            i += 1
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.time() + 60
        while (not path.exists() or path.stat().st_size < 3 * (4 << 20)) and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(0.013)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    records, _ = read_store(path)
    assert len(records) >= 3
    assert [r["run_id"] for r in records] == [f"run-{i}" for i in range(len(records))]
    assert all(len(r["pad"]) == 4 << 20 for r in records)
    append_record(path, rec(99))
    after, notes = read_store(path)
    assert notes == [] and len(after) == len(records) + 1 and after[-1]["run_id"] == "run-99"


def test_resume_sees_finished_runs_across_store_files(tmp_path):
    assert finished_ids(tmp_path) == set()
    append_record(store_path(tmp_path), rec(0))
    append_record(store_path(tmp_path, (1, 3)), rec(1))
    (tmp_path / "other.jsonl").write_text(json.dumps(rec(7)) + "\n")  # not a store name: ignored
    assert finished_ids(tmp_path) == {"run-0", "run-1"}
    assert store_path(tmp_path, (1, 3)).name == "runs-1of3.jsonl"


def test_read_folders_merges_and_deduplicates(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    append_record(store_path(a), rec(0))
    append_record(store_path(a), rec(1))
    append_record(store_path(b, (0, 2)), rec(1, loss=2.5))  # same run id: the later read wins
    append_record(store_path(b, (1, 2)), rec(2))
    records, notes = read_folders([a, b])
    by_id = {r["run_id"]: r for r in records}
    assert sorted(by_id) == ["run-0", "run-1", "run-2"] and by_id["run-1"]["loss"] == 2.5
    with pytest.raises(PrecplanError, match="no results store"):
        read_folders([tmp_path])
    with pytest.raises(PrecplanError, match="no such folder"):
        read_folders([tmp_path / "missing"])


def test_one_store_policy_for_validate_and_fit(tmp_path):
    """A damaged complete line is an error in both readers; a partial last line (a killed writer)
    is ignored with a note in both (issue: fit stopped on a bad line while validate skipped it)."""
    from precplan.fit import load_runs

    good = b"".join(json.dumps(dict(rec(i), params=3e7 * (i + 1), tokens=1.5e9, loss=4.0 - 0.1 * i)).encode() + b"\n" for i in range(3))
    damaged = tmp_path / "runs.jsonl"
    damaged.write_bytes(good + b"not json\n" + good)
    with pytest.raises(PrecplanError, match="line 4: not a JSON line"):
        read_store(damaged)
    with pytest.raises(PrecplanError, match="line 4: not a JSON line"):
        load_runs(damaged)
    stranger = tmp_path / "runs-b.jsonl"
    stranger.write_bytes(good + json.dumps({"x": 1}).encode() + b"\n")
    with pytest.raises(PrecplanError, match="line 4: not a run record"):
        read_store(stranger)
    with pytest.raises(PrecplanError, match="line 4: not a run record"):
        load_runs(stranger)
    killed = tmp_path / "runs-c.jsonl"
    killed.write_bytes(good + b'{"run_id": "half')
    records, notes = read_store(killed)
    assert len(records) == 3 and len(notes) == 1 and "partial last line" in notes[0]
    runs = load_runs(killed)
    assert runs.n == 3 and any("partial last line" in w for w in runs.warnings)


@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_shards_are_disjoint_and_cover_the_grid(n):
    items = list(range(23))
    parts = [shard_slice(items, i, n) for i in range(n)]
    flat = [x for p in parts for x in p]
    assert sorted(flat) == items and len(flat) == len(set(flat))
    assert max(map(len, parts)) - min(map(len, parts)) <= 1


def test_parse_shard():
    assert parse_shard(None) == (0, 1)
    assert parse_shard("2/4") == (2, 4)
    for bad in ("4/4", "-1/2", "a/b", "1", "0/0"):
        with pytest.raises(PrecplanError, match="--shard"):
            parse_shard(bad)


def test_store_lines_are_written_with_one_write_call(tmp_path, monkeypatch):
    calls = []
    real_write = os.write

    def spy(fd, data):
        calls.append(len(data))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", spy)
    append_record(tmp_path / "runs.jsonl", rec(0, pad="y" * 100_000))
    assert len(calls) == 1 and calls[0] == (tmp_path / "runs.jsonl").stat().st_size
