"""The fitting machinery's pieces: analytic gradients against finite differences, each stage
model's prediction against Law.loss, the robust loss, and the batched L-BFGS on problems with
known minima."""

from __future__ import annotations

import numpy as np
import pytest

from precplan.fit._lbfgs import batched_lbfgs, distinct_best
from precplan.fit._models import ChinchillaModel, PrecisionModel, PtqModel
from precplan.fit._objective import Objective, robust_loss
from precplan.laws._file import load_law

from oracles import central_difference, gradient_by_differences
from reference import HOFFMANN_DELTA, huber


def _sample_runs(seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """40 (N, D) points, log-uniform over 30M..3B parameters and 1B..100B tokens."""
    rng = np.random.default_rng(seed)
    return np.exp(rng.uniform(np.log(3e7), np.log(3e9), 40)), np.exp(rng.uniform(np.log(1e9), np.log(1e11), 40))


N, D = _sample_runs()


def check_gradient(obj: Objective, x: np.ndarray) -> None:
    _, g = obj.batch(x[None, :], np.array([0]))
    numeric = gradient_by_differences(lambda v: obj.batch(v[None, :], np.array([0]))[0][0], x)
    np.testing.assert_allclose(g[0], numeric, rtol=2e-5, atol=1e-8)


@pytest.mark.parametrize("kind", ["huber", "lsq"])
@pytest.mark.parametrize("tie", [False, True])
def test_chinchilla_gradient_matches_finite_differences(kind, tie):
    rng = np.random.default_rng(11)
    loss = 1.8 + 400 * N**-0.34 + 410 * D**-0.28
    y = np.log(loss * np.exp(rng.normal(0, 0.02, N.size)))
    model = ChinchillaModel(N, D, tie)
    # delta large enough that residuals fall on both sides of the Huber kink
    obj = Objective(model, y, kind=kind, delta=0.02)
    x = np.array([6.2, 5.9, 0.5, 0.33, 0.29])[: len(model.names)]
    check_gradient(obj, x)


def test_chinchilla_model_is_the_law():
    law = load_law("hoffmann2022")
    model = ChinchillaModel(N, D)
    theta = model.theta_from(law.values)[None, :]
    pred, _ = model.evaluate(theta, np.zeros(1, dtype=int))
    np.testing.assert_allclose(np.exp(pred[0]), law.loss(N, D), rtol=1e-12)


def precision_setup(rng: np.random.Generator):
    law = load_law("kumar2024")
    w = rng.choice([3.0, 4.0, 6.0, 8.0], N.size)
    a = rng.choice([4.0, 8.0, 16.0], N.size)
    base = {k: np.array([law.c(k)]) for k in ("E", "A", "B", "alpha", "beta")}
    fixed = np.log(law.factor(np.full(N.size, 16.0), "kv"))
    return law, w, a, PrecisionModel(N, D, {"w": w, "a": a}, base, fixed)


def test_precision_model_is_the_law_and_its_gradient_is_right():
    rng = np.random.default_rng(12)
    law, w, a, model = precision_setup(rng)
    theta = model.theta_from(law.values)
    pred, _ = model.evaluate(theta[None, :], np.zeros(1, dtype=int))
    np.testing.assert_allclose(np.exp(pred[0]), law.loss(N, D, w, a, 16), rtol=1e-12)
    coefs = model.coefficients(theta)
    for k in ("gamma_w", "n_w", "gamma_a", "n_a"):
        assert coefs[k][0] == pytest.approx(law.c(k), rel=1e-12)
    y = np.log(law.loss(N, D, w, a, 16)) + rng.normal(0, 0.01, N.size)
    obj = Objective(model, y, delta=0.01)
    check_gradient(obj, theta + rng.normal(0, 0.05, theta.size))


def test_ptq_model_is_the_law_and_its_gradient_is_right():
    rng = np.random.default_rng(13)
    law = load_law("kumar2024")
    w = rng.choice([4.0, 6.0, 8.0, 16.0], N.size)
    post = rng.choice([2.0, 3.0, 4.0, 6.0], N.size)
    loss = law.loss(N, D, w, 16, 16)
    neff = law.effective_params(N, w, 16, 16)
    gaps = {"w": w - post, "a": 16 - post, "kv": 16 - post}
    model = PtqModel(D, np.log(neff)[None, :], post, loss, law.c("b_post"), gaps)
    theta = model.theta_from(law.values)
    pred, _ = model.evaluate(theta[None, :], np.zeros(1, dtype=int))
    np.testing.assert_allclose(np.exp(pred[0]), law.loss(N, D, w, 16, 16, post=post), rtol=1e-12)
    y = pred[0] + rng.normal(0, 0.01, N.size)
    obj = Objective(model, y, delta=0.01)
    check_gradient(obj, theta + rng.normal(0, 0.05, theta.size))


def test_huber_is_quadratic_then_linear():
    """rho is Hoffmann et al.'s Huber loss (App. D.2) divided by delta, worked by hand at
    delta = 1e-3: r^2 / (2 delta) inside, |r| - delta / 2 outside."""
    r = np.array([-0.5, -1e-4, 0.0, 2e-4, 0.3])
    rho, drho = robust_loss(r, "huber", 1e-3)
    # -0.5: 0.5 - 0.0005; -1e-4: 1e-8 / 2e-3; 0; 2e-4: 4e-8 / 2e-3; 0.3: 0.3 - 0.0005
    np.testing.assert_allclose(rho, [0.4995, 5e-6, 0.0, 2e-5, 0.2995], rtol=1e-12, atol=1e-18)
    np.testing.assert_allclose(rho, huber(r, 1e-3) / 1e-3, rtol=1e-12)
    # the slope: r / delta inside (-0.1 at -1e-4, 0.2 at 2e-4), +-1 outside
    np.testing.assert_allclose(drho, [-1.0, -0.1, 0.0, 0.2, 1.0], rtol=1e-12)


@pytest.mark.parametrize("kind, delta", [("huber", HOFFMANN_DELTA), ("huber", 0.02), ("lsq", 1.0)])
def test_robust_loss_derivative_matches_central_differences(kind, delta):
    """rho' against central differences of rho, on both sides of the Huber kink (but not on it),
    and rho continuous with a continuous slope across the kink."""
    r = np.concatenate([np.linspace(-5, 5, 41) * delta + delta / 7, [-0.7, -3.3e-2, 4.1e-4, 0.9]])
    h = 1e-4 * delta
    r = r[np.abs(np.abs(r) - delta) > 2 * h]
    _, drho = robust_loss(r, kind, delta)
    numeric = central_difference(lambda x: robust_loss(x, kind, delta)[0], r, h=h)
    np.testing.assert_allclose(drho, numeric, rtol=1e-6, atol=1e-9)
    if kind == "huber":
        eps = 1e-9 * delta
        for kink in (-delta, delta):
            lo, hi = robust_loss(np.array([kink - eps, kink + eps]), kind, delta)
            assert lo[1] == pytest.approx(lo[0], abs=1e-8) and hi[1] == pytest.approx(hi[0], abs=1e-8)
            assert abs(hi[0]) == pytest.approx(1.0, abs=1e-8)


def test_batched_lbfgs_finds_each_members_minimum():
    """Rosenbrock from many starts at once (minimum (1, 1)), and a bounded quadratic whose
    minimum lies outside the box (solution on the bound)."""
    def rosen(x, members):
        a, b = x[:, 0], x[:, 1]
        f = (1 - a) ** 2 + 100 * (b - a * a) ** 2
        g = np.stack([-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)], axis=1)
        return f, g

    starts = np.random.default_rng(14).uniform(-2, 2, (50, 2))
    res = batched_lbfgs(rosen, starts, np.array([-5.0, -5.0]), np.array([5.0, 5.0]), maxiter=2000, ftol=1e-15, gtol=1e-12)
    np.testing.assert_allclose(res.x, 1.0, atol=1e-5)
    assert res.converged.all()

    target = np.array([3.0, -2.0])

    def quad(x, members):
        return ((x - target) ** 2).sum(1), 2 * (x - target)

    res = batched_lbfgs(quad, np.zeros((3, 2)), np.array([-1.0, -1.0]), np.array([1.0, 1.0]))
    np.testing.assert_allclose(res.x, [[1.0, -1.0]] * 3, atol=1e-12)


def test_distinct_best_skips_duplicates():
    x = np.array([[0.0, 0.0], [0.0, 1e-6], [1.0, 1.0], [2.0, 2.0]])
    f = np.array([1.0, 0.5, 0.7, np.inf])
    assert distinct_best(x, f, 3).tolist() == [1, 2]
