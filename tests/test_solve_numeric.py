"""The numeric N/D solves of ``optimize`` (Newton searches, pruning and screening of candidates)
against brute force: dense grids over log N (tests/oracles.py), bisection for roots, and the
unpruned candidate grid. The oracles evaluate the law and the cost model directly; they share
no search code with the solver."""

from __future__ import annotations

import numpy as np
import pytest

from oracles import bisect, budget_line_min, zoom_min
from precplan.costs import GpuSpec
from precplan.errors import PrecplanError
from precplan.laws import load_law
from precplan.numerics import newton_min
from precplan.optimize import make_planner
from precplan.optimize._precision import choose, undominated
from precplan.optimize._closed import budget_floor
from precplan.optimize._problem import Problem
from precplan.optimize._split import solve_bits, tokens_for_loss

LAW = load_law("kumar2024")


# ---------------------------------------------------------------- newton_min on known minima
def test_newton_min_finds_known_minima():
    """f(x) = e^x - a x has its minimum at ln a; f(x) = (x - c)^2 at c."""
    a = np.array([0.5, 2.0, 10.0, 1e3])

    def exp_line(x, idx):
        return np.exp(x) - a[idx], np.exp(x)

    x = newton_min(exp_line, np.full(4, -10.0), np.full(4, 10.0), np.zeros(4), tol=1e-12)
    np.testing.assert_allclose(x, np.log(a), rtol=0, atol=1e-12)
    c = np.array([-3.0, 0.5, 7.9])
    x = newton_min(lambda x, idx: (2 * (x - c[idx]), np.full(x.shape, 2.0)), np.full(3, -5.0), np.full(3, 8.0), np.full(3, 7.0))
    np.testing.assert_allclose(x, c, atol=1e-12)


def test_newton_min_returns_a_binding_end_exactly():
    """f(x) = (x - 9)^2 on [-5, 8] and on [10, 12]: the minimum is the nearer end, exactly."""
    x = newton_min(lambda x, idx: (2 * (x - 9.0), np.full(x.shape, 2.0)), np.array([-5.0, 10.0]), np.array([8.0, 12.0]),
                   np.array([0.0, 11.5]))
    assert x[0] == 8.0 and x[1] == 10.0


def test_newton_min_steps_back_from_an_infeasible_side():
    """f(x) = (x - 1)^2 for x < 2, infeasible beyond (derivative +inf: "the minimum is left");
    the start sits in the infeasible part."""

    def walled(x, idx):
        return np.where(x < 2.0, 2 * (x - 1.0), np.inf), np.where(x < 2.0, 2.0, np.nan)

    x = newton_min(walled, np.array([-10.0]), np.array([10.0]), np.array([5.0]))
    assert x[0] == pytest.approx(1.0, abs=1e-12)


def test_newton_min_converges_at_a_kink():
    """f(x) = |x - c| + 0.1 x^2 has its minimum at the kink c (|0.2 c| < 1), where f' jumps from
    negative to positive: Newton alone would oscillate, the bracket's bisection converges."""
    c = np.array([0.3, -1.7, 2.2])
    x = newton_min(lambda x, idx: (np.sign(x - c[idx]) + 0.2 * x, np.full(x.shape, 0.2)),
                   np.full(3, -10.0), np.full(3, 10.0), np.zeros(3), tol=1e-11)
    np.testing.assert_allclose(x, c, atol=1e-9)


# ---------------------------------------------------------------- budget line vs brute force
@pytest.mark.parametrize(
    "P, post, T, budget",
    [
        (7, None, 1e13, 1e21),  # inference dominates
        (7, None, 1e13, 1e24),
        (6, 4.0, 0.0, 1e22),  # PTQ only
        (5, 3.0, 0.0, 1e20),
        (16, 6.0, 0.0, 1e26),
        (8, 4.0, 1e12, 1e23),  # both
        (12, 8.0, 1e14, 1e25),
        (7, None, 1e15, 1e20),  # budget barely above the inference cost: N <= C / (2/16 P T) ~ 1.1e5
    ],
)
def test_budget_line_matches_brute_force(P, post, T, budget):
    # the oracle serves every operand at the PTQ precision (by default activations and KV would
    # serve at their training precision)
    pb = Problem(has_budget=True, post=post, inference_tokens=T, serve_activations=post, serve_kv=post)
    s = solve_bits(LAW, pb, float(P), float(P), float(P), budget)
    N_bf, L_bf = budget_line_min(LAW, budget, P, post=post, inference_tokens=T)
    assert float(s.loss) <= L_bf * (1 + 1e-12)  # never worse than the dense grid
    assert float(s.loss) == pytest.approx(L_bf, rel=1e-10)
    assert float(s.params) == pytest.approx(N_bf, rel=1e-4)
    # the budget is spent: (6/16) N D P + (2/16) N T P_serve = C
    serve = P if post is None else post
    spent = 6 / 16 * P * s.params * s.tokens + 2 / 16 * serve * s.params * T
    assert float(spent) == pytest.approx(budget, rel=1e-9)


