"""optimize (Python API): optimal N, D and precision against independent derivations and
dense brute-force searches (tests/oracles.py), for kumar2024 (Kumar et al. 2024, compute-optimal precision)."""

from __future__ import annotations

import numpy as np
import pytest

from precplan import load_law
from precplan.errors import PrecplanError
from precplan.optimize._planner import optimize, optimize_sweep

from oracles import budget_line_min, zoom_min
from reference import HOFFMANN, KUMAR, MEMORY_MATCHED_RUNS, P_STAR, hoffmann_split, tied_factor

# Kumar et al. 2024, App. K Table 2 (tests/reference.py), independent of the law file.
A, B, ALPHA, BETA, E = (KUMAR[k] for k in ("A", "B", "alpha", "beta", "E"))


@pytest.fixture(scope="module")
def law():
    return load_law("kumar2024")


def test_continuous_optimum_is_7_bits_and_independent_of_budget(law):
    # Independent: P* maximizes f(P)/P (Kumar et al. 2024), found here on a dense grid.
    P = np.linspace(3.5, 16, 2_000_001)
    expected = P[np.argmax(tied_factor(P) / P)]
    assert expected == pytest.approx(P_STAR, abs=0.005)
    plans = optimize_sweep(law, np.logspace(19, 25, 7), continuous=True)
    for p in plans:
        assert p.bits.weights == p.bits.activations == p.bits.kv
        assert p.bits.weights == pytest.approx(expected, abs=2e-4)
        assert round(p.bits.weights, 2) == P_STAR


def test_integer_optimum_is_7_bits_from_1e19_to_1e25(law):
    plans = optimize_sweep(law, np.logspace(19, 25, 13))
    assert [p.bits.weights for p in plans] == [7.0] * 13
    assert {p.bits.activations for p in plans} == {7.0} and {p.bits.kv for p in plans} == {7.0}


@pytest.mark.parametrize("budget", [1e19, 1e21, 3e23])
def test_budget_plan_matches_brute_force(law, budget):
    plan = optimize(law, budget)
    best = min(budget_line_min(law, budget, P)[1] for P in range(4, 17))
    assert plan.loss == pytest.approx(best, rel=1e-6)
    assert plan.loss <= best * (1 + 1e-12)
    # Cost model C = (6/16) N D P holds to 1e-9.
    assert 6 / 16 * plan.params * plan.tokens * plan.cost_bits == pytest.approx(budget, rel=1e-9)
    assert plan.train_flops == pytest.approx(budget, rel=1e-9)


def test_fixed_precision_is_hoffmann_closed_form_with_effective_factor(law):
    C = 1e22
    for P in (4.0, 8.0, 16.0):
        plan = optimize(law, C, precision=P)
        a_eff = A * tied_factor(P) ** -ALPHA
        K = 16 * C / (6 * P)  # N D at this precision
        G = (ALPHA * a_eff / (BETA * B)) ** (1 / (ALPHA + BETA))
        assert plan.params == pytest.approx(G * K ** (BETA / (ALPHA + BETA)), rel=1e-9)
        # N* D* P stays constant (the check that exposes printed eq. 6's sign error).
        assert plan.params * plan.tokens * P == pytest.approx(16 * C / 6, rel=1e-12)
        expected = E + a_eff * plan.params**-ALPHA + B * plan.tokens**-BETA
        assert plan.loss == pytest.approx(expected, rel=1e-9)


def test_comparison_rows_each_use_their_own_optimum(law):
    plan = optimize(law, 1e21)
    rows = {r.label: r for r in plan.comparison}
    assert set(rows) == {"4-bit", "8-bit", "16-bit", "optimum P*"}
    for label, P in (("4-bit", 4), ("8-bit", 8), ("16-bit", 16)):
        assert rows[label].loss == pytest.approx(budget_line_min(law, 1e21, P)[1], rel=1e-6)
        assert rows[label].loss_gap == pytest.approx(rows[label].loss - plan.loss, abs=1e-12)
        assert rows[label].loss_gap > 0
    assert rows["optimum P*"].loss_gap == 0


