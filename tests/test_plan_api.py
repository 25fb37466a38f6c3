"""The library does all ``precplan optimize`` does (issue 19): intervals, the meaningful-budget
check, hardware budgets, GPU lists and law lists are library calls with the CLI's result, and
library errors name arguments, which the command line shows as flags."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import precplan
from precplan.cli import app
from precplan.errors import PrecplanError

H100_BF16 = 989.4e12  # NVIDIA H100 SXM whitepaper, dense BF16 peak (FLOP/s)


def cli_json(*args: str) -> dict | list:
    r = CliRunner().invoke(app, ["optimize", *args, "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def cli_error(*args: str) -> str:
    r = CliRunner().invoke(app, ["optimize", *args])
    assert r.exit_code == 2, r.output
    (line,) = r.stderr.splitlines()
    return line


# ------------------------------------------------------------------ intervals
def test_plan_carries_the_interval_the_cli_shows():
    p = precplan.plan(budget=1e22, law="besiroglu2024")
    u = p.uncertainty
    assert u is not None and u["level"] == 0.8 and u["samples"] == 1000
    for key, point in (("params", p.params), ("tokens", p.tokens), ("loss", p.loss)):
        lo, hi = u[key]
        assert lo < point < hi, key  # the central 80% of the sampled optima brackets the point plan
    assert cli_json("--budget", "1e22", "--law", "besiroglu2024")["uncertainty"] == pytest.approx(u)


def test_interval_level_and_laws_without_samples():
    narrow = precplan.plan(budget=1e22, law="besiroglu2024", level=0.5).uncertainty
    wide = precplan.plan(budget=1e22, law="besiroglu2024").uncertainty
    assert wide["params"][0] < narrow["params"][0] < narrow["params"][1] < wide["params"][1]
    assert precplan.plan(budget=1e22, law="besiroglu2024", level=None).uncertainty is None
    assert precplan.plan(budget=1e22).uncertainty is None  # kumar2024 has no coefficient samples
    sweep = precplan.plan_sweep([1e21, 1e23], law="besiroglu2024")
    assert sweep[1].uncertainty == pytest.approx(precplan.plan(1e23, law="besiroglu2024").uncertainty)


# ------------------------------------------------------------------ the meaningful-budget check
def test_plan_refuses_a_budget_too_small_for_any_model():
    with pytest.raises(PrecplanError, match="`budget` 10 is too small for any model"):
        precplan.plan(budget=10)
    with pytest.raises(PrecplanError, match="start the sweep there"):
        precplan.plan_sweep([1e9, 1e21])
    # the engine below the front door still answers, with the warning
    from precplan.optimize import optimize

    assert any("meaningless" in w for w in optimize(precplan.load_law("kumar2024"), 10).warnings)


# ------------------------------------------------------------------ hardware budgets
def test_cluster_budget_is_gpus_times_days_kept_as_given():
    p = precplan.plan(gpu="h100", gpus=512, days=30, mfu=0.4)
    assert p.budget_gpu_hours == 512 * 24 * 30  # exactly as given: no trip through FLOPs and back
    assert p.wall_days == pytest.approx(30, rel=1e-9) and p.wall_days <= 30
    # the budget in 16-bit-equivalent FLOPs: GPU-seconds x bf16 dense peak x MFU
    assert p.budget == pytest.approx(512 * 30 * 86400 * H100_BF16 * 0.4, rel=1e-9)
    same = cli_json("--gpu", "h100", "--gpus", "512", "--days", "30", "--mfu", "0.4")
    assert (same["params"], same["tokens"], same["gpu_hours"]) == pytest.approx((p.params, p.tokens, p.gpu_hours))
    assert precplan.plan(gpu="h100", gpus=512, hours=720, mfu=0.4).params == pytest.approx(p.params, rel=1e-12)


def test_dollar_budget_is_gpu_hours_at_the_price():
    p = precplan.plan(gpu="h100", dollars=1e6, price=2.5)
    assert p.budget_gpu_hours == pytest.approx(1e6 / 2.5, rel=1e-12)
    assert p.dollars == pytest.approx(1e6, rel=1e-9) and p.dollars <= 1e6
    assert precplan.plan(gpu="h100", gpu_hours=4e5).params == pytest.approx(p.params, rel=1e-9)


# ------------------------------------------------------------------ several GPUs
@pytest.mark.parametrize("gpus", [["h100", "b200"], "h100,b200"])
def test_gpu_list_gives_the_best_plan_and_each_gpus_own(gpus):
    p = precplan.plan(gpu=gpus, gpu_hours=1e5)
    each = {g: precplan.plan(gpu=g, gpu_hours=1e5) for g in ("h100", "b200")}
    assert [o.gpu for o in p.hardware_options] == ["h100", "b200"]
    for o in p.hardware_options:
        assert o.loss == pytest.approx(each[o.gpu].loss, rel=1e-12)
    best = min(each, key=lambda g: each[g].loss)
    assert p.gpu == best and [o.gpu for o in p.hardware_options if o.chosen] == [best]
    assert p.loss == pytest.approx(each[best].loss, rel=1e-12)


def test_gpu_list_at_a_target_loss_picks_the_cheapest():
    p = precplan.plan(gpu=["h100", "b200"], price=[2.5, 5.0], target_loss=2.9)
    costs = {o.gpu: o.dollars for o in p.hardware_options}
    assert p.gpu == min(costs, key=costs.get)
    with pytest.raises(PrecplanError, match="`price`"):
        precplan.plan(gpu=["h100", "b200"], target_loss=2.9)


# ------------------------------------------------------------------ law lists
def test_compare_laws_is_one_plan_per_law():
    out = precplan.compare_laws(["kumar2024", "besiroglu2024"], 1e22)
    assert [p.law for p in out] == ["kumar2024", "besiroglu2024"]
    for p in out:
        assert p.params == pytest.approx(precplan.plan(1e22, law=p.law).params, rel=1e-12)
    assert out[1].uncertainty is not None
    mixed = precplan.compare_laws(["kumar2024", "hoffmann2022"], 1e22, precision=4)
    assert mixed[1].law == "hoffmann2022" and not mixed[1].applicable and "no precision terms" in mixed[1].reason
    with pytest.raises(PrecplanError, match="compare_laws"):
        precplan.plan(1e22, law=["kumar2024", "besiroglu2024"])


# ------------------------------------------------------------------ errors name arguments
@pytest.mark.parametrize(
    "kwargs, names, flags",
    [
        (dict(budget=1e21, target_loss=2.5), ["`budget`", "`target_loss`"], ["--budget", "--target-loss"]),
        (dict(gpu_hours=1e5), ["`gpu_hours`", "`gpu`"], ["--gpu-hours", "--gpu"]),
        (dict(gpu="h100", days=3), ["`days`", "`gpus`"], ["--days", "--gpus"]),
        (dict(budget=1e21, gpu="h100", mfu=2), ["`mfu`"], ["--mfu"]),
        (dict(budget=1e21, precision=8, untied=True), ["`precision`", "`untied`"], ["--precision", "--untied"]),
        (dict(budget=1e21, params="7B", tokens="1T"), ["`params`", "`tokens`"], ["--params", "--tokens"]),
    ],
)
def test_library_errors_name_arguments_and_the_cli_names_flags(kwargs, names, flags):
    with pytest.raises(PrecplanError) as err:
        precplan.plan(**kwargs)
    message = str(err.value)
    assert all(n in message for n in names) and "--" not in message
    argv = [x for k, v in kwargs.items() for x in (f"--{k.replace('_', '-')}", str(v)) if k != "untied"]
    argv += ["--untied"] if kwargs.get("untied") else []
    line = cli_error(*argv)
    assert all(f in line for f in flags) and "`" not in line


def test_flag_table_maps_argument_names():
    from precplan.cli._flags import cli_message

    assert cli_message("`budgets` and `target_loss` and `gpu_hours`") == "--budget and --target-loss and --gpu-hours"
    assert cli_message("no `Argument` here, only `budget`") == "no `Argument` here, only --budget"


# ------------------------------------------------------------------ result objects
def test_results_have_short_reprs():
    p = precplan.plan(budget=1e22)
    text = repr(p)
    assert text.startswith("<Plan by kumar2024 for budget 1e+22") and "\n" not in text and len(text) < 160
    assert f"{p.bits.weights:g}-bit" in text
    s = precplan.plan_sweep(np.logspace(21, 23, 5))
    assert repr(s) == "<Sweep of 5 plans by kumar2024 (budget, budgets 1e+21..1e+23)>"
    risk = precplan.ptq_risk("kumar2024", 8e9, 15e12, post=4)
    assert repr(risk) == f"<PtqRisk by kumar2024: N=8e+09, D=1.5e+13, 4-bit serving +{risk.degradation:.4f} loss ({risk.status})>"
    runs = precplan.load_runs([{"params": 1e8, "tokens": 1e9, "loss": 3.0}, {"params": 2e8, "tokens": 1e9, "loss": 2.9}])
    assert repr(runs) == "<Runs: 2 rows from <records>>"


def test_composition_warning_comes_with_the_plan():
    p = precplan.plan(budget=1e22, law="kumar2024", base="besiroglu2024")
    assert "composition is an assumption" in p.warnings[0]
    s = precplan.plan_sweep([1e21, 1e22], law="kumar2024", base="besiroglu2024")
    assert "composition is an assumption" in s.warnings[0]
