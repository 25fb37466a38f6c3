"""Validation-loss checkpoints of validate runs, exported as training curves for ``fit --curves``
(Choshen et al. 2024): which steps are measured, the rows a store gives (old stores, mixed
stores, diverged runs), the CLI's output checks, and the round trip through ``precplan fit``.

The store-level tests use hand-written store records (no torch); the ones that train are at
the end (tiny runs) and in test_validate_smoke.py (the smoke sweep's store).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from precplan.errors import PrecplanError
from precplan.laws._file import load_law
from precplan.validate._curves import COLUMNS, checkpoint_steps, curve_rows, curves_text, fit_args

HOFFMANN = load_law("hoffmann2022")
SIZES, BUDGETS = (3e7, 1e8, 3e8), (2e9, 7e9, 2.3e10)  # no two runs share a checkpoint (N, D)


def record(n, d, k=4, *, steps=100, bits=(16, 16, 16), seed=0, checkpoints="law", loss=None, **extra):
    """A store line as precplan validate writes it, its losses from hoffmann2022 (noise-free):
    ``k`` checkpoints at evenly spaced steps (the last the final one); ``checkpoints=None``: an
    old store's record (no key), ``[]``: a run trained with --checkpoints 0."""
    final = float(HOFFMANN.loss(n, d)) if loss is None else loss
    if checkpoints == "law":
        checkpoints = [{"step": s, "tokens_seen": d * s / steps,
                        "loss": float(HOFFMANN.loss(n, d * s / steps)) if s < steps else final}
                       for s in checkpoint_steps(steps, k)]
    rec = {"run_id": f"N{n:.0e}-D{d:.0e}-w{bits[0]}-s{seed}", "params": n, "tokens": d, "loss": final,
           "weight_bits": bits[0], "activation_bits": bits[1], "kv_bits": bits[2], "ptq": {}, "diverged": False,
           "seed": seed, "config": {"steps": steps}, "preset": "test", "data": "synthetic", **extra}
    if checkpoints is not None:
        rec["checkpoints"] = checkpoints
    return rec


def grid(**kw):
    return [record(n, d, **kw) for n in SIZES for d in BUDGETS]


def write_store(folder, records, tail=""):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records) + tail)
    return folder


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t" if str(path).endswith(".tsv") else ","))


# ------------------------------------------------------------------ which steps are measured
@pytest.mark.parametrize("steps, k, expected", [
    (32, 4, [8, 16, 24, 32]),        # evenly spaced, the last the final step
    (100, 3, [34, 67, 100]),         # ceil(k * steps / K)
    (3, 8, [1, 2, 3]),               # fewer steps than checkpoints: every step once
    (32, 1, [32]),                   # the final evaluation only
    (32, 0, []),                     # off
])
def test_checkpoint_steps_are_evenly_spaced_and_end_at_the_final_step(steps, k, expected):
    assert checkpoint_steps(steps, k) == expected


# ------------------------------------------------------------------ the rows a store gives
def test_rows_are_the_checkpoints_then_the_final_loss():
    rec = record(1e8, 7e9, k=4)
    out = curve_rows([rec])
    assert [r["step"] for r in out.rows] == [25, 50, 75, 100]
    assert [r["tokens_seen"] for r in out.rows] == [1.75e9, 3.5e9, 5.25e9, 7e9]
    assert out.rows[-1]["loss"] == rec["loss"]  # the final row is the run's final loss, not a repeat of it
    assert [r["loss"] for r in out.rows[:3]] == [c["loss"] for c in rec["checkpoints"][:3]]
    assert {r["run"] for r in out.rows} == {rec["run_id"]} and out.runs == 1 and out.with_checkpoints == 1
    assert set(out.rows[0]) == set(COLUMNS)


def test_old_store_without_checkpoints_exports_final_losses():
    old = [record(n, d, checkpoints=None) for n in SIZES for d in BUDGETS]
    out = curve_rows(old)
    assert len(out.rows) == 9 and out.final_only == 9 and out.with_checkpoints == 0
    assert [r["loss"] for r in out.rows] == [r["loss"] for r in old]
    assert [r["step"] for r in out.rows] == [100] * 9
    assert any("9 of 9 runs have no checkpoints" in n for n in out.notes)


