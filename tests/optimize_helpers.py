"""Brute-force references for the optimize tests: dense grids that zoom in, written without the
implementation's closed forms or golden-section search."""

from __future__ import annotations

import numpy as np


def zoom_min(f, lo: float, hi: float, rounds: int = 7, n: int = 2001) -> tuple[float, float]:
    """Minimize a scalar function of one variable on [lo, hi]: a dense grid, then a dense grid
    on the neighbourhood of the best point, repeated. f takes and returns numpy arrays."""
    for _ in range(rounds):
        x = np.linspace(lo, hi, n)
        y = np.asarray(f(x), dtype=float)
        y = np.where(np.isnan(y), np.inf, y)
        i = int(np.argmin(y))
        best_x, best_y = float(x[i]), float(y[i])
        lo, hi = float(x[max(i - 2, 0)]), float(x[min(i + 2, n - 1)])
    return best_x, best_y


def bisect(g, lo: np.ndarray, hi: np.ndarray, iters: int = 200) -> np.ndarray:
    """Root of a function decreasing on [lo, hi], elementwise (plain bisection)."""
    lo, hi = np.array(lo, dtype=float), np.array(hi, dtype=float)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        positive = g(mid) > 0
        lo = np.where(positive, mid, lo)
        hi = np.where(positive, hi, mid)
    return 0.5 * (lo + hi)


def budget_line_min(law, budget: float, bits: float, post=None, inference_tokens: float = 0.0, cap: float = np.inf):
    """Brute-force lowest loss at tied ``bits`` on the line (6/16) N D P + (2/16) N T P_serve = budget."""
    serve = bits if post is None else post
    c_tr, c_inf = 6.0 / 16.0 * bits, 2.0 / 16.0 * serve
    top = min(cap, budget / (c_inf * inference_tokens) if inference_tokens else np.inf)

    def loss(u):
        N = np.exp(u)
        D = (budget - c_inf * N * inference_tokens) / (c_tr * N)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = law.loss(N, np.where(D > 0, D, np.nan), bits, bits, bits, post=post)
        return np.where((D > 0) & (N <= top), out, np.inf)

    hi = min(np.log(top), np.log(1e16)) if np.isfinite(top) else np.log(1e16)
    u, value = zoom_min(loss, np.log(1e3), hi)
    return float(np.exp(u)), value
