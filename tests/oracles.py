"""Independent numerical oracles for the tests: brute-force minimizers and root finders written
without precplan's closed forms or searches, finite differences, synthetic runs from known laws,
and where the bundled real runs live.

Only the synthetic-run generators take a precplan ``Law`` (as the known truth to recover);
nothing else here calls precplan.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar

from reference import delta_ptq, n_eff

# ---------------------------------------------------------------- bundled real runs
DATA = Path(__file__).resolve().parents[1] / "data"
"""Real published runs bundled with the repository (data/README.md gives sources and licenses)."""

SARDANA_RUNS = DATA / "sardana2024_training_runs.csv"
"""Sardana et al. 2024's 47 training runs (Apache-2.0)."""
SARDANA_COLUMNS = {"params": "Parameters", "tokens": "Tokens", "loss": "Smoothed Loss"}
SARDANA_COLUMNS_ARG = 'params=Parameters,tokens=Tokens,loss="Smoothed Loss"'


# ---------------------------------------------------------------- brute-force search
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
    """Brute-force lowest loss of ``law`` at tied ``bits`` on the line
    (6/16) N D P + (2/16) N T P_serve = budget (Kumar et al. 2024's training cost counting bits, plus
    Sardana et al. 2024's 2 N T inference FLOPs). Returns (N, loss)."""
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


def ptq_data_dependent(c: dict, N, D, post, w=16.0, a=16.0, kv=16.0, robustness=1.0):
    """The D-dependent part of the post-PTQ loss (Kumar et al. 2024, eq. 10): B D^-beta + delta_PTQ(D)."""
    return c["B"] * np.power(D, -c["beta"]) + delta_ptq(c, n_eff(c, N, w, a, kv), D, post, robustness)


def ptq_argmin(c: dict, N, post, w=16.0, a=16.0, kv=16.0, robustness=1.0) -> float:
    """argmin over D of the post-PTQ loss: a dense log grid over 1e3..1e22 tokens, then a bounded
    Brent search on u = ln(D / D_grid) within one grid step (tolerance 1e-12 in u).
    ``robustness`` is eq. 9's product, a number (it does not depend on D)."""
    x = np.linspace(np.log(1e3), np.log(1e22), 4001)
    y = ptq_data_dependent(c, N, np.exp(x), post, w, a, kv, robustness)
    i = int(np.argmin(y))
    assert 0 < i < len(x) - 1, "minimum at the edge of the search grid"
    h = x[1] - x[0]
    res = minimize_scalar(
        lambda u: ptq_data_dependent(c, N, np.exp(x[i] + u), post, w, a, kv, robustness),
        bounds=(-h, h), method="bounded", options={"xatol": 1e-12},
    )
    return float(np.exp(x[i] + res.x))


def central_difference(f, x, h: float = 1e-6) -> np.ndarray:
    """(f(x + h) - f(x - h)) / 2h, elementwise, for an elementwise function f of an array x."""
    x = np.asarray(x, dtype=float)
    return (np.asarray(f(x + h)) - np.asarray(f(x - h))) / (2 * h)


def gradient_by_differences(f, x, h: float = 1e-6) -> np.ndarray:
    """The gradient of a scalar function f at the vector x by central differences, one coordinate
    at a time."""
    x = np.asarray(x, dtype=float)
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


# ---------------------------------------------------------------- synthetic runs
SIZES = [30e6, 60e6, 110e6, 220e6, 440e6]
TOKENS = [1.5e9, 3e9, 6e9, 13e9, 26e9]
"""Kumar et al. 2024's grid of runs (N 30M..220M, D 1.5B..26B), plus 440M."""


def chinchilla_records(law, noise: float = 0.0, seed: int = 0, sizes=SIZES, tokens=TOKENS) -> list[dict]:
    """16-bit runs on a grid of N x D with multiplicative log-normal noise (its own seeded generator)."""
    rng = np.random.default_rng(seed)
    out = []
    for n, d in itertools.product(sizes, tokens):
        loss = float(law.loss(n, d)) * float(np.exp(rng.normal(0.0, noise))) if noise else float(law.loss(n, d))
        out.append({"params": n, "tokens": d, "loss": loss})
    return out


def precision_records(law, weight_bits=(3, 4, 5, 6, 8, 16), post_bits=(), sizes=SIZES, tokens=TOKENS) -> list[dict]:
    """Runs trained with quantized weights (activations and KV at 16 bits), noise-free; with
    ``post_bits``, one more row per post-training precision below the training precision."""
    out = []
    for n, d, w in itertools.product(sizes, tokens, weight_bits):
        loss = float(law.loss(n, d, w, 16, 16))
        out.append({"params": n, "tokens": d, "weight_bits": w, "loss": loss})
        for p in post_bits:
            if p < w:
                out.append({"params": n, "tokens": d, "weight_bits": w, "loss": loss, "post_bits": p,
                            "post_loss": float(law.loss(n, d, w, 16, 16, post=p))})
    return out


# ---- shared by the hostile-input tests: a valid store line, and a folder's exact state
STORE_LINE = {"run_id": "r{i}", "params": 1e6, "tokens": 1e7, "loss": 3.5, "weight_bits": 16, "activation_bits": 16,
              "kv_bits": 16, "ptq": {"4": 3.7}, "preset": "smoke", "data": "zipf", "device": "cpu"}


def snapshot(d: Path) -> dict[str, tuple]:
    """Every entry under ``d``: kind, size, modification time and inode of files (a replaced file
    gets a new inode, a rewritten one a new modification time) and the mode of the rest."""
    out: dict[str, tuple] = {}
    for root, dirs, files in os.walk(d):
        for name in dirs + files:
            p = Path(root) / name
            st = p.lstat()
            rel = str(p.relative_to(d))
            if p.is_file() and not p.is_symlink():
                out[rel] = ("file", st.st_size, st.st_mtime_ns, st.st_ino, st.st_mode)
            else:
                out[rel] = ("other", st.st_mode)
    return out


def assert_refused(result, argv: list[str], before: dict, after: dict) -> None:
    """A hostile invocation's contract: exit 2, no exception but SystemExit, exactly one
    ``error: ...`` line on stderr, no traceback, no numpy repr, and the folder unchanged."""
    detail = f"argv={argv!r}\nexit={result.exit_code}\nstderr={result.stderr[-800:]!r}\nstdout={result.stdout[-500:]!r}"
    lines = result.stderr.splitlines()
    assert result.exit_code == 2, detail
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), detail
    assert len(lines) == 1 and lines[0].startswith("error: "), detail
    assert "Traceback" not in result.stdout + result.stderr, detail
    assert "np.str_" not in result.stderr and "np.float64" not in result.stderr, detail
    assert before == after, f"files changed: {sorted(set(before.items()) ^ set(after.items()))}\n{detail}"
