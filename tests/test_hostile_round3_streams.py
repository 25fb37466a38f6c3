"""Round three (issue 23), what needs real processes: a stdout that is not UTF-8, a pipe closed
after one line, a newline in a path, SIGINT during a sweep."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def run(args: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    full = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="100", **(env or {}))
    return subprocess.run([sys.executable, "-m", "precplan", *args], capture_output=True, env=full, timeout=180, cwd=cwd)


ENCODED = [["ptq-risk", "-N", "7B", "-D", "1T"], ["optimize", "--budget", "1e21"], ["predict", "-N", "7B", "-D", "1T"],
           ["hardware", "list"], ["hardware", "show", "h100"], ["laws", "list"], ["laws", "show", "kumar2024"],
           ["optimize", "--budget", "1e21", "--law", "kumar2024,besiroglu2024"]]


@pytest.mark.parametrize("encoding", ["latin-1", "ascii"])
@pytest.mark.parametrize("args", ENCODED, ids=[" ".join(a) for a in ENCODED])
def test_non_utf8_stdout_falls_back_to_ascii(args: list[str], encoding: str) -> None:
    r = run(args, {"PYTHONIOENCODING": encoding})
    err = r.stderr.decode(encoding, "replace")
    assert r.returncode == 0, err
    assert "Traceback" not in err and "UnicodeEncodeError" not in err
    text = r.stdout.decode(encoding)  # what was written is valid in the stream's encoding
    assert text.strip()
    assert not any(ch in text for ch in "\u2500\u2502\u250f\u2501"), text[:300]  # no box-drawing characters


@pytest.mark.skipif(not Path("/bin/sh").exists(), reason="needs a POSIX shell")
@pytest.mark.parametrize("count", [3, 50, 5000])
def test_csv_to_head_prints_only_documented_warnings(count: int) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = f"{sys.executable} -m precplan optimize --budget 1e19:1e23:{count} --csv - | head -1"
    r = subprocess.run(["/bin/sh", "-c", cmd], capture_output=True, text=True, env=env, timeout=180, cwd=ROOT)
    assert r.stdout.startswith("budget,"), r.stdout[:200]
    assert len(r.stdout.splitlines()) == 1
    for line in r.stderr.splitlines():
        assert line.startswith("warning: "), r.stderr  # README: warnings go to stderr; nothing else


@pytest.mark.parametrize("args", [["fit", "a\nb.csv"], ["laws", "show", "x\ny.yaml"],
                                  ["optimize", "--budget", "1e21", "--gpu", "h100", "--hardware", "hw\n.yaml"],
                                  ["validate", "--report", "no\nsuch"]])
def test_newline_in_a_path_is_one_line(args: list[str], tmp_path: Path) -> None:
    r = run(args, cwd=tmp_path)
    lines = r.stderr.decode().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ") and "\\n" in lines[0], r.stderr


def test_sigint_during_a_sweep_ends_promptly(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    env = dict(os.environ, PYTHONPATH=str(ROOT), CUDA_VISIBLE_DEVICES="")
    proc = subprocess.Popen([sys.executable, "-m", "precplan", "validate", "--preset", "ci", "--out", str(tmp_path / "o"),
                             "--device", "cpu", "--threads", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, cwd=tmp_path)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any((tmp_path / "o").glob("*")):  # training has started
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("validate was still running 30 s after SIGINT")
    assert proc.returncode in (130, -signal.SIGINT, 2), err
    assert b"Traceback" not in err, err


def test_two_validate_processes_on_one_shard_both_finish(tmp_path: Path) -> None:
    """The second worker shares the claims (or finds every run held) and exits 0, as the first does."""
    pytest.importorskip("torch")
    env = dict(os.environ, PYTHONPATH=str(ROOT), CUDA_VISIBLE_DEVICES="")
    args = [sys.executable, "-m", "precplan", "validate", "--preset", "ci", "--out", str(tmp_path / "o"), "--device", "cpu",
            "--threads", "1", "--fit-grid", "coarse"]
    first = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    time.sleep(0.5)
    second = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    outs = [p.communicate(timeout=600) for p in (first, second)]
    for p, (_, err) in zip((first, second), outs):
        assert p.returncode == 0, err.decode()[-800:]
        assert b"Traceback" not in err
