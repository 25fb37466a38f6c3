"""Where optimize stops answering (exit 2 with the limit) and where its answers stop meaning
anything (a warning), with the limits derived independently here."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from precplan import load_law
from precplan.cli import app
from precplan.errors import PrecplanError
from precplan.optimize._planner import optimize, optimize_sweep

from oracles import zoom_min
from reference import KUMAR, tied_factor

A, ALPHA, E = KUMAR["A"], KUMAR["alpha"], KUMAR["E"]  # Kumar et al. 2024, App. K Table 2


@pytest.fixture(scope="module")
def law():
    return load_law("kumar2024")


def meaningless(plan) -> list[str]:
    return [w for w in plan.warnings if "meaningless" in w]


def test_uniform_guessing_threshold_is_ln_32000():
    from precplan.optimize._limits import UNIFORM_LOSS

    assert UNIFORM_LOSS == pytest.approx(10.3735, abs=1e-4)


def test_tiny_budget_plan_warns_that_the_law_is_meaningless(law):
    plan = optimize(law, 1e10)  # 16.8K parameters, predicted loss 82 nats
    assert plan.params < 1e6 and plan.loss > math.log(32000)
    (w,) = meaningless(plan)
    assert "82.08 nats" in w and "below 1M" in w
    assert meaningless(optimize(law, 1e21)) == []
    # on the command line such a budget is refused (README "Bad input"), naming the smallest useful one
    result = CliRunner().invoke(app, ["optimize", "--budget", "1e10"])
    assert result.exit_code == 2 and "too small for any model the law describes" in result.stderr


def test_each_reason_alone_triggers_the_warning(law):
    # N = 500K, D = 1T: loss E + A / N_eff^alpha < ln 32000, but N < 1M.
    small = optimize(law, None, params=5e5, tokens=1e12)
    assert small.params == 5e5 and small.loss < math.log(32000)
    (w,) = meaningless(small)
    assert "below 1M" in w and "nats" not in w
    # N = 100M trained on ~1K tokens: loss far above ln 32000 while N >= 1M.
    starved = optimize(law, 6 / 16 * 8 * 1e8 * 1e3, params=1e8, precision=8)
    assert starved.tokens == pytest.approx(1e3, rel=1e-9) and starved.loss > math.log(32000)
    (w,) = meaningless(starved)
    assert "ln(32000)" in w and "below 1M" not in w


def test_sweep_warning_names_the_flagged_budgets(law):
    plans = optimize_sweep(law, np.logspace(9, 21, 7))
    (w,) = [w for w in plans.warnings if "meaningless" in w]
    flagged = [p.budget for p in plans if p.params < 1e6 or p.loss > math.log(32000)]
    assert w.startswith(f"{len(flagged)} of 7 plans")
    assert f"{max(flagged):.3g}" in w


@pytest.mark.parametrize(
    "kwargs, least",
    [
        (dict(params=1e9), 6 / 16 * 4 * 1e9 * 1),  # D = 1 token at the narrowest feasible 4 bits
        (dict(tokens=1e12), 6 / 16 * 4 * 1 * 1e12),  # N = 1 parameter
    ],
)
def test_budget_with_no_one_token_plan_exits_with_the_smallest_budget(law, kwargs, least):
    with pytest.raises(PrecplanError, match="too small") as err:
        optimize(law, 1e3, **kwargs)
    stated = float(re.search(r"about ([0-9.e+]+) FLOPs", str(err.value)).group(1))
    assert stated == pytest.approx(least, rel=5e-3)
    optimize(law, least * 1.001, **kwargs)  # just above it a plan exists


def test_free_budget_limit_is_where_the_optimal_plan_reaches_one_parameter_and_token(law):
    with pytest.raises(PrecplanError) as err:
        optimize(law, 1.0)
    stated = float(re.search(r"about ([0-9.e+]+) FLOPs", str(err.value)).group(1))
    above = optimize(law, stated * 1.01)
    assert above.params >= 1 and above.tokens >= 1
    with pytest.raises(PrecplanError):
        optimize(law, stated * 0.99)
    result = CliRunner().invoke(app, ["optimize", "--budget", "1"])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "smallest budget" in result.stderr


def test_target_loss_floor_with_ptq_is_the_minimum_over_tokens(law):
    N, post = 1e8, 4.0
    # Brute force: the lowest post-PTQ loss over D at each training precision 4..16.
    best = min(zoom_min(lambda u: law.loss(N, np.exp(u), P, P, P, post=post), np.log(1e6), np.log(1e16))[1] for P in range(4, 17))
    without_ptq = min(E + A * (N * float(tied_factor(P))) ** -ALPHA for P in range(4, 17))
    assert best > without_ptq + 0.1  # the PTQ term matters: the old message said 3.2233
    with pytest.raises(PrecplanError, match="cannot go below") as err:
        optimize(law, None, target_loss=3.0, params=N, inference_precision=post)
    stated = float(re.search(r"cannot go below ([0-9.]+)", str(err.value)).group(1))
    assert stated == pytest.approx(best, abs=6e-5)
    plan = optimize(law, None, target_loss=best + 0.005, params=N, inference_precision=post)  # reachable just above
    assert plan.loss == pytest.approx(best + 0.005, rel=1e-9)


def test_target_loss_floor_without_ptq_is_the_infinite_data_limit(law):
    N = 1e8
    floor = min(E + A * (N * float(tied_factor(P))) ** -ALPHA for P in range(4, 17))
    with pytest.raises(PrecplanError, match="even with unlimited data") as err:
        optimize(law, None, target_loss=3.0, params=N)
    assert float(re.search(r"cannot go below ([0-9.]+)", str(err.value)).group(1)) == pytest.approx(floor, abs=6e-5)


def test_zero_ptq_warning_names_the_operand_and_does_not_blame_the_assumed_constants(law):
    plan = optimize(law, 1e22, untied=True, inference_precision=4)
    assert plan.bits.kv == 4 and plan.decomposition.ptq_degradation == 0
    (w,) = [w for w in plan.warnings if "PTQ degradation is zero" in w]
    assert "KV (4 bits) trains at or below" in w and "product form" in w and "ASSUMED" not in w
    # the claim itself: with an operand at the serving precision the term is 0 whatever the C_x are
    for c in (0.1, 1.0, 10.0):
        other = law.with_coefficients(C_w=c, C_a=c, C_kv=c)
        assert float(other.ptq_degradation(plan.params, plan.tokens, 4, 7, 7, 4)) == 0.0
