"""precplan.ptq._risk against Kumar et al. 2024 written out independently (tests/reference.py) and a
brute-force argmin over D (tests/oracles.py)."""

from __future__ import annotations

import numpy as np
import pytest

from precplan.errors import PrecplanError
from precplan.laws._file import load_law
from precplan.ptq._risk import d_crit, degradation_curves, ptq_risk, ptq_sweep
from oracles import ptq_argmin
from reference import (
    ASSUMED_C, KUMAR, ROBUSTNESS_6_TO_5, ROBUSTNESS_8_TO_4, ROBUSTNESS_8_TO_5, d_crit_eq13, kumar_loss, loss_after_ptq,
)


@pytest.fixture(scope="module")
def law():
    return load_law("kumar2024")


@pytest.fixture(scope="module")
def c(law):
    """Table 2 as published, plus the bundled (assumed) robustness constants C_x."""
    for name, value in KUMAR.items():
        assert law.c(name) == pytest.approx(value, rel=1e-12), name
    for name in ("C_w", "C_a", "C_kv"):
        assert law.c(name) == ASSUMED_C, name
    return dict(KUMAR, C_w=ASSUMED_C, C_a=ASSUMED_C, C_kv=ASSUMED_C)


# ---------------------------------------------------------------- D_crit
@pytest.mark.parametrize(
    "N, post, bits, robustness",
    [
        (220e6, 4.0, (16, 16, 16), 1.0),  # a 16-bit model gets eq. 2: robustness 1
        (7e9, 3.0, (16, 16, 16), 1.0),
        (7e9, 4.0, (16, 16, 16), 1.0),
        (70e9, 6.0, (16, 16, 16), 1.0),
        # low-precision training: N_eff and eq. 9's robustness, hand-computed in tests/reference.py
        (1e9, 4.0, (8, 8, 8), ROBUSTNESS_8_TO_4**3),
        (3e9, 5.0, (8, 16, 6), ROBUSTNESS_8_TO_5 * ROBUSTNESS_6_TO_5),
    ],
)
def test_d_crit_is_the_numerical_argmin_of_post_ptq_loss(law, c, N, post, bits, robustness):
    expected = ptq_argmin(c, N, post, *map(float, bits), robustness=robustness)
    got = float(d_crit(law, N, post, *bits))
    assert got == pytest.approx(expected, rel=1e-6)
    # and the loss the result reports at D_crit is the reference loss there
    r = ptq_risk(law, N, expected, post, None, *bits)
    ref = loss_after_ptq(c, N, expected, post, *map(float, bits), robustness=robustness)
    assert r.loss_at_d_crit == pytest.approx(ref, rel=1e-12)


def test_d_crit_matches_printed_eq13_for_high_precision_training(law):
    # Kumar et al. 2024 eq. 13 (with the -b offset reading) has no robustness term: make R == 1.
    hp = law.with_coefficients(C_w=1e4, C_a=1e4, C_kv=1e4)
    for N in (30e6, 7e9, 4e11):
        for post in (2.0, 4.0, 8.0):
            assert float(d_crit(hp, N, post)) == pytest.approx(d_crit_eq13(KUMAR, N, post), rel=1e-12)


def test_d_crit_grows_with_n_and_with_post_bits(law, c):
    Ns = np.logspace(7, 12, 26)
    posts = np.arange(2.0, 12.0, 0.5)
    grid = d_crit(law, Ns[:, None], posts[None, :])
    assert np.all(np.diff(grid, axis=0) > 0)  # grows with N at every precision
    assert np.all(np.diff(grid, axis=1) > 0)  # grows with P_post at every N
    # N-scaling exponent gamma_N / (gamma_D + beta) (R does not depend on N)
    expo = c["gamma_N"] / (c["gamma_D"] + c["beta"])
    assert grid[-1, 4] / grid[0, 4] == pytest.approx((Ns[-1] / Ns[0]) ** expo, rel=1e-10)


