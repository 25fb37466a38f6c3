"""The bundled laws against the papers' equations and figures (tests/reference.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from precplan import load_law
from precplan.errors import PrecplanError
from precplan.laws._file import bundled_names

from reference import (
    ASSUMED_C, BESIROGLU, BESIROGLU_STDERR, HOFFMANN, HOFFMANN_PRINTED, KUMAR, KUMAR_FP_WEIGHTS, LOSS_220M_16B,
    NEFF_RATIO_16_TO_4, P_STAR, ROBUSTNESS_8_TO_4, SARDANA, chinchilla_loss, delta_ptq, kumar_factor, n_eff,
    relative_factor,
)
from reference import kumar_loss as _kumar_loss


def kumar_loss(N: float, D: float, pw: float = 16, pa: float = 16, pkv: float = 16) -> float:
    """Kumar et al. 2024, eq. 10 with Table 2 (tests/reference.py)."""
    return float(_kumar_loss(KUMAR, N, D, pw, pa, pkv))


def test_bundled_library_is_complete() -> None:
    assert {"kumar2024", "kumar2024-fp", "hoffmann2022", "besiroglu2024", "sardana2024"} <= set(bundled_names())
    for name in bundled_names():
        law = load_law(name)
        assert law.id == name
        assert law.fit_range["params"][0] < law.fit_range["params"][1]


def test_kumar_coefficients_match_table_2() -> None:
    law = load_law("kumar2024")
    for name, value in KUMAR.items():
        assert law.c(name) == pytest.approx(value, rel=1e-12), name
    assert set(law.assumed) == {"C_w", "C_a", "C_kv"}  # never reported by the paper


def test_220m_16b_loss_is_3_2298() -> None:
    """Kumar et al. 2024: L(220M, 16B, 16-bit) = 3.2298 with raw counts."""
    law = load_law("kumar2024")
    assert float(law.loss(220e6, 16e9)) == pytest.approx(LOSS_220M_16B, abs=5e-5)
    assert float(law.loss(220e6, 16e9)) == pytest.approx(kumar_loss(220e6, 16e9), rel=1e-12)


def test_effective_parameter_ratio_16_to_4_bits_is_5_2() -> None:
    """Kumar et al. 2024: N_eff(16 bits) / N_eff(4 bits) = 5.2 (paper: more than 4x)."""
    law = load_law("kumar2024")
    ratio = float(law.effective_params(1e9, 16, 16, 16) / law.effective_params(1e9, 4, 4, 4))
    expected = math.prod(kumar_factor(16, op) / kumar_factor(4, op) for op in ("w", "a", "kv"))
    assert ratio == pytest.approx(expected, rel=1e-12)
    assert round(ratio, 1) == NEFF_RATIO_16_TO_4


def test_compute_optimal_precision_is_7_bits() -> None:
    """Kumar et al. 2024, compute-optimal precision: P* maximizes f(P)/P; with Table 2 it is 7.00 bits."""
    law = load_law("kumar2024")
    P = np.linspace(3.5, 16, 125_001)
    p_star = P[np.argmax(law.precision_factor(P, P, P) / P)]
    assert p_star == pytest.approx(P_STAR, abs=0.005)
    # the same from the formula written out here
    mine = P[np.argmax([math.prod(kumar_factor(p, op) for op in ("w", "a", "kv")) / p for p in P[::25]]) * 25]
    assert mine == pytest.approx(p_star, abs=0.002)


def test_loss_matches_independent_formula_at_low_precision() -> None:
    law = load_law("kumar2024")
    for pw, pa, pkv in ((4, 8, 8), (6, 6, 6), (8, 16, 4), (3, 16, 16)):
        assert float(law.loss(110e6, 6e9, pw, pa, pkv)) == pytest.approx(kumar_loss(110e6, 6e9, pw, pa, pkv), rel=1e-12)


def test_activations_at_3_bits_break_the_law() -> None:
    """f_a(3) < 0: N_eff <= 0 is infeasible (+inf loss, and a clear error from check_domain)."""
    law = load_law("kumar2024")
    assert kumar_factor(3, "a") < 0
    assert float(law.effective_params(1e8, 16, 3, 16)) < 0
    assert np.isinf(law.loss(1e8, 1e9, 16, 3, 16))
    with pytest.raises(PrecplanError, match="activations at 3 bits"):
        law.check_domain(1e8, 1e9, 16, 3, 16)


def test_two_broken_factors_do_not_make_a_feasible_model() -> None:
    """At 1 bit f_a and f_kv are both negative; their product is positive but the law is broken."""
    law = load_law("kumar2024")
    assert kumar_factor(1, "a") < 0 and kumar_factor(1, "kv") < 0 and kumar_factor(1, "w") > 0
    assert float(law.precision_factor(1, 1, 1)) < 0
    assert np.isinf(law.loss(1e9, 1e10, 1, 1, 1))
    assert np.all(np.isinf(law.loss(1e9, 1e10, np.array([1.0, 2.0]), np.array([1.0, 2.0]), np.array([1.0, 2.0]))))


def test_vectorized_broadcasting() -> None:
    law = load_law("kumar2024")
    N = np.array([30e6, 110e6, 220e6])[:, None]
    D = np.array([1.5e9, 6e9, 26e9])[None, :]
    P = np.array([4.0, 8.0, 16.0])[:, None, None]
    L = law.loss(N, D, P, P, P)
    assert L.shape == (3, 3, 3)
    assert L[1, 2, 0] == pytest.approx(kumar_loss(220e6, 1.5e9, 8, 8, 8), rel=1e-12)
    assert np.all(np.diff(L, axis=0) < 0)  # more bits, lower loss
    assert np.all(np.diff(L, axis=1) < 0) and np.all(np.diff(L, axis=2) < 0)


def test_ptq_degradation_high_precision_matches_eq_2() -> None:
    """A 16-bit model (the PTQ fit's own runs) gets eq. 2 exactly, whatever the assumed C_x:
    delta = C_T exp(-P/gamma_post + b) D^gamma_D / N^gamma_N."""
    law = load_law("kumar2024")
    N, D, P = 220e6, 16e9, 4.0
    eq2 = float(delta_ptq(KUMAR, N, D, P))
    assert float(law.ptq_degradation(N, D, P)) == pytest.approx(eq2, rel=1e-12)
    assert 0.03 < eq2 < 0.06  # a few hundredths of a nat at int4 for a 220M model
    other = law.with_coefficients(C_w=3.0, C_a=0.1, C_kv=1.0)
    assert float(other.ptq_degradation(N, D, P)) == pytest.approx(eq2, rel=1e-12)
    assert law.robustness_constants_used(P, 16, 16, 16) == []


def test_low_precision_training_robustness_is_eq_9_relative_to_16_bits() -> None:
    """Eq. 9's factor per operand, relative to a 16-bit-trained model: trained at 8 bits, served
    at 4, the weights keep (1 - e^{-4C}) / (1 - e^{-12C}) of the degradation; with the bundled
    (assumed) C = 0.5 that is 0.8668..., worked by hand in tests/reference.py."""
    law = load_law("kumar2024")
    assert (law.c("C_w"), law.c("C_a"), law.c("C_kv")) == (ASSUMED_C, ASSUMED_C, ASSUMED_C)
    assert float(law.robustness(4, 8, 16, 16)) == pytest.approx(ROBUSTNESS_8_TO_4, rel=1e-12)
    assert float(law.robustness(4, 8, 8, 8)) == pytest.approx(ROBUSTNESS_8_TO_4**3, rel=1e-12)  # C_a = C_kv = C_w
    assert law.robustness_constants_used(4, 8, 16, 16) == ["C_w"]
    assert float(law.robustness(4, 4, 16, 16)) == 0.0 and float(law.robustness(4, 32, 16, 16)) == 1.0


@pytest.mark.parametrize("C", [0.05, 0.5, 3.0])
def test_robustness_properties_from_the_paper(C: float) -> None:
    """Kumar et al. 2024, eqs. 8-9, whatever the (unpublished) C_x: the factor is 1 for a model
    trained at the reference 16 bits (eq. 2 holds), 0 when any operand trained at or below P_post
    (a model trained at the serving precision loses nothing to PTQ), and grows with training bits
    in between, staying in [0, 1]."""
    law = load_law("kumar2024").with_coefficients(C_w=C, C_a=C, C_kv=C)
    posts = np.array([2.0, 3.0, 4.0, 6.0, 8.0])
    np.testing.assert_array_equal(law.robustness(posts, 16, 16, 16), 1.0)
    for post in posts:
        for at_or_below in (post, post - 0.5, 1.0):
            assert float(law.robustness(post, at_or_below, 16, 16)) == 0.0
            assert float(law.robustness(post, 16, at_or_below, 16)) == 0.0
            assert float(law.robustness(post, 16, 16, at_or_below)) == 0.0
        bits = np.linspace(post, 16.0, 200)
        for r in (law.robustness(post, bits, 16, 16), law.robustness(post, 16, bits, 16),
                  law.robustness(post, bits, bits, bits)):
            assert np.all((r >= 0) & (r <= 1))
            # monotone: the more bits it trained at, the less robust (strictly, until it reaches 1)
            assert np.all(np.diff(r) >= 0)
            assert np.all(np.diff(r)[r[1:] < 1 - 1e-9] > 0)
            assert r[0] == 0.0 and r[-1] == pytest.approx(1.0, rel=1e-12)
        # and it scales eq. 8's degradation at the model's own N_eff (Table 2 written out)
        deg = law.ptq_degradation(1e9, 1e11, post, bits, 16, 16)
        r = law.robustness(post, bits, 16, 16)
        assert deg[0] == 0.0
        np.testing.assert_allclose(deg, delta_ptq(KUMAR, n_eff(KUMAR, 1e9, bits), 1e11, post, r), rtol=1e-12)


def test_ptq_is_zero_when_serving_at_training_precision() -> None:
    law = load_law("kumar2024")
    assert float(law.ptq_degradation(1e9, 1e11, 8, 8, 8, 8)) == 0.0
    assert float(law.ptq_degradation(1e9, 1e11, 16)) == 0.0
    assert float(law.ptq_degradation(1e9, 1e11, 4, 6, 16, 16)) > 0


def test_float_variant() -> None:
    fp = load_law("kumar2024-fp")
    assert (fp.c("gamma_w"), fp.c("n_w")) == (KUMAR_FP_WEIGHTS["gamma_w"], KUMAR_FP_WEIGHTS["n_w"])
    assert fp.weight_format == "float" and load_law("kumar2024").float_variant == "kumar2024-fp"
    for name, value in KUMAR.items():  # everything but the weights' precision terms is Table 2
        if name not in KUMAR_FP_WEIGHTS:
            assert fp.c(name) == pytest.approx(value, rel=1e-12), name
    expected = float(relative_factor(8, "w", dict(KUMAR, **KUMAR_FP_WEIGHTS)))
    assert expected == pytest.approx((1 - math.exp(-8 / 2.8111 + 0.1240)) / (1 - math.exp(-16 / 2.8111 + 0.1240)), rel=1e-15)
    assert float(fp.factor(8, "w")) == pytest.approx(expected, rel=1e-12)


def test_chinchilla_laws() -> None:
    h = load_law("hoffmann2022")
    for name, value in HOFFMANN.items():  # the unrounded constants of the paper's TeX source
        assert h.c(name) == pytest.approx(value, rel=1e-6), name
    # Chinchilla 70B on 1.4T tokens, from the unrounded constants; the printed (rounded) ones
    # give 1.9366, and rounding moves it by under 0.02
    assert float(h.loss(70e9, 1.4e12)) == pytest.approx(chinchilla_loss(HOFFMANN, 70e9, 1.4e12), rel=1e-6)
    assert float(h.loss(70e9, 1.4e12)) == pytest.approx(chinchilla_loss(HOFFMANN_PRINTED, 70e9, 1.4e12), abs=0.02)
    with pytest.raises(PrecplanError, match="no precision terms"):
        h.loss(70e9, 1.4e12, 8, 8, 8)
    b = load_law("besiroglu2024")
    assert b.values == BESIROGLU
    assert {k: b.coefficients[k].stderr for k in BESIROGLU} == BESIROGLU_STDERR
    s = load_law("sardana2024")
    assert s.values == SARDANA


def test_compose_takes_base_terms_from_base() -> None:
    law = load_law("kumar2024", base="hoffmann2022")
    h = load_law("hoffmann2022")
    for name in ("E", "A", "B", "alpha", "beta"):
        assert law.c(name) == h.c(name)
        assert law.c(name) == pytest.approx(HOFFMANN[name], rel=1e-6)  # Hoffmann's, not Table 2's
        assert law.c(name) != pytest.approx(KUMAR[name], rel=1e-2)
    for name in ("gamma_w", "n_w", "gamma_a", "n_a", "gamma_kv", "n_kv", "C_T", "gamma_D", "gamma_N", "gamma_post", "b_post"):
        assert law.c(name) == KUMAR[name], name
    assert law.composed_from == ("kumar2024", "hoffmann2022")
    assert float(law.loss(70e9, 1.4e12)) == pytest.approx(chinchilla_loss(HOFFMANN, 70e9, 1.4e12), rel=1e-6)
    assert float(law.loss(70e9, 1.4e12)) == pytest.approx(float(h.loss(70e9, 1.4e12)), rel=1e-12)
    assert float(law.loss(70e9, 1.4e12, 4, 4, 4)) > float(h.loss(70e9, 1.4e12))


def test_extrapolation_warnings() -> None:
    law = load_law("kumar2024")
    assert law.extrapolation_warnings(220e6, 16e9, [16, 16, 16]) == []
    warnings = law.extrapolation_warnings(7e9, 2e12, [4, 16, 16])
    assert len(warnings) == 2 and all("extrapolates" in w for w in warnings)


def test_predict_and_ptq_risk_take_law_names_and_counts_as_text():
    import precplan
    from reference import KUMAR, kumar_loss

    p = precplan.predict("kumar2024", "220M", "16B")
    assert p.loss == pytest.approx(kumar_loss(KUMAR, 220e6, 16e9), rel=1e-12)
    by_text = precplan.ptq_risk("kumar2024", "8B", "15T", post="int4")
    by_value = precplan.ptq_risk(precplan.load_law("kumar2024"), 8e9, 15e12, post=4)
    assert by_text.degradation == by_value.degradation > 0
    with pytest.raises(precplan.PrecplanError, match="params must be a positive number"):
        precplan.predict("kumar2024", "-1", "16B")