def test_with_params_fixed_optimal_precision_grows_with_budget(law):
    N = 1e9
    budgets = np.logspace(19, 22, 4)
    plans = optimize_sweep(law, budgets, params=N, continuous=True, bits_range=(3, 32))
    pstar = np.array([p.bits.weights for p in plans])
    assert np.all(np.diff(pstar) > 0.5)
    for C, p in zip(budgets, plans):
        # Brute force over P with D = 16 C / (6 N P).
        P_best, loss_best = zoom_min(lambda P: law.loss(N, 16 * C / (6 * N * P), P, P, P), 3.2, 32)
        assert p.loss == pytest.approx(loss_best, rel=1e-6)
        assert p.bits.weights == pytest.approx(P_best, abs=1e-3)
        assert p.params == N and 6 / 16 * N * p.tokens * p.cost_bits == pytest.approx(C, rel=1e-9)


def test_memory_matched_6_to_8_bits_beat_4_16_and_32(law):
    plan = optimize(law, None, memory=880e6, tokens=16e9)
    rows = {r.label: r for r in plan.comparison}
    # The paper's memory-matched runs: FP4 1.76B, FP6 1.17B, FP8 880M, BF16 440M, FP32 220M.
    for label, N in ((f"{bits}-bit", n) for bits, n in MEMORY_MATCHED_RUNS.items()):
        assert rows[label].params == pytest.approx(N, rel=1e-3)
        assert rows[label].tokens == 16e9
        assert rows[label].loss == pytest.approx(float(law.loss(8 * 880e6 / int(label.split("-")[0]), 16e9, *(3 * [int(label.split("-")[0])]))), rel=1e-12)
    worst_middle = max(rows[k].loss for k in ("6-bit", "8-bit"))
    assert worst_middle < min(rows[k].loss for k in ("4-bit", "16-bit", "32-bit"))
    assert 6 <= plan.bits.weights <= 8
    assert plan.weights_memory_bytes == pytest.approx(880e6, rel=1e-9)


def test_memory_limit_with_budget_holds_and_is_optimal(law):
    budget, memory = 1e22, 4e9
    plan = optimize(law, budget, memory=memory)
    assert plan.weights_memory_bytes <= memory * (1 + 1e-9)
    best = min(budget_line_min(law, budget, P, cap=8 * memory / P)[1] for P in range(4, 17))
    assert plan.loss == pytest.approx(best, rel=1e-6)
    assert plan.train_flops == pytest.approx(budget, rel=1e-9)


def test_serve_memory_counts_the_inference_precision(law):
    plan = optimize(law, 1e22, serve_memory=2e9, inference_precision=4)
    assert plan.params * 4 / 8 <= 2e9 * (1 + 1e-9)
    assert plan.serve_memory_bytes == pytest.approx(plan.params * 0.5)


def test_inference_precision_adds_ptq_and_moves_the_optimum(law):
    budget = 1e22
    plan = optimize(law, budget, inference_precision=4)
    best = min(budget_line_min(law, budget, P, post=4.0)[1] for P in range(4, 17))
    assert plan.loss == pytest.approx(best, rel=1e-6)
    assert plan.decomposition.ptq_degradation > 0
    shift = plan.without_ptq
    assert shift.bits.weights == 7.0
    assert plan.tokens_per_param < shift.tokens_per_param  # less overtraining
    assert plan.loss < shift.loss_after_ptq  # planning for PTQ pays off
    assert set(plan.assumed) == {"C_w", "C_a", "C_kv"}
    assert optimize(law, budget).assumed == []


def test_lifetime_budget_counts_inference_and_matches_brute_force(law):
    budget, T = 1e22, 5e11
    plan = optimize(law, budget, inference_tokens=T, precisions=[6, 7, 8])
    best = min(budget_line_min(law, budget, P, inference_tokens=T)[1] for P in (6, 7, 8))
    assert plan.loss == pytest.approx(best, rel=1e-6)
    P = plan.cost_bits
    assert plan.inference_flops == pytest.approx(2 / 16 * plan.params * T * P, rel=1e-12)
    assert plan.total_flops == pytest.approx(budget, rel=1e-9)


