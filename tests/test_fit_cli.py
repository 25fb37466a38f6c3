"""`precplan fit` from the command line: the Sardana runs end to end, JSON, bad input (exit 2),
and the --plot picture."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from precplan.cli import app
from precplan.laws._file import load_law

from oracles import SARDANA_COLUMNS, SARDANA_COLUMNS_ARG, SARDANA_RUNS, chinchilla_records, precision_records
from reference import HOFFMANN_GRID_STARTS

runner = CliRunner()


def write_csv(path: Path, records: list[dict]) -> Path:
    keys = list(records[0])
    path.write_text(",".join(keys) + "\n" + "\n".join(",".join(repr(float(r[k])) for k in keys) for r in records) + "\n")
    return path


@pytest.mark.slow
def test_sardana_fits_end_to_end_and_the_law_loads_in_predict(tmp_path):
    out = tmp_path / "sardana-law.yaml"
    res = runner.invoke(app, ["fit", str(SARDANA_RUNS), "--columns", SARDANA_COLUMNS_ARG, "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["r2"] > 0.95 and doc["n_runs"] == 47 and doc["form"] == "chinchilla"
    assert set(doc["coefficients"]) == {"E", "A", "B", "alpha", "beta"}
    assert doc["converged"] == {"base": True} and doc["stages"]["base"]["starts"] == HOFFMANN_GRID_STARTS
    law = load_law(str(out))
    c = doc["coefficients"]
    # predict with the written law: the CLI's number against the closed form of the JSON coefficients
    pred = runner.invoke(app, ["predict", "--law", str(out), "-N", "1B", "-D", "20B", "--json"])
    assert pred.exit_code == 0, pred.output
    expected = c["E"] + c["A"] * 1e9 ** -c["alpha"] + c["B"] * 2e10 ** -c["beta"]
    assert json.loads(pred.stdout)["loss"] == pytest.approx(expected, rel=1e-12)
    assert law.provenance["data"]["rows"] == 47
    assert law.provenance["fit"]["columns"] == SARDANA_COLUMNS
    # the measured losses are reproduced to a few percent (R^2 computed here from the file's law)
    lines = SARDANA_RUNS.read_text().splitlines()[1:]
    N, D, L = (np.array([float(line.split(",")[i]) for line in lines]) for i in (1, 3, 5))
    pred_all = law.loss(N, D)
    assert 1 - np.sum((pred_all - L) ** 2) / np.sum((L - L.mean()) ** 2) == pytest.approx(doc["r2"], rel=1e-9)


@pytest.mark.slow
def test_table_output_with_bootstrap_and_holdout(tmp_path):
    res = runner.invoke(app, ["fit", str(SARDANA_RUNS), "--columns", SARDANA_COLUMNS_ARG, "--grid", "coarse",
                              "--bootstrap", "20", "--holdout-largest", "--at-budget", "1e21"])
    assert res.exit_code == 0, res.output
    for text in ("coefficients, ", "95% interval", "fit quality", "held out (largest model size)",
                 "compute-optimal at 1e+21 FLOPs", "N* (parameters)"):
        assert text in res.stdout, text
    assert "held out (largest model size): 1 target " in res.stdout  # Sardana's largest model: one run
    assert "1 targets" not in res.stdout


@pytest.mark.slow
def test_precision_fit_says_what_it_took_from_kumar(tmp_path):
    path = write_csv(tmp_path / "quant.csv", precision_records(load_law("kumar2024")))
    res = runner.invoke(app, ["fit", str(path), "--grid", "coarse", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["form"] == "precision" and doc["fitted"][-2:] == ["gamma_w", "n_w"]
    assert doc["sources"]["gamma_a"] == "taken from kumar2024"
    assert any("taken from kumar2024" in n for n in doc["notes"])
    table = runner.invoke(app, ["fit", str(path), "--grid", "coarse"])
    assert "taken from kumar2024 (published)" in table.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--columns", "params=Parameters"], "no column 'tokens'"),
        (["--columns", "params=Parameters,tokens=Tokens,loss=Loss"], "no column 'Loss'"),
        (["--columns", SARDANA_COLUMNS_ARG, "--grid", "medium"], "--grid must be one of"),
        (["--columns", SARDANA_COLUMNS_ARG, "--objective", "l1"], "--objective must be huber or lsq"),
        (["--columns", SARDANA_COLUMNS_ARG, "--delta", "0"], "--delta must be a positive number"),
        (["--columns", SARDANA_COLUMNS_ARG, "--form", "precision"], "needs runs trained below 16 bits"),
        (["--columns", SARDANA_COLUMNS_ARG, "--form", "ptq"], "needs post_bits and post_loss"),
        (["--columns", SARDANA_COLUMNS_ARG, "--holdout", "params>>1"], "expected COLUMN OP NUMBER"),
        (["--columns", SARDANA_COLUMNS_ARG, "--plot", "fit.gif"], "unknown image format"),
        (["--columns", SARDANA_COLUMNS_ARG, "--law", "nosuchlaw", "--form", "precision"], "unknown law"),
    ],
)
def test_bad_options_exit_2_with_one_line(args, message):
    res = runner.invoke(app, ["fit", str(SARDANA_RUNS)] + args)
    assert res.exit_code == 2
    assert message in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.output


@pytest.mark.parametrize(
    "text, message",
    [
        ("params,tokens,loss\n1e8,1e9,3.1\n2e8,2e9,nan\n", "line 3: loss is nan"),
        ("params,tokens,loss\n1e8,1e9,3.1\n2e8,2e9,0\n", "loss = 0 must be positive"),
        ("params,tokens,loss\n1e8,1e9,3.1\n2e8,2e9,3.0\n1e8,1e9,3.1\n", "are the same run"),
        ("params,tokens,loss\n1e8,1e9,3.1\n2e8,2e9,3.0\n4e8,4e9,2.9\n", "more runs than coefficients"),
    ],
)
def test_bad_data_exits_2(tmp_path, text, message):
    path = tmp_path / "runs.csv"
    path.write_text(text)
    res = runner.invoke(app, ["fit", str(path), "--grid", "coarse"])
    assert res.exit_code == 2 and message in res.stderr, res.output


def test_missing_file_exits_2(tmp_path):
    res = runner.invoke(app, ["fit", str(tmp_path / "none.csv")])
    assert res.exit_code == 2 and "no such file" in res.stderr


MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".svg": b"<svg", ".pdf": b"%PDF-"}


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_plot_file_is_a_valid_image(tmp_path, suffix):
    path = tmp_path / f"fit{suffix}"
    res = runner.invoke(app, ["fit", str(SARDANA_RUNS), "--columns", SARDANA_COLUMNS_ARG, "--grid", "coarse",
                              "--plot", str(path), "--json"])
    assert res.exit_code == 0, res.output
    data = path.read_bytes()
    if suffix == ".svg":
        assert MAGIC[suffix] in data[:1000] and data.rstrip().endswith(b"</svg>")
    else:
        assert data.startswith(MAGIC[suffix])
    assert json.loads(res.stdout)["plot"] == str(path)


@pytest.mark.slow
def test_plot_holds_the_expected_series(tmp_path):
    from precplan.fit._fit import fit_law
    from precplan.plots._common import series_labels
    from precplan.plots._fit import fit_figure

    records = chinchilla_records(load_law("hoffmann2022"), noise=0.01, seed=2)
    result = fit_law(records, grid="coarse", bootstrap=10, holdout="params>=440M")
    labels = series_labels(fit_figure(result))
    for label in ("training runs (fit)", "held-out runs", "identity (perfect fit)", "zero residual",
                  "bootstrap: alpha", "bootstrap: N*", "full fit"):
        assert label in labels, label
    assert labels.count("held-out runs") == 3  # measured-vs-fitted and both residual panels

    ptq = fit_law(precision_records(load_law("kumar2024"), weight_bits=(4, 8, 16), post_bits=(3, 4)), grid="coarse")
    assert "PTQ measurements (fit)" in series_labels(fit_figure(ptq))
