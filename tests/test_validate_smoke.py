"""``precplan validate --preset smoke`` end to end on CPU, with fixed seeds.

The smoke sweep (11 tiny runs, ~20-40 s on 2 cores) runs once per session (module fixture);
every test below reads its store, its report or reruns cheap parts of the CLI.
"""

from __future__ import annotations

import builtins
import json
import math
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from precplan.cli import app

torch = pytest.importorskip("torch")

runner = CliRunner()
MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".pdf": b"%PDF-"}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("smoke")
    res = runner.invoke(app, ["validate", "--preset", "smoke", "--device", "cpu", "--out", str(out),
                              "--plot", str(out / "validate.png"), "--curves-out", str(out / "curves.csv"), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    from precplan.validate._store import read_folders

    records, _ = read_folders([out])  # every writer's file (one here: one process trained)
    return out, doc, {(r["config"]["shape"], r["tokens"], r["weight_bits"]): r for r in records}


@pytest.mark.slow
def test_smoke_sweep_ran_every_run(smoke):
    _, doc, runs = smoke
    assert doc["sweep"]["ran"] == 11 and doc["sweep"]["skipped"] == 0 and doc["sweep"]["diverged"] == 0
    assert len(runs) == 11
    for r in runs.values():  # the keys the fit loader reads, as it reads them
        assert {"run_id", "params", "tokens", "loss", "weight_bits", "activation_bits", "kv_bits", "ptq",
                "diverged", "seed", "config", "tokens_per_s", "device"} <= set(r)
        assert set(r["ptq"]) == {"3", "4", "6", "8"} and r["diverged"] is False and r["tokens_per_s"] > 0


@pytest.mark.slow
def test_training_lowers_loss(smoke):
    for r in smoke[2].values():
        # from uniform guessing over 256 tokens (ln 256 = 5.55) to well below it
        assert r["initial_train_loss"] == pytest.approx(5.55, abs=0.1)
        assert r["loss"] < r["initial_train_loss"] - 2.0
        assert r["curve"][-1][1] < r["curve"][0][1]


@pytest.mark.slow
def test_loss_falls_with_params_and_tokens(smoke):
    runs = smoke[2]
    shapes, tokens = ("25K", "50K", "100K"), (65_536, 131_072, 262_144)
    for d in tokens:
        losses = [runs[(s, d, 16)]["loss"] for s in shapes]
        assert losses == sorted(losses, reverse=True), (d, losses)
    for s in shapes:
        losses = [runs[(s, d, 16)]["loss"] for d in tokens]
        assert losses == sorted(losses, reverse=True), (s, losses)


@pytest.mark.slow
def test_three_bit_weights_end_worse_than_eight_bit(smoke):
    runs = smoke[2]
    w3, w8 = runs[("25K", 262_144, 3)]["loss"], runs[("25K", 262_144, 8)]["loss"]
    assert w3 > w8 + 0.005
    assert runs[("25K", 262_144, 8)]["params"] == runs[("25K", 262_144, 3)]["params"]


@pytest.mark.slow
def test_ptq_to_3_bits_hurts_more_than_to_8(smoke):
    for (shape, d, w), r in smoke[2].items():
        hurt = {b: r["ptq"][str(b)] - r["loss"] for b in (3, 4, 8)}
        if w == 3:  # quantizing to the training precision costs nothing (Kumar et al. eq. 9)
            assert hurt[3] == pytest.approx(0.0, abs=1e-4)
            continue
        assert hurt[3] > hurt[4] > hurt[8] - 1e-4
        assert hurt[3] > 0.005 and abs(hurt[8]) < 0.003


@pytest.mark.slow
def test_report_files_and_plot(smoke):
    out, doc, _ = smoke
    report = json.loads((out / "report.json").read_text())
    assert report["base"]["runs"] == 9 and report["base"]["r2"] > 0.9
    assert {c["claim"] for c in report["claims"]} == {c["claim"] for c in doc["claims"]}
    md = (out / "report.md").read_text()
    assert "Measured vs predicted" in md and "The paper's claims on this data" in md
    assert (out / "validate.png").read_bytes().startswith(MAGIC[".png"])
    assert str(out / "validate.png") in doc["files"]


@pytest.mark.slow
def test_plot_series_by_label(smoke):
    pytest.importorskip("matplotlib")
    from precplan.laws._file import load_law
    from precplan.plots._common import series_labels
    from precplan.plots._validate import validate_figure
    from precplan.validate._report import analyze
    from precplan.validate._store import read_folders

    records, _ = read_folders([smoke[0]])
    fig = validate_figure(analyze(records, load_law("kumar2024"), grid="coarse"))
    labels = series_labels(fig)
    assert "identity (predicted = measured)" in labels
    assert "16-bit runs (base fit) (9)" in labels and "quantized training (2)" in labels
    assert "post-training quantization (44)" in labels
    assert "N=26.8K, D=262K measured" in labels and "N=26.8K, D=262K predicted" in labels
    ax = fig.axes[1]
    measured = next(line for line in ax.lines if line.get_label() == "N=26.8K, D=262K measured")
    assert list(measured.get_xdata()) == [3, 8, 16]


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".svg", ".pdf"])
def test_report_only_writes_other_formats_without_training(smoke, tmp_path, suffix):
    path = tmp_path / f"v{suffix}"
    res = runner.invoke(app, ["validate", "--report", str(smoke[0]), "--out", str(tmp_path), "--plot", str(path),
                              "--fit-grid", "coarse"])
    assert res.exit_code == 0, res.output
    data = path.read_bytes()
    assert (b"<svg" in data[:2000]) if suffix == ".svg" else data.startswith(MAGIC[suffix])
    assert (tmp_path / "report.md").exists() and "sweep:" not in res.stdout