@pytest.mark.parametrize("post, T", [(4.0, 0.0), (None, 1e12), (4.0, 1e12)])
def test_budget_line_on_a_binding_memory_cap(post, T):
    """8 GB for 8-bit weights caps N at 8e9; at 1e25 FLOPs the optimum is far above it, so N is
    the cap and the loss the brute-force minimum below the cap. With PTQ the budget is a ceiling:
    at N = cap, the loss after PTQ is least at some D below what the budget buys (Kumar et al.
    2024, eq. 2: the degradation grows with D), so the brute force searches D up to that."""
    pb = Problem(has_budget=True, memory=8e9, post=post, inference_tokens=T, serve_activations=post, serve_kv=post)
    s = solve_bits(LAW, pb, 8.0, 8.0, 8.0, 1e25)
    assert float(s.params) == pytest.approx(8e9, rel=1e-12)
    _, L_bf = budget_line_min(LAW, 1e25, 8, post=post, inference_tokens=T, cap=8e9)
    if post is not None:
        D_line = (1e25 - 2 / 16 * post * 8e9 * T) / (6 / 16 * 8 * 8e9)
        _, L_below = zoom_min(lambda x: LAW.loss(8e9, np.exp(x), 8.0, 8.0, 8.0, post=post), np.log(1e3), np.log(D_line))
        assert L_below < L_bf  # here stopping short of the budget is better
        L_bf = L_below
    assert float(s.loss) == pytest.approx(L_bf, rel=1e-10)


def test_budget_below_the_inference_cost_is_infeasible():
    """Serving 1e13 tokens costs (2/16) 8 N 1e13 = 1e13 N FLOPs: a budget of 1e12 cannot pay for
    even one parameter, so there is no plan (NaN N, infinite loss), and the planner says so."""
    pb = Problem(has_budget=True, inference_tokens=1e13, post=4.0)
    s = solve_bits(LAW, pb, np.array([8.0, 8.0]), 8.0, 8.0, np.array([1e12, 1e22]))
    assert np.isnan(s.params[0]) and np.isinf(s.loss[0])
    assert np.isfinite(s.loss[1])
    with pytest.raises(PrecplanError):
        make_planner(LAW, has_budget=True, inference_tokens=1e13).solve(np.array([1e12]))


@pytest.mark.parametrize("gpu, post", [("h100", None), ("b200", 4.0)])
def test_hardware_budget_line_matches_brute_force(gpu, post):
    """With a GPU the inference cost is not linear in N (decode reads the KV cache, ~N^(2/3)):
    brute force over log N with the GPU's own cost model."""
    spec = GpuSpec(gpu)
    T, C, P = 1e13, 1e23, 8.0
    pb = Problem(has_budget=True, inference_tokens=T, hardware=spec, post=post)
    s = solve_bits(LAW, pb, P, P, P, C)
    c_tr, ps, ws, ks = pb.costs(np.array(P), np.array(P), np.array(P))

    def loss(u):
        N = np.exp(u)
        D = (C - spec.infer_units(N, T, ps, ws, ks)) / (c_tr * N)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = LAW.loss(N, np.where(D > 0, D, np.nan), P, P, P, post=post)
        return np.where(D > 0, out, np.inf)

    u, L_bf = zoom_min(loss, np.log(1e6), np.log(1e14))
    assert float(s.loss) <= L_bf * (1 + 1e-12)
    assert float(s.loss) == pytest.approx(L_bf, rel=1e-10)
    assert float(s.params) == pytest.approx(np.exp(u), rel=1e-4)


# ---------------------------------------------------------------- target-loss mode vs brute force
def _tokens_brute(N, P, post, target):
    """The fewest tokens reaching ``target`` at N: argmin of the loss in log D on a dense grid,
    then bisection on the falling branch."""
    N = np.atleast_1d(np.asarray(N, dtype=float))
    x = np.linspace(0.0, 80.0, 8001)
    L = LAW.loss(N[:, None], np.exp(x)[None, :], P, P, P, post=post)
    x_min = x[np.argmin(L, axis=1)]
    root = bisect(lambda y: LAW.loss(N, np.exp(y), P, P, P, post=post) - target, np.zeros(N.size), x_min)
    reach = LAW.loss(N, np.exp(x_min), P, P, P, post=post) <= target
    return np.where(reach, np.exp(root), np.nan)


def test_tokens_for_loss_with_ptq_matches_bisection():
    N = np.array([3e8, 1e9, 1e10, 1e11, 1e12])
    D = tokens_for_loss(LAW, N, 6.0, 6.0, 6.0, 4.0, 3.0)
    np.testing.assert_allclose(D, _tokens_brute(N, 6.0, 4.0, 3.0), rtol=1e-9)
    assert np.isnan(tokens_for_loss(LAW, np.array([1e7]), 6.0, 6.0, 6.0, 4.0, 3.0))[0]  # too small to reach 3.0


