"""`precplan ptq-risk` through the CLI: JSON keys and values, the sweep, the verdict, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from precplan.cli import app
from oracles import ptq_argmin
from reference import ASSUMED_C, KUMAR, ROBUSTNESS_8_TO_4, kumar_loss, loss_after_ptq

runner = CliRunner()
C = dict(KUMAR, C_w=ASSUMED_C, C_a=ASSUMED_C, C_kv=ASSUMED_C)  # the robustness constants bundled (assumed) in kumar2024


def run(*args: str):
    return runner.invoke(app, ["ptq-risk", *args])


def run_json(*args: str) -> dict:
    res = run(*args, "--json")
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_json_top_level_keys_and_values():
    out = run_json("--params", "7B", "--tokens", "2T", "--post", "int4")
    for key in ("loss_before", "loss_after", "degradation", "d_crit"):
        assert isinstance(out[key], float), key
    assert out["loss_before"] == pytest.approx(kumar_loss(C, 7e9, 2e12), rel=1e-12)
    assert out["loss_after"] == pytest.approx(loss_after_ptq(C, 7e9, 2e12, 4.0), rel=1e-12)
    assert out["degradation"] == pytest.approx(out["loss_after"] - out["loss_before"], rel=1e-9)
    assert out["d_crit"] == pytest.approx(ptq_argmin(C, 7e9, 4.0), rel=1e-6)
    assert out["post_name"] == "int4" and out["status"] == "past"
    assert [row["post_bits"] for row in out["table"]] == [2, 3, 4, 5, 6, 7, 8]
    for row in out["table"]:
        assert set(row) >= {"post_bits", "loss_after", "d_crit", "degradation", "status"}
        assert row["d_crit"] == pytest.approx(ptq_argmin(C, 7e9, row["post_bits"]), rel=1e-6)
    assert out["assumed"] == ["C_w", "C_a", "C_kv"]
    assert any("extrapolates" in w for w in out["warnings"])  # 7B, 2T: far outside the fit range
    assert {o["bits"]["weights"] for o in out["training"]} == {16.0, 8.0, 4.0}


def test_post_list_and_posts_option():
    out = run_json("--params", "1B", "--tokens", "20B", "--post", "3,4,8")
    assert out["post_bits"] == 3 and [r["post_bits"] for r in out["table"]] == [3, 4, 8]
    out = run_json("--params", "1B", "--tokens", "20B", "--post", "4", "--posts", "3,5")
    assert out["post_bits"] == 4 and [r["post_bits"] for r in out["table"]] == [3, 4, 5]


def test_low_precision_training_options():
    out = run_json("--params", "1B", "--tokens", "20B", "--train-precision", "8")
    assert out["bits"] == {"weights": 8.0, "activations": 8.0, "kv": 8.0}
    assert out["loss_after"] == pytest.approx(
        loss_after_ptq(C, 1e9, 20e9, 4.0, 8.0, 8.0, 8.0, robustness=ROBUSTNESS_8_TO_4**3), rel=1e-12)  # eq. 9 by hand
    out2 = run_json("--params", "1B", "--tokens", "20B", "--weights", "8", "--activations", "8", "--kv", "8")
    assert out2["loss_after"] == out["loss_after"]


def test_token_sweep_gives_the_degradation_curve():
    out = run_json("--params", "7B", "--tokens", "100B:10T:20")
    curve = out["curve"]
    assert len(curve) == 20
    D = np.array([p["tokens"] for p in curve])
    assert D[0] == pytest.approx(1e11) and D[-1] == pytest.approx(1e13)
    deg = np.array([p["degradation"] for p in curve])
    assert np.all(np.diff(deg) > 0)
    np.testing.assert_allclose(deg, loss_after_ptq(C, 7e9, D, 4.0) - kumar_loss(C, 7e9, D), rtol=1e-9)
    assert [p["past_d_crit"] for p in curve] == list(D > out["d_crit"])
    dc = out["d_crit"]
    assert [p["status"] for p in curve] == ["past" if d > dc else "near" if d >= dc / 2 else "below" for d in D]
    assert sum("b_post" in n for n in out["notes"]) == 1


def test_sweep_and_single_point_say_the_same_status():
    # D_crit(7B, 4 bits) is about 188B: 100B is within a factor 2 of it in both modes
    single = run_json("--params", "7B", "--tokens", "100B")
    sweep = run_json("--params", "7B", "--tokens", "100B:10T:5")
    assert single["status"] == sweep["curve"][0]["status"] == "near"
    text = run("--params", "7B", "--tokens", "100B:10T:5").stdout
    first = next(line for line in text.splitlines() if "100B" in line and "│" in line)
    assert "near" in first and "below" not in first


def test_help_documents_post_list():
    res = runner.invoke(app, ["ptq-risk", "--help"], env={"COLUMNS": "200"})
    text = " ".join(res.stdout.replace("│", " ").split())  # help panels wrap inside box borders
    assert "first entry (3) is the headline" in text and "--post 3 --posts 3,4,8" in text


def test_human_output_has_verdict_and_assumption():
    res = run("--params", "7B", "--tokens", "2T")
    assert res.exit_code == 0, res.output
    text = " ".join(res.stdout.split())
    # 7B, 2T is 32x and 77x beyond kumar2024's data: the verdict says what the law extrapolates to
    assert "beyond its data" in text and "past its D_crit" in text and "not a measured effect" in text
    assert "ASSUMED" in text
    near = run("--params", "7B", "--tokens", "120B")  # D_crit(7B, 4 bits) is about 188B
    assert near.exit_code == 0 and "warning:" in near.stdout
    sweep = run("--params", "220M", "--tokens", "1B:100B:5")
    assert sweep.exit_code == 0 and "degradation curve" in sweep.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--params", "7B", "--tokens", "2T", "--post", "16"], "at or above the weights' training precision"),
        (["--params", "7B", "--tokens", "2T", "--train-precision", "8", "--post", "8"], "at or above"),
        (["--params", "7B", "--tokens", "2T", "--weights", "4", "--post", "6"], "at or above"),
        (["--params", "7B", "--tokens", "2T", "--posts", "3,16"], "at or above"),
        (["--params", "0", "--tokens", "2T"], "positive"),
        (["--params", "-7B", "--tokens", "2T"], "positive"),
        (["--params", "7B", "--tokens", "0"], "positive"),
        (["--params", "7B", "--tokens", "2T", "--law", "no-such-law"], "unknown law"),
        (["--params", "7B", "--tokens", "2T", "--law", "hoffmann2022"], "no post-training-quantization terms"),
        (["--params", "7B", "--tokens", "2T", "--post", "3,4", "--posts", "5"], "not both"),
        (["--params", "7B", "--tokens", "2T", "--activations", "3"], "outside the domain"),
        (["--params", "7B", "--tokens", "2T", "--plot", "out.gif"], "unknown image format"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, message):
    res = run(*args)
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]
    assert "Traceback" not in res.output


def test_cli_import_stays_light():
    code = (
        "import sys, precplan.cli;"
        "print(sorted(m for m in ('numpy', 'scipy', 'matplotlib', 'precplan.ptq._risk') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
