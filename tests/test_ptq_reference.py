"""An independent, written-out reference of Kumar et al. 2024's post-PTQ loss, for the ptq tests.

Nothing here calls precplan's law math: the published constants (Appendix K, Table 2, as
listed in docs/science.md, from tests/conftest.py) and the formulas are typed out again, so the tests
compare precplan against a second implementation, not against itself.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

from conftest import KUMAR  # Kumar et al. 2024, Appendix K Table 2, typed in from the paper

TABLE2 = dict(KUMAR)


def _f(bits, gamma, n):
    return 1.0 - np.exp(-bits / gamma + n)


def n_eff(c, N, w=16.0, a=16.0, kv=16.0):
    """N f_w f_a f_kv, each factor relative to 16 bits (the law's reference precision)."""
    out = N
    for bits, g, n in ((w, c["gamma_w"], c["n_w"]), (a, c["gamma_a"], c["n_a"]), (kv, c["gamma_kv"], c["n_kv"])):
        out = out * _f(bits, g, n) / _f(16.0, g, n)
    return out


def robustness(c, post, w=16.0, a=16.0, kv=16.0, ref=16.0):
    """prod_x [1 - exp(-C_x (P_x - P_post))] (eq. 9), each factor relative to a model trained at
    the reference 16 bits (so a 16-bit model gets eq. 2) and clipped to [0, 1]."""
    out = 1.0
    for bits, name in ((w, "C_w"), (a, "C_a"), (kv, "C_kv")):
        factor = 1.0 - np.exp(-c[name] * (bits - post))
        at_ref = 1.0 - np.exp(-c[name] * (ref - post))
        out = out * np.clip(factor / at_ref if at_ref > 0 else factor, 0.0, 1.0)
    return out


def data_dependent(c, N, D, post, w=16.0, a=16.0, kv=16.0):
    """The D-dependent part of the post-PTQ loss: B D^-beta + delta_PTQ(D)."""
    ne = n_eff(c, N, w, a, kv)
    delta = (
        c["C_T"] * np.exp(-post / c["gamma_post"] + c["b_post"]) * D ** c["gamma_D"] / ne ** c["gamma_N"]
        * robustness(c, post, w, a, kv)
    )
    return c["B"] * D ** -c["beta"] + delta


def loss_before(c, N, D, w=16.0, a=16.0, kv=16.0):
    return c["E"] + c["A"] * n_eff(c, N, w, a, kv) ** -c["alpha"] + c["B"] * D ** -c["beta"]


def loss_after(c, N, D, post, w=16.0, a=16.0, kv=16.0):
    return c["E"] + c["A"] * n_eff(c, N, w, a, kv) ** -c["alpha"] + data_dependent(c, N, D, post, w, a, kv)


def numerical_argmin(c, N, post, w=16.0, a=16.0, kv=16.0):
    """argmin over D of the post-PTQ loss: a dense log grid over 1e3..1e22 tokens, then a
    bounded Brent search on u = ln(D / D_grid) within one grid step (tolerance 1e-12 in u)."""
    x = np.linspace(np.log(1e3), np.log(1e22), 4001)
    y = data_dependent(c, N, np.exp(x), post, w, a, kv)
    i = int(np.argmin(y))
    assert 0 < i < len(x) - 1, "minimum at the edge of the search grid"
    h = x[1] - x[0]
    res = minimize_scalar(
        lambda u: data_dependent(c, N, np.exp(x[i] + u), post, w, a, kv),
        bounds=(-h, h), method="bounded", options={"xatol": 1e-12},
    )
    return float(np.exp(x[i] + res.x))


# ---------------------------------------------------------------- the reference checks itself
def test_reference_reproduces_published_loss():
    # docs/science.md section 4: L(220M, 16B, 16-bit) = 3.2298 with raw counts.
    assert abs(loss_before(TABLE2, 220e6, 16e9) - 3.2298) < 5e-5


def test_reference_four_bit_size_penalty():
    # docs/science.md section 4: N_eff(16 bits) / N_eff(4 bits) = 5.2 (all three operands at 4 bits).
    ratio = n_eff(TABLE2, 1.0) / n_eff(TABLE2, 1.0, 4.0, 4.0, 4.0)
    assert abs(ratio - 5.2) < 0.05


def test_reference_argmin_is_a_minimum():
    c = dict(TABLE2, C_w=0.5, C_a=0.5, C_kv=0.5)
    d = numerical_argmin(c, 1e9, 4.0)
    y0 = data_dependent(c, 1e9, d, 4.0)
    assert data_dependent(c, 1e9, d * 1.01, 4.0) > y0 < data_dependent(c, 1e9, d / 1.01, 4.0)