def test_untied_with_only_a_budget_stays_tied(law):
    plan = optimize(law, 1e21, untied=True)
    assert (plan.bits.weights, plan.bits.activations, plan.bits.kv) == (7.0, 7.0, 7.0)
    cont = optimize(law, 1e21, untied=True, continuous=True)
    for b in (cont.bits.weights, cont.bits.activations, cont.bits.kv):
        assert b == pytest.approx(7.0021, abs=1e-3)


def test_untied_memory_plan_matches_brute_force(law):
    # Memory binds the weights only: activations and KV go to the top of the range, the weights
    # trade bits against parameters. Brute force over the weight bits (continuous).
    memory, D = 880e6, 16e9
    plan = optimize(law, None, memory=memory, tokens=D, untied=True, continuous=True)
    assert plan.bits.activations == pytest.approx(16) and plan.bits.kv == pytest.approx(16)
    w, loss = zoom_min(lambda w: law.loss(8 * memory / w, D, w, 16.0, 16.0), 3, 16)
    assert plan.loss == pytest.approx(loss, rel=1e-6)
    assert plan.bits.weights == pytest.approx(w, abs=1e-3)
    assert plan.weights_memory_bytes == pytest.approx(memory, rel=1e-9)


def test_infeasible_precisions_are_skipped_with_a_note(law):
    plan = optimize(law, 1e21, precisions=[3, 4, 8])
    assert plan.bits.weights == 8.0
    assert any("skipped 3" in n for n in plan.notes)
    untied = optimize(law, 1e21, untied=True, bits_range=(3, 8))
    assert untied.bits.activations > 3
    assert any("activations at 3 bits skipped" in n for n in untied.notes)


def test_float_formats_are_predicted_by_the_float_law(law):
    plan = optimize(law, 1e21, precisions=["fp8-e4m3", "int8", "bf16"])
    fp = optimize(load_law("kumar2024-fp"), 1e21, precision=8)
    integer = optimize(law, 1e21, precision=8)
    assert plan.loss == pytest.approx(min(fp.loss, integer.loss), rel=1e-12)
    assert any("kumar2024-fp" in n for n in plan.notes)


def test_chinchilla_law_plans_16_bits_only():
    law = load_law("hoffmann2022")
    plan = optimize(law, 1e23)
    assert (plan.bits.weights, plan.bits.activations, plan.bits.kv) == (16.0, 16.0, 16.0)
    N_opt, D_opt = hoffmann_split(law.values, 1e23)  # Hoffmann eq. 4 with the file's constants
    assert plan.params == pytest.approx(N_opt, rel=1e-9)
    assert plan.tokens == pytest.approx(D_opt, rel=1e-9)
    assert plan.params == pytest.approx(hoffmann_split(HOFFMANN, 1e23)[0], rel=1e-5)  # and with the paper's
    assert any("no precision terms" in n for n in plan.notes)
    assert [r.label for r in plan.comparison] == ["16-bit", "optimum P*"]
    with pytest.raises(PrecplanError, match="`base` hoffmann2022"):
        optimize(law, 1e23, precision=8)
    composed = optimize(load_law("kumar2024", "hoffmann2022"), 1e23)
    assert composed.bits.weights == 7.0  # P* does not depend on the base law's constants


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(budget=1e21, target_loss=3.0), "not both"),
        (dict(budget=None, target_loss=2.7), "irreducible loss E = 2.7648"),
        (dict(budget=None, tokens=16e9), "nothing to plan against"),
        (dict(budget=1e21, params=1e9, tokens=1e10), "at most one"),
        (dict(budget=1e21, params=7e9, memory=1e9), "at most 2B parameters fit"),
        (dict(budget=1e18, params=7e9, inference_tokens=2e12), "too small"),
        (dict(budget=None, target_loss=3.0, params=1e8), "cannot go below"),
        (dict(budget=1e21, precision=8, untied=True), "`precision` fixes"),
        (dict(budget=1e21, precisions=[3]), "outside the domain"),
    ],
)
def test_unreachable_or_inconsistent_requests_raise(law, kwargs, message):
    budget = kwargs.pop("budget")
    with pytest.raises(PrecplanError, match=message):
        optimize(law, budget, **kwargs)
