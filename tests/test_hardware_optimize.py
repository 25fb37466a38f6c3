"""``optimize`` on real hardware: GPUs and days in, native formats, GPU-hours and dollars out;
serving charged at its widest operand; serving memory with the KV cache; across GPUs."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from precplan.cli import app

H100_BF16, H100_FP8, H100_BW = 989.4e12, 1978.9e12, 3.35e12  # NVIDIA H100 whitepaper dense peaks; datasheet 3,350 GB/s
H100_BYTES = 81_559 * 2**20  # driver-reported total (Modal's table)
FP8_GAIN = 1.34  # Fishman et al. 2024 (arXiv:2409.12517), abstract: FP8 "up to a ~34% throughput improvement" over BF16
CLUSTER = ["--gpu", "h100", "--gpus", "512", "--days", "30", "--mfu", "0.4"]


def run(*args: str):
    return CliRunner().invoke(app, ["optimize", *args])


def as_json(*args: str):
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_h100_cluster_trains_in_fp8_within_its_gpu_hours():
    plan = as_json(*CLUSTER)
    assert 512 * 30 * 24 == 368_640
    assert plan["train_format"] == "fp8-e4m3" and plan["bits"]["weights"] == 8 and not plan["emulated"]
    assert plan["cost_model"] == "hardware" and plan["gpu"] == "h100" and plan["gpus"] == 512
    assert plan["gpu_hours"] <= 368_640 and plan["gpu_hours"] == pytest.approx(368_640, rel=1e-9)
    assert plan["wall_days"] <= 30 and plan["wall_days"] == pytest.approx(30, rel=1e-9)
    assert plan["dollars"] is None
    # the raw FLOPs the cluster delivers in fp8 at 40% (bf16) MFU: 6 N D = hours x 3600 x peak_bf16 x MFU x
    # the measured end-to-end fp8 gain, not the dense-peak ratio of 2
    raw = 368_640 * 3600 * H100_BF16 * 0.4 * FP8_GAIN
    assert 6 * plan["params"] * plan["tokens"] == pytest.approx(raw, rel=1e-9)
    assert raw < 0.7 * 368_640 * 3600 * H100_FP8 * 0.4
    # and that split is the idealized fp8 optimum at the same raw FLOPs ((6/16) N D 8 = 3 N D)
    ideal = as_json("--budget", repr(raw / 2), "--precision", "fp8-e4m3")
    assert plan["params"] == pytest.approx(ideal["params"], rel=1e-6)
    out = run(*CLUSTER).stdout
    assert "wall-clock days" in out and "368,640" in out


def test_b200_lists_fp4_and_fp6_and_picks_a_native_format():
    plan = as_json("--gpu", "b200", "--gpus", "512", "--days", "30", "--mfu", "0.4")
    labels = [row["label"] for row in plan["comparison"]]
    assert "fp4-e2m1" in labels and "fp6-e3m2" in labels
    assert plan["train_format"] in ("fp4-e2m1", "fp6-e3m2", "fp8-e4m3", "bf16") and not plan["emulated"]
    assert plan["gpu_hours"] <= 368_640


def test_a_width_without_a_native_format_runs_emulated():
    plan = as_json("--gpu", "h100", "--gpu-hours", "1e5", "--precision", "7")
    assert plan["emulated"] and plan["train_format"] == "fp8-e4m3"
    assert 6 * plan["params"] * plan["tokens"] / (3600 * H100_BF16 * FP8_GAIN * 0.5) == pytest.approx(1e5, rel=1e-9)  # 7 bits cost what fp8 costs
    assert any("emulated in fp8-e4m3" in n for n in plan["notes"])
    searched = as_json("--gpu", "h100", "--gpu-hours", "1e5", "--precisions", "3:16")
    assert searched["bits"]["weights"] == 8  # 7 costs the same as 8 here, and 8 bits predict a lower loss


def test_dollar_and_gpu_hour_budgets_are_never_exceeded():
    for args in (["--gpu-hours", "368640"], ["--dollars", "2e6", "--price", "2.5"], ["--gpu-hours", "5e4", "--inference-tokens", "1T"]):
        for gpu in ("h100", "b200", "a100", "mi300x"):
            plan = as_json("--gpu", gpu, *args)
            hours = 2e6 / 2.5 if "--dollars" in args else float(args[1])
            assert plan["gpu_hours"] <= hours and plan["gpu_hours"] == pytest.approx(hours, rel=1e-6)
            if "--dollars" in args:
                assert plan["dollars"] <= 2e6 and plan["dollars"] == pytest.approx(2.5 * plan["gpu_hours"], rel=1e-12)


def test_csv_carries_the_hardware_columns():
    import csv
    import io

    out = run("--gpu", "h100", "--gpus", "512", "--days", "30", "--mfu", "0.4", "--csv", "-")
    (row,) = list(csv.DictReader(io.StringIO(out.stdout)))
    assert row["cost_model"] == "hardware" and row["train_format"] == "fp8-e4m3" and row["gpus"] == "512"
    assert float(row["gpu_hours"]) <= 368_640 and float(row["wall_days"]) <= 30


def test_python_api_takes_a_gpu_hour_budget():
    import precplan

    p = precplan.plan(gpu="h100", gpu_hours=368_640)
    assert p.cost_model == "hardware" and p.train_format == "fp8-e4m3" and p.gpu_hours <= 368_640


def test_idealized_is_the_default_and_says_so():
    plan = as_json("--budget", "1e21")
    assert plan["cost_model"] == "idealized" and plan["gpu"] is None and plan["gpu_hours"] is None
    assert any(n.startswith("cost model: idealized") for n in plan["notes"])


def test_inference_flops_charge_the_widest_served_operand():
    T = 1e13
    plan = as_json("--budget", "1e23", "--inference-precision", "4", "--inference-tokens", "1e13")
    b = plan["bits"]
    widest = max(4.0, b["activations"], b["kv"])  # PTQ leaves activations and KV at their training bits
    assert plan["inference_flops"] == pytest.approx(2 * plan["params"] * T * widest / 16, rel=1e-12)
    assert widest > 4  # the old charge (4 bits) was too low
    both = as_json("--budget", "1e23", "--inference-precision", "4", "--inference-tokens", "1e13", "--serve-activations", "4", "--serve-kv", "4")
    assert both["serve_bits"] == 4.0
    assert both["inference_flops"] == pytest.approx(2 * both["params"] * T * 4 / 16, rel=1e-12)


def test_decode_is_priced_by_memory_traffic():
    args = ["--gpu", "h100", "--budget", "1e22", "--precision", "16", "--inference-tokens", "1T", "--batch", "8", "--context", "1000"]
    plan = as_json(*args)
    N = plan["params"]
    layers = (N / (12 * 128**2)) ** (1 / 3)  # N = 12 L d^2 (Kaplan eq. 2.1), d = 128 L (GPT-3)
    kv = 2 * layers * 128 * layers / 4 * 2 * 1000  # bytes of K and V per sequence at 16 bits, 4 query heads per KV head (GQA default, Llama 3 8B 32/8)
    compute = 2 * N / (H100_BF16 * 0.5)
    decode = max(compute, (N * 2 / 8 + kv) / H100_BW)
    hours = 1e12 * (70 / 285 * compute + 215 / 285 * decode) / 3600
    assert plan["gpu_cost"]["inference_gpu_hours"] == pytest.approx(hours, rel=1e-9)
    assert plan["kv_cache_bytes"] == pytest.approx(8 * kv, rel=1e-9)
    assert plan["serve_format"] == "bf16"


def test_serve_memory_tells_gb_from_gib_and_takes_a_card():
    gb = as_json("--tokens", "100B", "--serve-memory", "80GB", "--precision", "8")
    gib = as_json("--tokens", "100B", "--serve-memory", "80GiB", "--precision", "8")
    assert gb["params"] == pytest.approx(80e9, rel=1e-9) and gib["params"] == pytest.approx(80 * 2**30, rel=1e-9)
    card = as_json("--tokens", "100B", "--serve-memory", "h100", "--precision", "8")
    assert card["params"] == pytest.approx(H100_BYTES, rel=1e-9)
    two = as_json("--tokens", "100B", "--serve-memory", "2xh100", "--precision", "8")
    assert two["params"] == pytest.approx(2 * H100_BYTES, rel=1e-9)
    assert any("2xh100 = 2 x NVIDIA H100" in n for n in two["notes"])


def test_serve_memory_counts_the_kv_cache_at_context_and_batch():
    plan = as_json("--tokens", "100B", "--serve-memory", "h100", "--precision", "8", "--context", "8192", "--batch", "16", "--gqa", "8")
    N = plan["params"]
    layers = (N / (12 * 128**2)) ** (1 / 3)
    kv = 16 * 8192 * 2 * layers * (128 * layers / 8) * 1  # 8-bit K and V, 8 query heads per KV head
    assert N + kv == pytest.approx(H100_BYTES, rel=1e-9)  # weights (1 byte each) + KV cache fill the card
    assert plan["kv_cache_bytes"] == pytest.approx(kv, rel=1e-9)
    assert any("ASSUMED" in n and "Kaplan" in n for n in plan["notes"])


def test_cheapest_gpu_is_picked_with_the_others_shown():
    plan = as_json("--target-loss", "2.9", "--inference-tokens", "2T", "--gpu", "h100,b200", "--price", "2.5,5.0")
    opts = {o["gpu"]: o for o in plan["hardware_options"]}
    assert set(opts) == {"h100", "b200"}
    cheapest = min(opts.values(), key=lambda o: o["dollars"])
    assert cheapest["chosen"] and plan["gpu"] == cheapest["gpu"]
    assert plan["dollars"] == pytest.approx(cheapest["dollars"], rel=1e-12)
    for gpu, price in (("h100", 2.5), ("b200", 5.0)):  # each row is that GPU's own best plan
        alone = as_json("--target-loss", "2.9", "--inference-tokens", "2T", "--gpu", gpu, "--price", str(price))
        assert opts[gpu]["dollars"] == pytest.approx(alone["dollars"], rel=1e-12)
    out = run("--target-loss", "2.9", "--inference-tokens", "2T", "--gpu", "h100,b200", "--price", "2.5,5.0").stdout
    assert "The best plan on each GPU" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--gpu", "h900", "--gpu-hours", "1e5"], "unknown GPU 'h900'"),
        (["--gpu", "a100", "--gpu-hours", "1e5", "--precisions", "fp8"], "a100 has no native fp8"),
        (["--gpu", "h100", "--gpus", "0", "--days", "30"], "--gpus must be a whole number"),
        (["--gpu", "h100", "--gpus", "-4", "--days", "30"], "--gpus must be a whole number"),
        (["--gpu", "h100", "--gpus", "8", "--days", "0"], "--days must be a positive number"),
        (["--gpu", "h100", "--gpus", "8", "--days", "-1"], "--days must be a positive number"),
        (["--gpu", "h100", "--gpus", "8", "--days", "1", "--mfu", "0"], "--mfu must be in (0, 1]"),
        (["--gpu", "h100", "--gpus", "8", "--days", "1", "--mfu", "1.2"], "--mfu must be in (0, 1]"),
        (["--gpu", "h100,b200", "--price", "2.5", "--target-loss", "2.9"], "1 price(s) for 2 GPU(s)"),
        (["--gpu", "h100,b200", "--target-loss", "2.9"], "needs their prices"),
        (["--gpu", "h100", "--dollars", "1e6"], "--dollars needs --price"),
        (["--gpu", "h100", "--days", "3"], "--days needs --gpus"),
        (["--gpus", "8", "--days", "3"], "needs --gpu"),
        (["--gpu", "h100", "--gpus", "8", "--days", "1", "--gpu-hours", "10"], "give one budget"),
        (["--budget", "1e21", "--serve-memory", "3xfoo"], "or a card name"),
        (["--gpu", "2xh100", "--gpu-hours", "10"], "name one kind of card"),
        (["--gpu", "h100", "--gpu-hours", "10", "--price", "-2"], "--price must be a positive number"),
    ],
)
def test_bad_hardware_input_exits_2_with_one_line(args, message):
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output


def test_plot_curves_cost_per_native_format_with_the_plan_on_its_curve(tmp_path):
    import numpy as np

    from precplan import load_law
    from precplan.costs import GpuSpec
    from precplan.optimize import make_planner, plan_curves

    spec = GpuSpec("b200", mfu=0.4, gpus=512)
    planner = make_planner(load_law("kumar2024"), gpu=spec, budget_inference=False)
    (plan,) = planner.plans(spec.budget_units(368_640))
    c = plan_curves(planner, [plan])
    assert c.kind == "hardware" and list(c.series) == ["fp4-e2m1", "fp6-e3m2", "fp8-e4m3", "bf16"]
    on_curve = np.interp(np.log(c.optimum_y[0]), np.log(c.x), c.series[plan.train_format])
    assert on_curve == pytest.approx(plan.loss, abs=1e-4)
    for label, loss in c.series.items():  # no format beats the chosen one at the plan's GPU-hours
        assert np.interp(np.log(c.optimum_y[0]), np.log(c.x), loss) >= plan.loss - 1e-4
    result = run("--gpu", "h100", "--gpus", "64", "--days", "7", "--plot", str(tmp_path / "hw.png"))
    assert result.exit_code == 0 and (tmp_path / "hw.png").stat().st_size > 0