@pytest.mark.parametrize("gpu", [None, "h100"])
def test_target_loss_with_ptq_matches_brute_force(gpu):
    """The cheapest lifetime cost c_tr N D(N) + I(N) with D(N) the fewest tokens reaching the
    target after PTQ to 4 bits, at 8-bit training: brute force over log N."""
    spec = None if gpu is None else GpuSpec(gpu)
    T, L, P, post = 1e13, 3.0, 8.0, 4.0
    pb = Problem(post=post, inference_tokens=T, target_loss=L, hardware=spec)
    s = solve_bits(LAW, pb, P, P, P)
    c_tr, ps, ws, ks = pb.costs(np.array(P), np.array(P), np.array(P))

    def cost(u):
        N = np.exp(u)
        D = _tokens_brute(N, P, post, L)
        infer = 2 / 16 * ps * N * T if spec is None else spec.infer_units(N, T, ps, ws, ks)
        return np.where(np.isfinite(D), c_tr * N * D + infer, np.inf)

    u, cost_bf = zoom_min(cost, np.log(1e8), np.log(1e12), rounds=5, n=201)
    assert float(s.total_flops) <= cost_bf * (1 + 1e-9)
    assert float(s.total_flops) == pytest.approx(cost_bf, rel=1e-8)
    assert float(s.params) == pytest.approx(np.exp(u), rel=1e-3)
    assert float(s.loss) == pytest.approx(L, rel=1e-12)


# ---------------------------------------------------------------- pruned and screened candidates
REQUESTS = [
    dict(untied=True, memory=8e9),
    dict(untied=True, inference_precision=4),
    dict(untied=True, inference_tokens=1e13),
    dict(untied=True, serve_memory=8e9, kv_memory=(4096.0, 8.0, 1.0)),
    dict(untied=True, gpu=GpuSpec("h100"), inference_tokens=1e12, bits_range=(3, 16)),
]


@pytest.mark.parametrize("options", REQUESTS)
def test_pruning_and_screening_keep_the_best_of_the_full_grid(options):
    """choose() solves only candidates that can win; the full grid, every candidate solved, must
    pick the same bits (ties to the lower-bit candidate, as np.argmin does) and loss."""
    budgets = np.logspace(19, 26, 15)
    planner = make_planner(LAW, has_budget=True, **options)
    law, cand = planner.groups[0]
    got = choose([(law, cand)], planner.problem, budgets, budgets.size)
    full = solve_bits(law, planner.problem, cand[None, :, 0], cand[None, :, 1], cand[None, :, 2], budgets[:, None])
    best = np.argmin(full.objective("budget"), axis=1)
    np.testing.assert_array_equal(got.bits, cand[best])
    np.testing.assert_array_equal(got.index, best)
    np.testing.assert_allclose(got.split.loss, full.loss[np.arange(budgets.size), best], rtol=1e-12)


def test_pruning_in_target_loss_mode_keeps_the_cheapest():
    planner = make_planner(LAW, has_budget=False, untied=True, target_loss=3.0, inference_tokens=1e13, inference_precision=4)
    law, cand = planner.groups[0]
    keep = undominated(law, planner.problem, cand)
    assert 0 < keep.sum() < len(cand)
    full = solve_bits(law, planner.problem, cand[:, 0], cand[:, 1], cand[:, 2])
    assert keep[np.argmin(full.objective("target-loss"))]


def test_untied_compute_budget_prunes_to_tied_bits():
    """Under a pure compute budget an untied candidate with an operand below the widest pays the
    widest's price for less effective parameters: only the tied candidates (the best per price)
    are left (Kumar et al. 2024, sec. 4.3: each factor grows with its bits)."""
    planner = make_planner(LAW, has_budget=True, untied=True)
    law, cand = planner.groups[0]
    kept = cand[undominated(law, planner.problem, cand)]
    assert np.all(kept[:, 0] == kept[:, 1]) and np.all(kept[:, 1] == kept[:, 2])
    assert len(kept) == 14 - 1  # 3..16 bits; 3 is outside the law's domain for activations/KV


@pytest.mark.parametrize("options", [dict(inference_tokens=1e13), dict(inference_precision=4),
                                     dict(inference_precision=4, inference_tokens=1e12, memory=8e9), {}])
def test_budget_floor_is_a_lower_bound(options):
    """budget_floor drops the inference and PTQ terms: never above the solved loss, and equal to
    it where there is neither (the closed form itself)."""
    planner = make_planner(LAW, has_budget=True, **options)
    law, cand = planner.groups[0]
    budgets = np.logspace(18, 27, 40)[:, None]
    lb = budget_floor(law, planner.problem, cand[None, :, 0], cand[None, :, 1], cand[None, :, 2], budgets)
    s = solve_bits(law, planner.problem, cand[None, :, 0], cand[None, :, 1], cand[None, :, 2], budgets)
    ok = np.isfinite(s.loss)
    assert np.all(lb[ok] <= s.loss[ok] * (1 + 1e-13))
    if not options:
        np.testing.assert_allclose(lb[ok], s.loss[ok], rtol=1e-12)