def test_mixed_store_diverged_runs_and_non_finite_checkpoints():
    with_ckpt = record(1e8, 7e9, k=4)
    with_ckpt["checkpoints"][1]["loss"] = None  # an evaluation that came out non-finite
    recs = [with_ckpt, record(3e7, 2e9, checkpoints=None), record(3e8, 2e10, checkpoints=[]),
            {**record(1e8, 2e9), "diverged": True, "loss": None, "run_id": "gone"}]
    out = curve_rows(recs)
    by_run = {}
    for r in out.rows:
        by_run.setdefault(r["run"], []).append(r["step"])
    assert by_run == {with_ckpt["run_id"]: [25, 75, 100], recs[1]["run_id"]: [100], recs[2]["run_id"]: [100]}
    assert (out.runs, out.with_checkpoints, out.final_only, out.diverged, out.dropped_checkpoints) == (3, 1, 2, 1, 1)


def test_training_bits_are_columns_of_every_row():
    out = curve_rows([record(1e8, 7e9, bits=(4, 8, 16))])
    assert {(r["weight_bits"], r["activation_bits"], r["kv_bits"]) for r in out.rows} == {(4, 8, 16)}
    text = curves_text(out.rows)
    assert text.splitlines()[0] == ",".join(COLUMNS)
    assert text.splitlines()[1].endswith(",25,4,8,16")


@pytest.mark.parametrize("bad, message", [
    ("not a list", "is not a list"),
    ([{"step": 0, "tokens_seen": 1, "loss": 3.0}], "is not {step"),
    ([{"step": 5, "tokens_seen": -1, "loss": 3.0}], "is not {step"),
    ([{"step": 5, "tokens_seen": 1e3, "loss": "3.0"}], "is not {step"),
])
def test_malformed_checkpoints_are_one_line_errors(bad, message):
    with pytest.raises(PrecplanError, match=message):
        curve_rows([record(1e8, 7e9, checkpoints=bad)])


def test_nothing_to_export_when_every_run_diverged():
    with pytest.raises(PrecplanError, match="no run with a final loss"):
        curve_rows([{**record(1e8, 2e9), "diverged": True, "loss": None}])


