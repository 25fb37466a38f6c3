"""Compute-optimal allocation of a fitted law at one budget (docs/science.md sections 3 and 8), used to
put bootstrap intervals on what the fit implies, not only on its coefficients.

- Chinchilla form (Hoffmann et al. 2022, eq. 4, C = 6 N D):
  N* = G (C/6)^a, D* = G^-1 (C/6)^b, G = (alpha A / (beta B))^(1/(alpha+beta)),
  a = beta/(alpha+beta), b = alpha/(alpha+beta).
- Precision forms (Kumar et al. 2024, sec. 4.3.1, C = (6/16) N D P with one P for all operands):
  P* maximizes f(P)/P, f = f_w f_a f_kv (independent of C); at P*, the same closed form with
  A' = A f(P*)^-alpha and N D = 16 C / (6 P*).

The closed form and P* are the law library's (:func:`precplan.laws.hoffmann_params`, which
``optimize`` solves with too, and :func:`precplan.laws.optimal_precision`).
"""

from __future__ import annotations

import numpy as np

from precplan.laws import Law, hoffmann_params, optimal_precision
from precplan.units import format_count

__all__ = ["compute_optimal", "outside_data"]


def compute_optimal(law: Law, budget: float) -> dict[str, float]:
    """N*, D* (and P* for precision laws) at ``budget`` FLOPs."""
    if not law.has_precision:  # C = 6 N D
        nd = budget / 6.0
        n_opt = float(hoffmann_params(law, 1.0, nd))
        return {"N_opt": n_opt, "D_opt": nd / n_opt}
    p = optimal_precision(law)  # C = (6/16) N D P at P*
    nd = 16.0 * budget / (6.0 * p)
    n_opt = float(hoffmann_params(law, law.precision_factor(p, p, p), nd))
    return {"N_opt": n_opt, "D_opt": nd / n_opt, "P_opt": p}


def outside_data(optimum: dict[str, float], params: np.ndarray, tokens: np.ndarray) -> list[str]:
    """A warning when the compute-optimal N* or D* lies outside the fitted runs' N or D, saying
    by how much and which budgets the runs span (C = 6 N D): the law extrapolates there."""
    params, tokens = np.asarray(params, dtype=float), np.asarray(tokens, dtype=float)
    parts = []
    for key, label, values, what in (("N_opt", "N*", params, ("model", "parameters")),
                                     ("D_opt", "D*", tokens, ("token count", "tokens"))):
        v, lo, hi = optimum[key], float(values.min()), float(values.max())
        if v > hi:
            parts.append(f"{label} = {format_count(v)} is {v / hi:.3g}x the largest fitted {what[0]} ({format_count(hi)} {what[1]})")
        elif v < lo:
            parts.append(f"{label} = {format_count(v)} is {lo / v:.3g}x below the smallest fitted {what[0]} ({format_count(lo)} {what[1]})")
    if not parts:
        return []
    flops = 6.0 * params * tokens
    return [
        f"the compute-optimal point at {optimum['budget']:.3g} FLOPs lies outside the fitted runs: {'; '.join(parts)}:"
        f" it extrapolates (the runs span 6ND = {flops.min():.3g}..{flops.max():.3g} FLOPs; an --at-budget there stays"
        " nearer the data)"
    ]
