"""Hostile inputs that need real processes and streams, and the other side of the policy:
legitimate inputs that look like hostile ones still work (README "Bad input")."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from precplan.cli import app
from precplan.errors import PrecplanError

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow  # hundreds of invocations: CI runs them, the quick loop skips them


def run(args: list[str], **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="100")
    return subprocess.run([sys.executable, "-m", "precplan", *args], capture_output=kw.pop("capture", True),
                          text=True, env=env, timeout=120, cwd=kw.pop("cwd", ROOT), **kw)


def one_error_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


# ------------------------------------------------------------------ output streams
@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["predict", "-N", "7B", "-D", "1T"], ["predict", "-N", "7B", "-D", "1T", "--json"],
                                  ["laws", "list"], ["optimize", "--budget", "1e21", "--csv", "-"]])
def test_full_stdout_is_one_line_and_nonzero(args):
    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, "-m", "precplan", *args], stdout=full, stderr=subprocess.PIPE, text=True,
                           env=dict(os.environ, PYTHONPATH=str(ROOT)), cwd=ROOT, timeout=120)
    assert r.returncode == 2
    errors = [line for line in r.stderr.splitlines() if not line.startswith("warning: ")]
    assert errors == ["error: cannot write the output (No space left on device)"], r.stderr


def test_closed_stdout_is_one_line_and_nonzero():
    r = subprocess.run([sys.executable, "-c", "import os, runpy, sys; os.close(1); sys.argv = ['precplan', 'laws', 'list'];"
                        " runpy.run_module('precplan', run_name='__main__')"],
                       stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), cwd=ROOT, timeout=120)
    assert r.returncode != 0
    one_error_line(r.stderr)


@pytest.mark.skipif(not Path("/bin/sh").exists(), reason="needs a POSIX shell")
def test_stdout_closed_by_the_shell_is_one_line():
    r = subprocess.run(["/bin/sh", "-c", f'"{sys.executable}" -m precplan laws list >&-'], stderr=subprocess.PIPE, text=True,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)), cwd=ROOT, timeout=120)
    assert r.returncode == 2
    assert one_error_line(r.stderr).startswith("error: standard output is closed")


def test_stdout_none_is_refused_in_process(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdout", None)
    with pytest.raises(SystemExit) as exc:
        app(["laws", "list"])
    assert exc.value.code == 2
    assert one_error_line(capsys.readouterr().err).startswith("error: standard output is closed")


def test_closed_pipe_is_one_line():
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first write (as after `| head -1`)
    try:
        r = subprocess.run([sys.executable, "-m", "precplan", "optimize", "--budget", "1e19:1e25:200", "--csv", "-"],
                           stdout=write_end, stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                           cwd=ROOT, timeout=120)
    finally:
        os.close(write_end)
    errors = [line for line in r.stderr.splitlines() if not line.startswith("warning: ")]
    assert r.returncode == 1 and errors == ["error: cannot write the output: the reader closed the pipe (Broken pipe)"], r.stderr


@pytest.mark.parametrize("law", ["/dev/zero", "/dev/stdin"])
def test_law_that_never_ends_is_refused_at_once(law):
    r = run(["predict", "-N", "7B", "-D", "1T", "--law", law], stdin=subprocess.DEVNULL)
    assert r.returncode == 2
    assert "not a regular file" in one_error_line(r.stderr)


def test_fifo_runs_file_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "runs.csv")
    r = run(["fit", str(tmp_path / "runs.csv")])
    assert r.returncode == 2 and "not a regular file" in one_error_line(r.stderr)


# ------------------------------------------------------------------ --json: warnings on stderr too
@pytest.mark.parametrize("args", [["predict", "-N", "7B", "-D", "2T"], ["ptq-risk", "-N", "7B", "-D", "2T"],
                                  ["optimize", "--budget", "1e23"], ["optimize", "--budget", "1e21:1e23:3"],
                                  ["laws", "show", "kumar2024", "--base", "hoffmann2022"]])
def test_json_keeps_warnings_on_stderr(args):
    r = CliRunner().invoke(app, [*args, "--json"])
    assert r.exit_code == 0, r.stderr
    json.loads(r.stdout)  # stdout is pure JSON
    lines = r.stderr.splitlines()
    assert lines and all(line.startswith("warning: ") for line in lines), r.stderr
    assert "extrapolates" in r.stderr or "composition is an assumption" in r.stderr


# ------------------------------------------------------------------ laws list at 40 columns
@pytest.mark.parametrize("columns", ["40", "24"])
def test_laws_list_never_truncates_ids(columns):
    from precplan.laws import bundled_names

    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS=columns)
    r = subprocess.run([sys.executable, "-m", "precplan", "laws", "list"], capture_output=True, text=True, env=env, cwd=ROOT,
                       timeout=120)
    assert r.returncode == 0
    for name in bundled_names():
        assert any(f" {name} " in line for line in r.stdout.splitlines()), (name, r.stdout)


# ------------------------------------------------------------------ outputs: --force, inputs, atomic
def test_existing_output_needs_force_and_force_replaces(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("plan.csv").write_text("old\n")
    r = CliRunner().invoke(app, ["optimize", "--budget", "1e21", "--csv", "plan.csv"])
    assert r.exit_code == 2 and "add --force" in one_error_line(r.stderr) and r.stdout == ""  # nothing printed first
    assert Path("plan.csv").read_text() == "old\n"
    r = CliRunner().invoke(app, ["optimize", "--budget", "1e21", "--csv", "plan.csv", "--force"])
    assert r.exit_code == 0 and Path("plan.csv").read_text().startswith("budget")
    assert sorted(os.listdir(".")) == ["plan.csv"]  # no temporary file left behind


def test_fit_never_overwrites_its_runs_even_with_force(tmp_path):
    data = (ROOT / "data" / "sardana2024_training_runs.csv").read_bytes()
    runs = tmp_path / "runs.csv"
    runs.write_bytes(data)
    link = tmp_path / "link.csv"
    link.symlink_to(runs)
    for out in (str(runs), str(link), str(tmp_path / "sub" / ".." / "runs.csv")):
        r = CliRunner().invoke(app, ["fit", str(runs), "--out", out, "--force", "--columns",
                                     'params=Parameters,tokens=Tokens,loss="Smoothed Loss"'])
        assert r.exit_code == 2 and "input" in one_error_line(r.stderr)
    assert runs.read_bytes() == data


def test_output_check_helper_says_what_is_wrong(tmp_path):
    from precplan.io import check_output_path

    (tmp_path / "in.csv").write_text("x")
    with pytest.raises(PrecplanError, match="is a folder"):
        check_output_path(tmp_path, "--out")
    with pytest.raises(PrecplanError, match="input of this command"):
        check_output_path(tmp_path / "in.csv", "--out", [tmp_path / "in.csv"], force=True)
    with pytest.raises(PrecplanError, match="too long"):
        check_output_path(tmp_path / ("y" * 250), "--out")
    with pytest.raises(PrecplanError, match="does not exist"):
        check_output_path(tmp_path / "no" / "x.csv", "--csv")
    assert check_output_path(tmp_path / "new.csv", "--csv") == tmp_path / "new.csv"
    assert check_output_path(tmp_path / "in.csv", "--csv", force=True) == tmp_path / "in.csv"


# ------------------------------------------------------------------ numbers that are valid
@pytest.mark.parametrize("text,value", [("1,500,000", 1.5e6), ("1,500", 1500.0), ("12,345.5", 12345.5),
                                        ("1_500_000", 1.5e6), ("1E", 1e18), ("2e3M", 2e9), ("1.", 1.0)])
def test_grouped_and_suffixed_numbers_still_work(text, value):
    from precplan.units import parse_count

    assert parse_count(text) == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize("text,hint", [("1e", "exponent needs its digits"), ("1,5B", "for a decimal write 1.5B"),
                                       ("1,50", "groups of three"), ("0x10", "decimal"), ("\u0663", "ASCII"),
                                       ("nan", "finite"), ("1e400", "too large")])
def test_ambiguous_numbers_say_what_would_be_valid(text, hint):
    from precplan.units import parse_count

    with pytest.raises(PrecplanError, match=hint):
        parse_count(text, "--params")


# ------------------------------------------------------------------ too-small budgets
def test_smallest_meaningful_budget_is_the_boundary():
    """The budget the error names is where plans start to mean something: at it the plan has
    N* >= 1M and a loss below ln(32000); 10% below it, not (checked with the library's plans)."""
    import re

    from precplan import load_law
    from precplan.optimize._planner import optimize

    r = CliRunner().invoke(app, ["optimize", "--budget", "10"])
    assert r.exit_code == 2
    least = float(re.search(r"about ([0-9.e+]+) FLOPs", one_error_line(r.stderr)).group(1))
    law = load_law("kumar2024")
    at, below = optimize(law, least * 1.01), optimize(law, least * 0.9)
    assert at.params >= 1e6 and at.loss <= math.log(32000)
    assert below.params < 1e6 or below.loss > math.log(32000)
    ok = CliRunner().invoke(app, ["optimize", "--budget", f"{least * 1.01:.6g}", "--json"])
    assert ok.exit_code == 0


def test_sweep_below_says_which_budgets():
    r = CliRunner().invoke(app, ["optimize", "--budget", "1e9:1e21:7"])
    line = one_error_line(r.stderr)
    assert r.exit_code == 2 and "3 of the sweep's 7 budgets (1e+09..1e+13)" in line and "start the sweep there" in line


# ------------------------------------------------------------------ bounds, and large legitimate inputs
def test_bootstrap_bound_is_stated():
    r = CliRunner().invoke(app, ["fit", "--example", "sardana2024", "--bootstrap", "1000000000"])
    assert r.exit_code == 2 and "from 2 to 100,000" in one_error_line(r.stderr)


def test_large_runs_file_loads(tmp_path):
    """200,000 runs (a training-curve file, 9 MB) load in seconds; the bound is the file size (256 MiB)."""
    import time

    from precplan.fit._runs import MAX_RUNS_BYTES, load_runs

    rng = np.random.default_rng(0)
    n = 200_000
    N, D = rng.uniform(1e7, 1e9, n), rng.uniform(1e9, 1e11, n)
    loss = 2.0 + 400 / N**0.3 + 400 / D**0.3 + rng.normal(0, 1e-3, n)
    path = tmp_path / "curves.csv"
    path.write_text("params,tokens,loss\n" + "".join(f"{a:.9g},{b:.9g},{c:.9g}\n" for a, b, c in zip(N, D, loss)))
    t0 = time.perf_counter()
    runs = load_runs(path)
    assert runs.n == n and time.perf_counter() - t0 < 60
    assert MAX_RUNS_BYTES == 256 << 20


def test_law_file_bounds_leave_real_laws_alone():
    from precplan.laws import bundled_names, load_law
    from precplan.laws._file import MAX_LAW_BYTES, MAX_LAW_DEPTH

    for name in bundled_names():
        assert load_law(name).id == name
    assert MAX_LAW_BYTES == 1 << 20 and MAX_LAW_DEPTH == 32


def test_law_near_the_size_bound_still_loads(tmp_path):
    from precplan.laws import read_law_file

    text = (ROOT / "laws" / "kumar2024.yaml").read_text()
    padded = tmp_path / "padded.yaml"
    padded.write_text(text + "#" * 900_000 + "\n")
    assert read_law_file(padded).id == "kumar2024"


def test_validate_plot_may_go_into_the_results_folder_it_creates(tmp_path, monkeypatch):
    """README: `validate --out quick-run --plot quick-run/validate.png`: the folder does not exist yet."""
    pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, ["validate", "--list", "--preset", "smoke", "--out", "run", "--plot", "run/v.png"])
    assert r.exit_code == 0, r.stderr
    assert not Path("run").exists()  # --list writes nothing


def test_outputs_check_counts_bundled_laws_as_inputs(tmp_path):
    from precplan.cli._common import check_outputs
    from precplan.io import bundled_dir

    target = bundled_dir("laws") / "kumar2024.yaml"
    with pytest.raises(PrecplanError, match="input of this command"):
        check_outputs({"--out": str(target)}, [], force=True)
    check_outputs({"--out": str(tmp_path / "mine.yaml")}, [], force=False)
