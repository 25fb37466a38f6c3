"""The one Hoffmann closed form and the one P* (precplan.laws), against the papers' formulas
written out in tests/reference.py, and fit's compute-optimal point against optimize's search;
the examples in the docstrings of the shared closed forms and of precplan.records run."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from reference import HOFFMANN, KUMAR, P_STAR, hoffmann_split, kumar_factor

import precplan
from precplan.fit._optimum import compute_optimal
from precplan.laws import hoffmann_params, load_law, optimal_precision


@pytest.mark.parametrize("flops", [1e19, 1e23, 3e25])
def test_hoffmann_params_is_eq_4(flops: float) -> None:
    """Hoffmann et al. 2022, eq. 4 with Approach 3's constants (the bundled hoffmann2022)."""
    n_ref, d_ref = hoffmann_split(HOFFMANN, flops)
    n = float(hoffmann_params(load_law("hoffmann2022"), 1.0, flops / 6.0))
    assert n == pytest.approx(n_ref, rel=1e-6)
    assert flops / 6.0 / n == pytest.approx(d_ref, rel=1e-6)


def test_precision_factor_scales_the_parameter_term() -> None:
    """Kumar et al. 2024: A' = A f^-alpha, so N* at factor f equals N* of a law with A' (and NaN
    outside the domain, f <= 0)."""
    law = load_law("kumar2024")
    f, K = 0.6, 1e21
    a_eff = KUMAR["A"] * f ** -KUMAR["alpha"]
    al, be = KUMAR["alpha"], KUMAR["beta"]
    by_hand = (al * a_eff / (be * KUMAR["B"])) ** (1 / (al + be)) * K ** (be / (al + be))
    assert float(hoffmann_params(law, f, K)) == pytest.approx(float(by_hand), rel=1e-12)
    assert np.isnan(hoffmann_params(law, np.array([0.0, -0.1]), K)).all()


def test_optimal_precision_is_argmax_of_effective_parameters_per_bit() -> None:
    """P* = argmax f(P)/P, f from Kumar et al. 2024's Table 2 written out in tests/reference.py,
    searched here on a fine grid: 7.00 bits."""
    P = np.linspace(4.0, 12.0, 80_001)
    ratio = np.prod([kumar_factor(P, op) for op in ("w", "a", "kv")], axis=0) / P
    brute = float(P[np.argmax(ratio)])
    p_star = optimal_precision(load_law("kumar2024"))
    assert p_star == pytest.approx(brute, abs=2e-4)
    assert p_star == pytest.approx(P_STAR, abs=0.005)


@pytest.mark.parametrize("name", ["kumar2024", "hoffmann2022", "besiroglu2024"])
def test_fit_and_optimize_find_the_same_compute_optimal_loss(name: str) -> None:
    """fit's closed-form optimum and optimize's search (continuous bits) reach the same loss at a
    budget; the loss, not where the search stops on the flat ridge of f(P)/P, is compared."""
    law = load_law(name)
    budget = 1e23
    o = compute_optimal(law, budget)
    p = o.get("P_opt", 16.0)
    closed = float(law.loss(o["N_opt"], o["D_opt"], p, p, p))
    search = {"continuous": True, "bits_range": (1, 32)} if law.has_precision else {}
    plan = precplan.plan(budget=budget, law=name, **search)
    assert plan.loss == pytest.approx(closed, rel=1e-9)
    # the cost model agrees: C = (6/16) N D P spends the budget
    assert 6.0 / 16.0 * o["N_opt"] * o["D_opt"] * p == pytest.approx(budget, rel=1e-9)


@pytest.mark.parametrize("module", ["precplan.laws._optimum", "precplan.records"])
def test_docstring_examples_run(module: str) -> None:
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted >= 3 and result.failed == 0