@pytest.mark.slow
def test_resume_skips_finished_runs_and_redoes_a_lost_one(smoke, tmp_path):
    out = tmp_path / "resume"
    shutil.copytree(smoke[0], out)
    from precplan.validate._store import read_folders, store_files

    [store] = store_files(out)  # one process trained the sweep: one writer's file
    lines = store.read_text().splitlines(keepends=True)
    res = runner.invoke(app, ["validate", "--preset", "smoke", "--device", "cpu", "--out", str(out), "--json",
                              "--fit-grid", "coarse"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["sweep"]["ran"] == 0 and doc["sweep"]["skipped"] == 11
    assert store_files(out) == [store] and store.read_text().splitlines(keepends=True) == lines
    # a run killed mid-way left no line (here: the smallest run's line removed): it is redone
    smallest = min(lines, key=lambda s: json.loads(s)["params"] * json.loads(s)["tokens"])
    store.write_text("".join(x for x in lines if x != smallest) + '{"run_id": "partial')
    res = runner.invoke(app, ["validate", "--preset", "smoke", "--device", "cpu", "--out", str(out), "--json",
                              "--fit-grid", "coarse"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["sweep"]["ran"] == 1 and doc["sweep"]["skipped"] == 10
    records, _ = read_folders([out])  # the fragment: repaired by its own writer, or noted in another's file
    assert len(records) == 11 and "partial" not in {r["run_id"] for r in records}
    again = [r for r in records if r["run_id"] == json.loads(smallest)["run_id"]]
    assert again[-1]["loss"] == pytest.approx(json.loads(smallest)["loss"], abs=1e-4)  # same seed, same result


@pytest.mark.slow
def test_every_run_records_its_validation_loss_at_four_checkpoints(smoke):
    from precplan.validate._curves import checkpoint_steps

    for r in smoke[2].values():
        steps, per_step = r["config"]["steps"], r["config"]["batch_size"] * r["config"]["seq_len"]
        ckpts = r["checkpoints"]
        assert [c["step"] for c in ckpts] == checkpoint_steps(steps, 4) == [steps // 4, steps // 2, 3 * steps // 4, steps]
        assert [c["tokens_seen"] for c in ckpts] == [c["step"] * per_step for c in ckpts]
        assert ckpts[-1]["tokens_seen"] == r["tokens"]
        losses = [c["loss"] for c in ckpts]
        assert all(math.isfinite(x) for x in losses) and losses == sorted(losses, reverse=True)
        assert losses[-1] == pytest.approx(r["loss"], abs=1e-6)  # the last checkpoint is the final evaluation
        assert losses[0] < r["initial_train_loss"]


@pytest.mark.slow
def test_smoke_curves_export_and_fit(smoke, tmp_path):
    from precplan.validate._curves import fit_args

    curves = tmp_path / "curves.csv"
    res = runner.invoke(app, ["validate", "--report", str(smoke[0]), "--out", str(tmp_path), "--curves-out", str(curves),
                              "--fit-grid", "coarse", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)["curves"]
    assert (doc["rows"], doc["runs"], doc["runs_with_checkpoints"]) == (44, 11, 11)
    assert curves.read_text() == (smoke[0] / "curves.csv").read_text()  # the same file as training wrote
    assert str(smoke[0] / "curves.csv") in smoke[1]["files"] and smoke[1]["curves"]["rows"] == 44
    res = runner.invoke(app, ["fit", *fit_args(curves)[2:], "--grid", "coarse", "--json"])
    assert res.exit_code == 0, res.output
    fit = json.loads(res.stdout)
    assert fit["settings"]["curves"]["runs"] == 11 and fit["n_rows"] == 22  # the 75% and final checkpoints kept
    assert fit["r2"] > 0.9


def test_shards_are_disjoint_and_cover_the_preset():
    seen = []
    for i in range(3):
        res = runner.invoke(app, ["validate", "--preset", "quick", "--shard", f"{i}/3", "--list", "--json", "--out", "/nonexistent"])
        assert res.exit_code == 0, res.output
        seen.append([r["run_id"] for r in json.loads(res.stdout)["runs"]])
    res = runner.invoke(app, ["validate", "--preset", "quick", "--list", "--json", "--out", "/nonexistent"])
    everything = [r["run_id"] for r in json.loads(res.stdout)["runs"]]
    flat = [x for s in seen for x in s]
    assert sorted(flat) == sorted(everything) and len(set(flat)) == len(flat) == len(everything)


@pytest.mark.slow
def test_diverged_run_is_recorded_as_diverged(tmp_path):
    from precplan.validate._data import ZipfFacts
    from precplan.validate._store import read_store
    from precplan.validate._sweep import run_sweep
    from precplan.validate._train import RunSpec, placement

    spec = RunSpec("25K", 16 * 128 * 30, lr=100.0, val_tokens=1024, ptq_bits=(4,))
    summary = run_sweep([spec], ZipfFacts(), placement("cpu"), tmp_path, "test")
    assert summary.ran == 1 and summary.diverged == 1
    (rec,), _ = read_store(summary.store)
    assert rec["diverged"] is True and rec["loss"] is None and rec["ptq"] == {}
    assert 0 < rec["diverged_at_tokens"] <= rec["tokens"]
    res = runner.invoke(app, ["validate", "--report", str(tmp_path)])  # one diverged run: nothing to fit
    assert res.exit_code == 0, res.output
    assert "diverged" in res.stderr


@pytest.mark.slow
def test_file_data_warns_when_a_run_repeats_it(tmp_path):
    from precplan.validate._data import load_source
    from precplan.validate._sweep import run_sweep
    from precplan.validate._train import RunSpec, placement

    (tmp_path / "corpus.txt").write_text("the quick brown fox jumps over the lazy dog. " * 400)
    source = load_source(str(tmp_path / "corpus.txt"))
    spec = RunSpec("25K", 16 * 128 * 20, val_tokens=512, ptq_bits=(8,))  # 41K tokens > 17K available
    summary = run_sweep([spec], source, placement("cpu"), tmp_path / "out", "test")
    assert summary.ran == 1 and len(summary.warnings) == 1 and "repeats data" in summary.warnings[0]


def test_missing_torch_is_one_line_and_exit_2(monkeypatch):
    real = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    res = runner.invoke(app, ["validate", "--preset", "smoke", "--out", "/nonexistent"])
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [
        "error: precplan validate trains models with torch, which is not installed: pip install 'precplan[validate]'"
    ]


@pytest.mark.parametrize("args, message", [
    (["--preset", "huge"], "unknown preset"),
    (["--shard", "3/3"], "--shard 3/3"),
    (["--plot", "x.gif"], "unknown image format"),
    (["--report", "/nonexistent-folder"], "no such folder"),
    (["--device", "cuda"], "no CUDA GPU is visible"),
    (["--device", "tpu"], "expected auto, cuda or cpu"),
    (["--act-granularity", "row"], "--act-granularity"),
    (["somewhere"], "only taken with --report"),
])
def test_bad_input_is_one_line_exit_2(args, message, tmp_path):
    if "--device" in args and torch.cuda.is_available():
        pytest.skip("CUDA present")
    res = runner.invoke(app, ["validate", "--preset", "smoke", "--out", str(tmp_path / "o")] + args
                        if "--preset" not in args else ["validate", "--out", str(tmp_path / "o")] + args)
    assert res.exit_code == 2, res.output
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_importing_the_cli_does_not_import_torch():
    code = "import sys, precplan.cli; bad = [m for m in ('torch', 'matplotlib') if m in sys.modules]; print(bad)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
