"""``precplan optimize`` through the CLI: JSON keys, CSV, human output, exit 2 on bad input."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from precplan.cli import app

from reference import PEAK_FLOPS


def run(*args: str):
    return CliRunner().invoke(app, ["optimize", *args])


def as_json(*args: str):
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_json_plan_has_the_documented_keys():
    plan = as_json("--budget", "1e21")
    for key in ("params", "tokens", "loss", "tokens_per_param", "train_flops", "decomposition", "comparison", "assumed", "warnings", "notes"):
        assert key in plan
    assert all(isinstance(plan[k], float) for k in ("params", "tokens", "loss"))
    assert set(plan["bits"]) == {"weights", "activations", "kv"}
    assert plan["bits"]["weights"] == 7.0
    assert {r["label"] for r in plan["comparison"]} == {"4-bit", "8-bit", "16-bit", "optimum P*"}
    d = plan["decomposition"]
    assert d["irreducible"] + d["param_term"] + d["data_term"] == pytest.approx(plan["loss"], rel=1e-12)
    assert any("outside the range" in w for w in plan["warnings"])


def test_sweep_prints_one_row_per_budget():
    sweep = as_json("--budget", "1e19:1e25:13")
    plans = sweep["rows"]
    assert sweep["count"] == 13 and len(plans) == 13
    assert [p["budget"] for p in plans] == pytest.approx([10 ** (19 + 0.5 * i) for i in range(13)], rel=1e-12)
    assert {p["bits_weights"] for p in plans} == {7.0}


def test_lifetime_plan_adds_flop_keys():
    plan = as_json("--law", "sardana2024", "--target-loss", "2.05", "--inference-tokens", "2T")
    assert plan["total_flops"] == pytest.approx(plan["train_flops"] + plan["inference_flops"], rel=1e-12)
    assert plan["inference_flops"] == pytest.approx(2 * plan["params"] * 2e12, rel=1e-12)
    assert plan["reference"]["saved_fraction"] > 0.1
    assert plan["loss"] == pytest.approx(2.05, rel=1e-9)


def test_inference_precision_flags_assumed_constants():
    plan = as_json("--budget", "1e22", "--inference-precision", "int4")
    assert set(plan["assumed"]) == {"C_w", "C_a", "C_kv"}
    assert plan["without_ptq"]["tokens_per_param"] > plan["tokens_per_param"]
    text = run("--budget", "1e22", "--inference-precision", "4").stdout
    assert "ASSUMED" in text and "How the optimum moves" in text


def test_human_output_has_headline_and_comparison():
    result = run("--budget", "1e21")
    assert result.exit_code == 0
    out = result.stdout
    for text in ("parameters N*", "training tokens D*", "tokens per parameter", "training precision P*", "predicted loss", "irreducible E", "loss gap to P*", "16-bit", "optimum P* (7-bit)"):
        assert text in out


def test_csv_to_file_and_stdout(tmp_path):
    path = tmp_path / "plans.csv"
    result = run("--budget", "1e19:1e21:3", "--csv", str(path))
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 3 and float(rows[0]["budget"]) == pytest.approx(1e19)
    assert float(rows[2]["train_flops"]) == pytest.approx(1e21, rel=1e-9)
    assert not list(tmp_path.glob(".*tmp"))  # atomic write leaves no temporary file
    out = run("--budget", "1e21", "--csv", "-")
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert len(rows) == 1 and float(rows[0]["bits_weights"]) == 7.0


def test_gpu_cost_is_reported():
    plan = as_json("--budget", "1e22", "--precision", "8", "--gpu", "h100", "--price", "2.0", "--mfu", "0.4")
    # H100 dense BF16 peak (whitepaper) x MFU x the end-to-end FP8 gain over BF16, ~34% (Fishman et al. 2024,
    # arXiv:2409.12517), not the dense FP8/BF16 peak ratio of 2
    hours = 6 * plan["params"] * plan["tokens"] / (3600 * 989.4e12 * 0.4 * 1.34)
    assert plan["gpu_cost"]["train_gpu_hours"] == pytest.approx(hours, rel=1e-12)
    assert plan["dollars"] == pytest.approx(2.0 * hours, rel=1e-12)
    assert plan["gpu"] == "h100" and plan["cost_model"] == "hardware" and plan["train_format"] == "fp8-e4m3"


def test_composed_law_warns():
    result = run("--budget", "1e23", "--law", "kumar2024", "--base", "sardana2024")
    assert result.exit_code == 0
    assert "composition is an" in result.stderr.replace("\n", " ")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--budget", "lots"], "cannot read"),
        (["--budget", "1e21", "--target-loss", "3"], "not both"),
        (["--target-loss", "2.5"], "irreducible loss"),
        (["--params", "7B", "--memory", "1GB", "--budget", "1e21"], "does not fit --memory 1GB"),
        (["--params", "7B", "--inference-tokens", "2T", "--budget", "1e18"], "too small"),
        (["--law", "sardana2024", "--budget", "1e21", "--precision", "8"], "no precision terms"),
        (["--law", "sardana2024", "--budget", "1e21", "--inference-precision", "4"], "post-training-quantization"),
        (["--budget", "1e21", "--price", "2"], "needs --gpu"),
        (["--budget", "1e21", "--gpu", "tpu"], "unknown GPU"),
        (["--budget", "1e21", "--precision", "8", "--untied"], "--precision fixes"),
        (["--budget", "1e21", "--precisions", "16:4"], "LO < HI"),
        (["--tokens", "16B"], "nothing to plan against"),
        (["--budget", "1e21", "--plot", "out.gif"], "unknown image format"),
        (["--budget", "1e21", "--target-loss", "x"], "cannot read"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, message):
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output


def test_optimize_does_not_import_scipy_or_matplotlib():
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom precplan.cli import app\n"
        "r = CliRunner().invoke(app, ['optimize', '--budget', '1e21'])\n"
        "assert r.exit_code == 0, r.output\n"
        "print(sorted(m for m in ('scipy', 'matplotlib', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def table_cells(text: str, label: str) -> list[str]:
    """The cells of the table row whose first cell starts with ``label``."""
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if cells and cells[0].startswith(label):
            return cells[1:]
    raise AssertionError(f"no row {label!r} in:\n{text}")


def test_gpu_hours_use_one_style_matching_the_json():
    args = ["--budget", "1e22", "--gpu", "h100", "--inference-tokens", "2T"]
    plan = as_json(*args)
    out = run(*args).stdout
    for label, key in (("H100 GPU-hours: training", "train_gpu_hours"), ("GPU-hours: inference", "inference_gpu_hours"), ("GPU-hours: total", "total_gpu_hours")):
        (cell,) = table_cells(out, label)
        assert "e+" not in cell and cell == f"{plan['gpu_cost'][key]:,.0f}"  # thousands separators, no exponent


def test_continuous_bits_memory_and_ratios_are_shown_alike():
    args = ["--budget", "1e22", "--continuous", "--memory", "1.5GiB"]
    plan = as_json(*args)
    out = run(*args).stdout + run(*args).stderr
    w = plan["bits"]["weights"]
    assert abs(w - round(w)) > 1e-6  # a real-valued optimum
    assert f"weights memory at {w:.2f} bits" in out and f"{w:.2f}-bit" in out
    assert f"{w:.5f}" not in out
    assert "--memory 1.5GiB" in out and "1.61GB counts" not in out
    assert plan["weights_memory_bytes"] <= 1.5 * 2**30 * (1 + 1e-9)
    ratios = [cells[2] for cells in (table_cells(out, p) for p in ("4-bit", "8-bit", "16-bit"))]
    rows = {r["label"]: r for r in plan["comparison"]}
    assert ratios == [f"{rows[k]['tokens_per_param']:,.0f}" for k in ("4-bit", "8-bit", "16-bit")]  # e.g. 1,285, not 1.28e+03


def test_plain_and_memory_formatters():
    from precplan.cli._optimize_render import bits_num, plain
    from precplan.optimize._memory import format_memory
    from precplan.units import parse_bytes

    assert [plain(x) for x in (0.0672, 13.4, 1903.4, 33370.2, 2325.0)] == ["0.0672", "13.4", "1,903", "33,370", "2,325"]
    assert (bits_num(7.0), bits_num(7.00211), bits_num(4.5)) == ("7", "7.00", "4.50")
    assert (format_memory(1.5 * 2**30), format_memory(880e6), format_memory(8e9), format_memory(512 * 2**20)) == ("1.5GiB", "880MB", "8GB", "512MiB")
    for text in ("1.5GiB", "880MB", "24GiB", "80GB"):
        assert parse_bytes(format_memory(parse_bytes(text))) == pytest.approx(parse_bytes(text), rel=1e-12)