# ------------------------------------------------------------------ the CLI
@pytest.mark.slow
def test_report_exports_curves_with_json_and_the_fit_command(runner, tmp_path):
    store = write_store(tmp_path / "store", grid())
    out = tmp_path / "curves.csv"
    res = runner.invoke(app(), ["validate", "--report", str(store), "--curves-out", str(out), "--fit-grid", "coarse",
                                "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["curves"]["path"] == str(out) and str(out) in doc["files"]
    assert (doc["curves"]["rows"], doc["curves"]["runs"], doc["curves"]["runs_with_checkpoints"]) == (36, 9, 9)
    assert doc["curves"]["fit_args"] == fit_args(out)[1:]
    assert "--min-tokens 0" in doc["curves"]["fit_command"]
    rows = read_csv(out)
    assert len(rows) == 36 and list(rows[0]) == list(COLUMNS)
    stored = {r["run_id"]: r for r in grid()}
    for row in rows:  # full precision: every value reads back exactly
        rec = stored[row["run"]]
        match = [c for c in rec["checkpoints"] if c["step"] == int(row["step"])]
        assert float(row["loss"]) == match[0]["loss"] and float(row["tokens_seen"]) == match[0]["tokens_seen"]
    text = runner.invoke(app(), ["validate", "--report", str(store), "--curves-out", str(tmp_path / "c.tsv"),
                                 "--fit-grid", "coarse"])
    assert text.exit_code == 0, text.output
    assert "precplan fit" in text.stdout and "--min-tokens 0" in text.stdout
    assert read_csv(tmp_path / "c.tsv") == rows  # .tsv: the same rows, tab-separated


@pytest.mark.slow
def test_exported_curves_fit_back_to_the_law_that_made_them(runner, tmp_path):
    store = write_store(tmp_path / "store", grid())
    out = tmp_path / "curves.csv"
    assert runner.invoke(app(), ["validate", "--report", str(store), "--curves-out", str(out), "--fit-grid",
                                 "coarse"]).exit_code == 0
    res = runner.invoke(app(), ["fit", *fit_args(out)[2:], "--form", "chinchilla", "--grid", "coarse", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["settings"]["curves"]["runs"] == 9
    # skip fraction 0.75 keeps each run's checkpoint at 75% (not before 0.75 of its tokens) and its final one
    assert doc["n_rows"] == 18
    for name in ("E", "A", "B", "alpha", "beta"):  # noise-free losses of hoffmann2022: its coefficients back
        assert doc["coefficients"][name] == pytest.approx(HOFFMANN.c(name), rel=2e-2), name
    # fit's default --min-tokens (1e10) would drop the small runs' checkpoints: the error names the option
    small = write_store(tmp_path / "small", [record(n, d / 100) for n in SIZES for d in BUDGETS])
    assert runner.invoke(app(), ["validate", "--report", str(small), "--curves-out", str(tmp_path / "s.csv"),
                                 "--fit-grid", "coarse"]).exit_code == 0
    res = runner.invoke(app(), ["fit", str(tmp_path / "s.csv"), "--curves"])
    assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 1
    assert "every checkpoint is dropped" in res.stderr and "--min-tokens 0" in res.stderr


@pytest.mark.parametrize("args, message", [
    (["--curves-out", "{tmp}/c.txt"], "expected a .csv or .tsv file name"),
    (["--curves-out", "{tmp}/exists.csv"], "the file exists; add --force"),
    (["--curves-out", "{tmp}/nowhere/c.csv"], "does not exist"),
    (["--curves-out", "{tmp}/c.csv", "--checkpoints", "8"], "--checkpoints is a training option"),
])
def test_bad_export_options_are_one_line_exit_2(runner, tmp_path, args, message):
    store = write_store(tmp_path / "store", grid())
    (tmp_path / "exists.csv").write_text("keep me\n")
    res = runner.invoke(app(), ["validate", "--report", str(store)] + [a.format(tmp=tmp_path) for a in args])
    assert res.exit_code == 2, res.output
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert (tmp_path / "exists.csv").read_text() == "keep me\n" and not (store / "report.md").exists()


def test_force_replaces_a_curves_file_and_a_killed_writers_partial_line_is_ignored(runner, tmp_path):
    store = write_store(tmp_path / "store", grid(), tail='{"run_id": "half-writ')
    (tmp_path / "c.csv").write_text("old\n")
    res = runner.invoke(app(), ["validate", "--report", str(store), "--curves-out", str(tmp_path / "c.csv"), "--force",
                                "--fit-grid", "coarse", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["curves"]["runs"] == 9 and "partial last line" in res.stderr
    assert len(read_csv(tmp_path / "c.csv")) == 36


def test_fit_curves_on_a_store_says_how_to_export_them(runner, tmp_path):
    store = write_store(tmp_path / "store", grid())
    res = runner.invoke(app(), ["fit", str(store / "runs.jsonl"), "--curves"])
    assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 1
    assert "--curves-out curves.csv" in res.stderr


@pytest.mark.parametrize("args, message", [
    (["--checkpoints", "-1"], "--checkpoints must be a whole number from 0 to 100"),
    (["--checkpoints", "1000"], "--checkpoints must be a whole number from 0 to 100"),
    (["--list", "--curves-out", "c.csv"], "not with --list"),
])
def test_bad_training_options_are_one_line_exit_2(runner, tmp_path, args, message):
    res = runner.invoke(app(), ["validate", "--preset", "smoke", "--out", str(tmp_path / "o")] + args)
    assert res.exit_code == 2, res.output
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_the_export_does_not_import_torch(tmp_path):
    store = write_store(tmp_path / "store", grid())
    code = ("import sys; from typer.testing import CliRunner; from precplan.cli import app; "
            f"r = CliRunner().invoke(app, ['validate', '--report', {str(store)!r}, '--curves-out', "
            f"{str(tmp_path / 'c.csv')!r}, '--fit-grid', 'coarse', '--json']); assert r.exit_code == 0, r.output; "
            "print(sorted(m for m in ('torch', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]" and (tmp_path / "c.csv").exists()


# ------------------------------------------------------------------ training (tiny runs)
@pytest.mark.slow
def test_a_run_records_its_checkpoints_and_they_do_not_change_it(torch_seed):
    from precplan.validate._data import ZipfFacts
    from precplan.validate._train import RunSpec, placement, train_run

    spec = RunSpec("25K", 16 * 64 * 24, batch_size=16, seq_len=64, val_tokens=2048, ptq_bits=(4,))
    src, cpu = ZipfFacts(), placement("cpu")
    run = train_run(spec, src, cpu, checkpoints=4)
    assert [c["step"] for c in run.checkpoints] == [6, 12, 18, 24]
    assert [c["tokens_seen"] for c in run.checkpoints] == [6 * 1024, 12 * 1024, 18 * 1024, 24 * 1024]
    losses = [c["loss"] for c in run.checkpoints]
    assert all(l == l and 0 < l < 6 for l in losses) and losses == sorted(losses, reverse=True)
    assert losses[-1] == pytest.approx(run.loss, abs=1e-6)
    bare = train_run(spec, src, cpu, checkpoints=0)  # evaluating has no effect on training
    assert bare.checkpoints == [] and bare.loss == pytest.approx(run.loss, abs=1e-6)
    assert bare.ptq["4"] == pytest.approx(run.ptq["4"], abs=1e-6)


def app():
    from precplan.cli import app as the_app

    return the_app