def test_no_d_crit_when_robustness_vanishes(law):
    # Trained at the serving precision: eq. 9's product is 0, no degradation, D_crit infinite.
    assert np.isinf(d_crit(law, 7e9, 4.0, 4, 4, 4))
    # A zero robustness constant does the same.
    assert np.isinf(d_crit(law.with_coefficients(C_w=0.0), 7e9, 4.0))
    r = ptq_risk(law.with_coefficients(C_w=0.0), 7e9, 2e12, 4)
    assert r.d_crit is None and r.status == "none" and r.degradation == 0.0


def test_d_crit_needs_ptq_terms():
    with pytest.raises(PrecplanError, match="no post-training-quantization terms"):
        d_crit(load_law("hoffmann2022"), 7e9, 4)


# ---------------------------------------------------------------- degradation
def test_degradation_increases_with_data(law, c):
    N, post = 1e9, 4.0
    sweep = ptq_sweep(law, N, np.logspace(9, 13, 17), post)
    deg = np.array([p.degradation for p in sweep.curve])
    assert np.all(np.diff(deg) > 0)
    D = np.array([p.tokens for p in sweep.curve])
    ref = loss_after_ptq(c, N, D, post) - kumar_loss(c, N, D)
    np.testing.assert_allclose(deg, ref, rtol=1e-9)
    # the power law in D at fixed N, P_post: delta ∝ D^gamma_D
    np.testing.assert_allclose(deg[1:] / deg[:-1], (D[1:] / D[:-1]) ** c["gamma_D"], rtol=1e-10)
    # more data keeps lowering the pre-PTQ loss: the harm is PTQ's alone
    assert np.all(np.diff([p.loss_before for p in sweep.curve]) < 0)


def test_degradation_is_zero_when_trained_at_the_serving_precision(law, c):
    r = ptq_risk(law, 7e9, 2e12, post=4)
    native = [o for o in r.training if o.bits.weights == 4.0]
    assert len(native) == 1
    o = native[0]
    assert o.degradation == 0.0 and o.robustness == 0.0 and o.d_crit is None
    assert o.loss_after == o.loss_before == pytest.approx(kumar_loss(c, 7e9, 2e12, 4.0), rel=1e-12)
    curves = degradation_curves(law, 7e9, np.logspace(10, 13, 5), [4], 4, 4, 4)
    assert np.all(curves.degradation == 0.0)


def test_lower_precision_training_is_more_robust(law, c):
    r = ptq_risk(law, 7e9, 2e12, post=4)
    planned, eight = r.training[0], r.training[1]
    assert (eight.bits.weights, eight.bits.activations, eight.bits.kv) == (8.0, 8.0, 8.0)
    assert eight.robustness == pytest.approx(ROBUSTNESS_8_TO_4**3, rel=1e-12)  # hand-computed eq. 9
    assert eight.degradation < planned.degradation
    ref = (loss_after_ptq(c, 7e9, 2e12, 4.0, 8.0, 8.0, 8.0, robustness=ROBUSTNESS_8_TO_4**3)
           - kumar_loss(c, 7e9, 2e12, 8.0, 8.0, 8.0))
    assert eight.degradation == pytest.approx(ref, rel=1e-9)


# ---------------------------------------------------------------- headline numbers and verdict
def test_headline_numbers_match_reference(law, c):
    r = ptq_risk(law, 7e9, 2e12, post=4)
    assert r.loss_before == pytest.approx(kumar_loss(c, 7e9, 2e12), rel=1e-12)
    assert r.loss_after == pytest.approx(loss_after_ptq(c, 7e9, 2e12, 4.0), rel=1e-12)
    assert r.degradation == pytest.approx(r.loss_after - r.loss_before, rel=1e-9)
    assert r.degradation_share == pytest.approx(r.degradation / (r.loss_before - c["E"]), rel=1e-9)
    assert [row.post_bits for row in r.table] == [2, 3, 4, 5, 6, 7, 8]
    for row in r.table:
        assert row.loss_after == pytest.approx(loss_after_ptq(c, 7e9, 2e12, row.post_bits), rel=1e-12)
        expected = "past" if 2e12 > row.d_crit else ("near" if 2e12 >= row.d_crit / 2 else "below")
        assert row.status == expected
    assert r.assumed == ["C_w", "C_a", "C_kv"]
    assert any("ASSUMED" in n for n in r.notes)


