"""``precplan predict`` and ``precplan laws`` driven through the CLI, bad input included."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from precplan.cli import app

from reference import KUMAR, LOSS_220M_16B, kumar_factor


def run_json(runner, *args: str) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_predict_json_16_bit(runner) -> None:
    out = run_json(runner, "predict", "--params", "220M", "--tokens", "16B")
    assert out["loss"] == pytest.approx(LOSS_220M_16B, abs=5e-5)
    assert out["effective_params"] == pytest.approx(220e6)
    assert out["ptq_degradation"] == 0.0
    assert out["irreducible"] + out["param_term"] + out["data_term"] == pytest.approx(out["loss"], rel=1e-12)
    assert out["bits"] == {"weights": 16.0, "activations": 16.0, "kv": 16.0}


def test_predict_low_precision_and_ptq(runner) -> None:
    out = run_json(runner, "predict", "--params", "220M", "--tokens", "16B", "--weights", "4", "--activations", "8",
                   "--kv", "8", "--post", "int4")
    frac = math.prod(kumar_factor(b, op) / kumar_factor(16, op) for b, op in ((4, "w"), (8, "a"), (8, "kv")))
    assert out["effective_fraction"] == pytest.approx(frac, rel=1e-9)
    assert out["ptq_degradation"] == 0.0  # trained at 4-bit weights: PTQ to int4 costs nothing (eq. 9)
    out = run_json(runner, "predict", "--params", "220M", "--tokens", "16B", "--precision", "8", "--post", "4")
    assert out["ptq_degradation"] > 0 and out["loss"] == pytest.approx(out["loss_before_ptq"] + out["ptq_degradation"])
    assert set(out["assumed"]) == {"C_w", "C_a", "C_kv"}
    assert any("ASSUMED" in n for n in out["notes"])


def test_predict_formats_say_how_they_map(runner) -> None:
    out = run_json(runner, "predict", "--params", "220M", "--tokens", "16B", "--weights", "fp8-e4m3")
    assert out["law"] == "kumar2024-fp"
    assert any("fp8-e4m3 = 8 bits (1 sign + 4 exponent + 3 mantissa)" in f for f in out["formats"])
    assert any("kumar2024-fp" in n for n in out["notes"])
    text = runner.invoke(app, ["predict", "--params", "220M", "--tokens", "16B", "--precision", "int4"]).stdout
    assert "int4 = 4 bits" in text and "predicted loss" in text


def test_predict_warns_when_extrapolating(runner) -> None:
    result = runner.invoke(app, ["predict", "--params", "7B", "--tokens", "2T"])
    assert result.exit_code == 0
    assert "extrapolates" in result.stderr


def test_predict_base_composition_warns(runner) -> None:
    out = run_json(runner, "predict", "--params", "70B", "--tokens", "1.4T", "--base", "hoffmann2022", "--precision", "8")
    assert out["law"] == "kumar2024+hoffmann2022"
    assert any("assumption" in w for w in out["warnings"])


def test_laws_list_and_show(runner) -> None:
    listed = run_json(runner, "laws", "list")
    assert {l["id"] for l in listed} >= {"kumar2024", "kumar2024-fp", "hoffmann2022", "besiroglu2024", "sardana2024"}
    shown = run_json(runner, "laws", "show", "kumar2024")
    assert shown["coefficients"]["gamma_w"]["value"] == KUMAR["gamma_w"]
    assert shown["coefficients"]["C_w"]["source"] == "assumed"
    text = runner.invoke(app, ["laws", "show", "kumar2024"]).stdout
    assert "ASSUMED" in text and "fitted range" in text


BAD_INPUTS = [
    (["predict", "--params", "-7B", "--tokens", "2T"], "must be a positive number"),
    (["predict", "--params", "7B", "--tokens", "0"], "must be a positive number"),
    (["predict", "--params", "7Q", "--tokens", "2T"], "unknown suffix"),
    (["predict", "--params", "7B", "--tokens", "2T", "--law", "nope"], "unknown law 'nope'"),
    (["predict", "--params", "7B", "--tokens", "2T", "--activations", "3"], "outside the domain"),
    (["predict", "--params", "7B", "--tokens", "2T", "--kv", "2"], "outside the domain"),
    (["predict", "--params", "7B", "--tokens", "2T", "--precision", "0.5"], "outside 1..64 bits"),
    (["predict", "--params", "7B", "--tokens", "2T", "--precision", "65"], "outside 1..64 bits"),
    (["predict", "--params", "7B", "--tokens", "2T", "--precision", "posit8"], "unknown precision"),
    (["predict", "--params", "7B", "--tokens", "2T", "--precision", "8", "--weights", "4"], "not both"),
    (["predict", "--params", "7B", "--tokens", "2T", "--law", "hoffmann2022", "--precision", "8"], "no precision terms"),
    (["predict", "--params", "7B", "--tokens", "2T", "--law", "hoffmann2022", "--post", "4"], "no post-training"),
    (["laws", "show", "nope"], "unknown law"),
]


@pytest.mark.parametrize("args,message", BAD_INPUTS)
def test_bad_input_exits_2_with_one_line(runner, args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "content,message",
    [("id: x\n  title: [unclosed\n", "malformed YAML"), ("id: x\ntitle: t\n", "missing key 'citation'")],
)
def test_bad_law_file_exits_2(runner, tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    result = runner.invoke(app, ["predict", "--params", "7B", "--tokens", "2T", "--law", str(path)])
    assert result.exit_code == 2 and message in result.stderr and str(path) in result.stderr


def test_cli_import_is_light() -> None:
    """`import precplan.cli` must not import torch or matplotlib (start-up time)."""
    code = "import sys, precplan.cli; print(sorted(m for m in ('torch', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_python_m_precplan() -> None:
    out = subprocess.run([sys.executable, "-m", "precplan", "predict", "--params", "220M", "--tokens", "16B", "--json"],
                         capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["loss"] == pytest.approx(LOSS_220M_16B, abs=5e-5)
