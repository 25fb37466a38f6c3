"""optimize's comparison table: which rows it shows and which law predicts each (a float
format by the float variant, kumar2024-fp), checked against brute-force budget-line minima."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from precplan import load_law
from precplan.cli import app
from precplan.optimize._planner import make_planner, optimize
from precplan.optimize._curves import plan_curves

from oracles import budget_line_min
from reference import KUMAR

BUDGET = 1e22


@pytest.fixture(scope="module")
def law():
    return load_law("kumar2024")


@pytest.fixture(scope="module")
def fp_law():
    return load_law("kumar2024-fp")


def rows_of(plan):
    return {r.label: r for r in plan.comparison}


def test_listed_formats_are_the_rows_each_with_its_own_law(law, fp_law):
    plan = optimize(law, BUDGET, precisions=["fp8-e4m3", "bf16"])
    assert [r.label for r in plan.comparison] == ["fp8-e4m3", "bf16", "optimum P*"]  # no 4-bit row
    rows = rows_of(plan)
    assert plan.law == "kumar2024-fp" and {r.law for r in plan.comparison} == {"kumar2024-fp"}
    for label, bits in (("fp8-e4m3", 8), ("bf16", 16)):
        assert rows[label].loss == pytest.approx(budget_line_min(fp_law, BUDGET, bits)[1], rel=1e-6)
    # the row at the chosen format is the plan itself: same law, same loss
    assert rows["fp8-e4m3"].loss == pytest.approx(plan.loss, rel=1e-12)
    assert rows["fp8-e4m3"].loss_gap == pytest.approx(0.0, abs=1e-12)
    # and differs from the integer law's 8-bit loss (what the table used to show)
    assert abs(budget_line_min(law, BUDGET, 8)[1] - plan.loss) > 5e-5


def test_mixed_integer_and_float_formats(law, fp_law):
    plan = optimize(law, BUDGET, precisions=["fp8-e4m3", "int8", "bf16"])
    rows = rows_of(plan)
    assert [r.label for r in plan.comparison] == ["fp8-e4m3", "int8", "bf16", "optimum P*"]
    assert (rows["int8"].law, rows["fp8-e4m3"].law, rows["bf16"].law) == ("kumar2024", "kumar2024-fp", "kumar2024-fp")
    assert rows["int8"].loss == pytest.approx(budget_line_min(law, BUDGET, 8)[1], rel=1e-6)
    assert rows["fp8-e4m3"].loss == pytest.approx(budget_line_min(fp_law, BUDGET, 8)[1], rel=1e-6)
    assert plan.loss == pytest.approx(min(rows[k].loss for k in ("fp8-e4m3", "int8", "bf16")), rel=1e-12)


def test_fixed_float_format_compares_4_8_16_with_the_float_law(law, fp_law):
    plan = optimize(law, BUDGET, precision="fp8-e5m2")
    rows = rows_of(plan)
    assert [r.label for r in plan.comparison] == ["4-bit", "8-bit", "16-bit", "given precision"]  # fixed: no optimum
    assert {r.law for r in plan.comparison} == {"kumar2024-fp"}
    assert rows["8-bit"].loss == pytest.approx(plan.loss, rel=1e-12)  # was 2.84850 (integer law) vs 2.84844
    for label, bits in (("4-bit", 4), ("16-bit", 16)):
        assert rows[label].loss == pytest.approx(budget_line_min(fp_law, BUDGET, bits)[1], rel=1e-6)


def test_default_comparison_uses_the_plan_law(law):
    plan = optimize(law, BUDGET)
    assert [r.label for r in plan.comparison] == ["4-bit", "8-bit", "16-bit", "optimum P*"]
    assert {r.law for r in plan.comparison} == {"kumar2024"}
    numbers = optimize(law, BUDGET, precisions=[4, 6, 8])  # a list of bit counts: those are the rows
    assert [r.label for r in numbers.comparison] == ["4-bit", "6-bit", "8-bit", "optimum P*"]


def test_compare_option_overrides_the_rows(law, fp_law):
    plan = optimize(law, BUDGET, precisions=["fp8-e4m3", "bf16"], compare=["int8", 4])
    rows = rows_of(plan)
    assert [r.label for r in plan.comparison] == ["4-bit", "int8", "optimum P*"]
    assert rows["4-bit"].law == "kumar2024-fp"  # a plain bit count: the plan's law family
    assert rows["4-bit"].loss == pytest.approx(budget_line_min(fp_law, BUDGET, 4)[1], rel=1e-6)
    assert rows["int8"].law == "kumar2024"
    assert rows["int8"].loss == pytest.approx(budget_line_min(law, BUDGET, 8)[1], rel=1e-6)


def test_cli_table_and_sweep_show_the_formats():
    out = CliRunner().invoke(app, ["optimize", "--budget", "1e22", "--precisions", "fp8-e4m3,bf16"])
    assert out.exit_code == 0, out.output
    assert "optimum P* (fp8-e4m3)" in out.stdout and "bf16" in out.stdout
    labels = [line.split("│")[1].strip() for line in out.stdout.splitlines() if line.startswith("│")]
    assert not {"4-bit", "8-bit", "16-bit"} & set(labels)  # only the listed formats are compared
    sweep = CliRunner().invoke(app, ["optimize", "--budget", "1e19:1e23:3", "--precisions", "fp8-e4m3,bf16"])
    assert sweep.exit_code == 0, sweep.output
    assert "bf16 loss gap" in sweep.stdout and "8-bit (fp8-e4m3)" in sweep.stdout


def test_plot_series_are_the_rows_with_their_law(law):
    planner = make_planner(law, precisions=["fp8-e4m3", "bf16"])
    plans = planner.plans(np.array([BUDGET]))
    curves = plan_curves(planner, plans)
    assert {"fp8-e4m3", "bf16", "optimum"} <= set(curves.series)
    E = KUMAR["E"]  # the float law shares Table 2's base terms
    i = int(np.argmin(np.abs(np.log(curves.x / BUDGET))))
    assert curves.x[i] == pytest.approx(BUDGET, rel=1e-9)
    assert curves.series["fp8-e4m3"][i] + E == pytest.approx(plans[0].loss, rel=1e-9)