def test_verdict_past_near_below(law):
    N = 1e9  # within 10x of kumar2024's data: the verdict may read as advice (far beyond it: tests/test_uncertainty.py)
    dc = float(d_crit(law, N, 4))
    past = ptq_risk(law, N, 1.5 * dc, 4)
    assert past.status == "past"
    assert "more pretraining data is now making the 4-bit model worse" in past.law_verdict
    assert "the best token count for this N at 4-bit is D_crit" in past.law_verdict
    assert past.loss_at_d_crit < past.loss_after
    near = ptq_risk(law, N, 0.7 * dc, 4)
    assert near.status == "near" and near.law_verdict in near.warnings
    below = ptq_risk(law, N, 0.3 * dc, 4)
    assert below.status == "below" and below.law_verdict not in below.warnings
    assert below.loss_at_d_crit < below.loss_after


def test_table_choice_and_bad_precisions(law):
    r = ptq_risk(law, 1e9, 20e9, post=4, posts=["int3", "8"])
    assert [row.post_name for row in r.table] == ["int3", "4-bit", "8-bit"]
    r8 = ptq_risk(law, 1e9, 20e9, post=4, weights=8, activations=8, kv=8)
    assert [row.post_bits for row in r8.table] == [2, 3, 4, 5, 6, 7]  # only below the training bits
    for post, posts, w in ((16, None, 16), (8, None, 8), (4, ["3", "16"], 16), (5, None, 4)):
        with pytest.raises(PrecplanError, match="at or above the weights' training precision"):
            ptq_risk(law, 1e9, 20e9, post=post, posts=posts, weights=w)
    for N, D in ((0, 1e9), (1e9, -1), (float("nan"), 1e9)):
        with pytest.raises(PrecplanError, match="positive"):
            ptq_risk(law, N, D, 4)


def test_sweep_flags_points_past_d_crit(law):
    tokens = np.logspace(np.log10(1e11), np.log10(1e13), 20)
    s = ptq_sweep(law, 7e9, tokens, 4)
    assert len(s.curve) == 20
    assert [p.past_d_crit for p in s.curve] == [t > s.d_crit for t in tokens]
    assert s.table and all(row.loss_after is None for row in s.table)


def test_sweep_status_is_the_single_point_status(law, c):
    # One rule for both modes: a sweep point and a single-D run at the same D agree.
    dc = ptq_argmin(c, 7e9, 4.0, 16.0, 16.0, 16.0)
    tokens = np.array([0.2, 0.45, 0.55, 0.9, 1.2, 30.0]) * dc
    s = ptq_sweep(law, 7e9, np.append(tokens, 100e9), 4)
    expected = ["below", "below", "near", "near", "past", "past", "near"]  # 100B: 1.87x below D_crit
    assert [p.status for p in s.curve] == expected
    for p in s.curve:
        assert p.status == ptq_risk(law, 7e9, p.tokens, 4).status
    none = ptq_sweep(law.with_coefficients(C_w=0.0), 7e9, tokens, 4)
    assert {p.status for p in none.curve} == {"none"}


def test_b_post_offset_reading_is_noted_once(law, c):
    gd_beta = c["gamma_D"] + c["beta"]
    deg, dc = np.exp(c["b_post"]), np.exp(c["b_post"] / gd_beta)
    for result in (ptq_risk(law, 7e9, 2e12, 4), ptq_sweep(law, 7e9, np.array([1e11, 1e12]), 4)):
        said = [n for n in result.notes if "b_post" in n]
        assert len(said) == 1 and "exponent offset" in said[0] and "interpretation" in said[0]
        assert f"{deg:.3g}x smaller" in said[0] and f"D_crit {dc:.3g}x larger" in said[0]
    # the factors are what dropping b does to the law's own numbers
    no_b = law.with_coefficients(b_post=0.0)
    assert float(d_crit(no_b, 7e9, 4)) / float(d_crit(law, 7e9, 4)) == pytest.approx(dc, rel=1e-9)
    assert not any("b_post" in n for n in ptq_risk(no_b, 7e9, 2e12, 4).notes)
