"""The one closed form ``ptq-risk`` adds to the law: the critical data size D_crit (Kumar et al.
2024, eq. 13). Everything else comes from :class:`precplan.laws.Law` methods."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from precplan.laws import Law

__all__ = ["d_crit"]


def d_crit(
    law: Law,
    N: ArrayLike,
    post: ArrayLike,
    weights: ArrayLike = 16,
    activations: ArrayLike = 16,
    kv: ArrayLike = 16,
) -> np.ndarray:
    """Critical data size: the D that minimizes the post-PTQ loss at fixed N and P_post.

    Kumar et al. 2024, eq. 13 (printed eq. 12 drops a beta; -b is the offset reading of b),
    for a model trained in high precision:

        D_crit = (beta B N^gamma_N exp(P_post/gamma_post - b) / (gamma_D C_T))^(1/(gamma_D+beta))

    Generalized to low-precision training (eqs. 8-9): N becomes N_eff and the robustness
    product R = prod_x [1 - exp(-C_x (P_x - P_post))], which does not depend on D, divides
    C_T. Setting dL/dD = -beta B D^(-beta-1) + gamma_D K D^(gamma_D-1) = 0 with K as in the
    module docstring gives

        D_crit = (beta B N_eff^gamma_N exp(P_post/gamma_post - b) / (gamma_D C_T R))^(1/(gamma_D+beta))

    (a minimum: the loss tends to +inf at both ends). Vectorized; computed in logs. Returns
    +inf where R = 0 (the law predicts no degradation, so more data never hurts) and NaN
    where N_eff <= 0 (training precision outside the law's domain).
    """
    law.require_ptq()
    n_eff = np.asarray(law.effective_params(N, weights, activations, kv), dtype=float)
    post = np.asarray(post, dtype=float)
    r = np.asarray(law.robustness(post, weights, activations, kv), dtype=float)
    beta, gamma_d = law.c("beta"), law.c("gamma_D")
    with np.errstate(divide="ignore", invalid="ignore"):
        log_d = (
            np.log(beta * law.c("B"))
            + law.c("gamma_N") * np.log(np.where(n_eff > 0, n_eff, np.nan))
            + post / law.c("gamma_post")
            - law.c("b_post")
            - np.log(gamma_d * law.c("C_T"))
            - np.log(r)
        ) / (gamma_d + beta)
        out = np.exp(log_d)
    out = np.where(r <= 0, np.inf, out)
    return np.where(n_eff > 0, out, np.nan)
