"""Start grids for the multi-start search.

``full`` is Hoffmann et al. 2022's grid (App. D.2; docs/science.md section 10): alpha, beta in
{0, 0.5, ..., 2}, e in {-1, -0.5, ..., 1}, a, b in {0, 5, ..., 25}: 4,500 starts (900 with
tied exponents). ``coarse`` (432 starts) is for quick fits and tests. The precision and PTQ
stages have small grids of their own (their parameters have natural scales).
"""

from __future__ import annotations

import itertools

import numpy as np

from precplan.errors import PrecplanError

__all__ = ["GRIDS", "base_axes", "base_grid", "check_grid", "edge_report", "stage_grid"]

GRIDS = ("full", "coarse")

_BASE_AXES = {
    # a, b, e, alpha, beta (the ChinchillaModel's parameter order)
    "full": (np.arange(0, 26, 5.0), np.arange(0, 26, 5.0), np.arange(-1, 1.01, 0.5),
             np.arange(0, 2.01, 0.5), np.arange(0, 2.01, 0.5)),
    "coarse": (np.array([0.0, 5, 10, 20]), np.array([0.0, 5, 10, 20]), np.array([-1.0, 0, 1]),
               np.array([0.25, 0.5, 1.0]), np.array([0.25, 0.5, 1.0])),
}
_PRECISION_AXES = {  # per fitted operand x: log gamma_x and u (n_x = pmin/gamma_x - e^u; PrecisionModel)
    "full": {"log_gamma": np.log([0.5, 1.0, 2.0, 4.0]), "u": np.array([-2.0, -0.5, 1.0])},
    "coarse": {"log_gamma": np.log([1.0, 3.0]), "u": np.array([-1.0, 0.5])},
}
_PTQ_AXES = {  # PtqModel parameters
    "full": {"log_C_T": np.array([-6.0, -3.0, 0.0]), "gamma_D": np.array([0.2, 0.5, 1.0]),
             "gamma_N": np.array([0.2, 0.5, 1.0]), "log_gamma_post": np.log([0.5, 1.0, 2.0]),
             "log_C": np.log([0.2, 1.0])},
    "coarse": {"log_C_T": np.array([-4.0, -1.0]), "gamma_D": np.array([0.3, 0.8]), "gamma_N": np.array([0.3, 0.8]),
               "log_gamma_post": np.log([0.6, 1.5]), "log_C": np.log([0.3, 1.0])},
}


def check_grid(grid: str) -> str:
    if grid not in GRIDS:
        raise PrecplanError(f"`grid` must be one of {', '.join(GRIDS)}; got {grid!r}")
    return grid


def _product(axes: list[np.ndarray]) -> np.ndarray:
    return np.array(list(itertools.product(*axes)), dtype=float)


def base_axes(grid: str, tie: bool) -> list[np.ndarray]:
    axes = list(_BASE_AXES[check_grid(grid)])
    return axes[:4] if tie else axes


def base_grid(grid: str, tie: bool = False) -> np.ndarray:
    """Starts for (a, b, e, alpha[, beta])."""
    return _product(base_axes(grid, tie))


def stage_grid(stage: str, grid: str, names: tuple[str, ...], free: np.ndarray) -> np.ndarray:
    """Starts over the free parameters of the precision or PTQ model (a product of small axes)."""
    table = (_PRECISION_AXES if stage == "precision" else _PTQ_AXES)[check_grid(grid)]
    axes = []
    for name, is_free in zip(names, free):
        if is_free:
            key = name.rsplit("_", 1)[0] if stage == "precision" else ("log_C" if name.startswith("log_C_") and name != "log_C_T" else name)
            axes.append(table[key])
    return _product(axes)


def edge_report(names: tuple[str, ...], theta: np.ndarray, grid: str, tie: bool) -> list[str]:
    """Coefficients of the best base fit lying beyond the start grid by more than half a step:
    the grid may not have bracketed the optimum (docs/science.md section 10)."""
    out = []
    labels = {"a": "log A", "b": "log B", "e": "log E", "alpha": "alpha", "beta": "beta"}
    for name, value, axis in zip(names, theta, base_axes(grid, tie)):
        step = float(np.min(np.diff(axis))) / 2
        if value < axis[0] - step or value > axis[-1] + step:
            out.append(f"{labels[name]} = {value:.4g} lies beyond the start grid [{axis[0]:g}, {axis[-1]:g}]")
    return out
