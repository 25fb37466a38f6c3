"""The model of log loss fitted at each stage, with analytic vector-Jacobian products.

All three evaluate a batch of parameter vectors ``theta (k, p)`` over ``n`` runs at once. Their
context (a fixed base law, effective parameter counts) may differ per bootstrap resample: it is
held with a leading axis of size 1 (shared) or R (one per resample) and picked by ``rows``.
``tests/test_fit_models.py`` checks every gradient against finite differences and every
prediction against :meth:`precplan.laws._law.Law.loss`.
"""

from __future__ import annotations

import copy
from typing import Callable

import numpy as np

from precplan.precision import REFERENCE_BITS

__all__ = ["VJP", "ChinchillaModel", "PrecisionModel", "PtqModel", "pick", "readable"]

VJP = Callable[[np.ndarray], np.ndarray]


def readable(name: str) -> str:
    """A model parameter as people read it: ``e`` -> ``log E``, ``log_C_T`` -> ``log C_T``."""
    if name in ("a", "b", "e"):
        return f"log {name.upper()}"
    if name.startswith("u_"):
        return f"the offset n_{name[2:]} (via {name})"
    return name.replace("log_", "log ", 1)


def _dot(m: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(k, n) x (n,) without BLAS: tiny products do not pay for BLAS threads, which on a busy
    machine spin and cost several times the work (einsum without optimize never calls BLAS)."""
    return np.einsum("kn,n->k", m, v)


def _row_copy(model, idx, names: tuple[str, ...], dicts: tuple[str, ...] = (), last_axis: tuple[str, ...] = ()):
    """A shallow copy of ``model`` holding only runs ``idx`` (a slice or index array) of its
    per-run arrays: ``names`` (n,), ``dicts`` (name -> (n,)), ``last_axis`` ((1 or R, n))."""
    out = copy.copy(model)
    for name in names:
        value = getattr(model, name)
        setattr(out, name, value[idx] if np.ndim(value) else value)
    for name in dicts:
        setattr(out, name, {k: v[idx] for k, v in getattr(model, name).items()})
    for name in last_axis:
        setattr(out, name, getattr(model, name)[:, idx])
    return out


def pick(context: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Per-member context: ``context[rows]``, or the shared row broadcast."""
    return context[rows] if context.shape[0] > 1 else np.repeat(context[:1], rows.shape[0], axis=0)


class ChinchillaModel:
    """Hoffmann et al. 2022, App. D.2: log L = LSE(a - alpha log N, b - beta log D, e), with
    A = e^a, B = e^b, E = e^e. ``tie``: alpha = beta (Kumar et al. 2024 tied them)."""

    def __init__(self, params: np.ndarray, tokens: np.ndarray, tie: bool = False) -> None:
        self.logN, self.logD, self.tie = np.log(params), np.log(tokens), tie
        self.names = ("a", "b", "e", "alpha") if tie else ("a", "b", "e", "alpha", "beta")
        self.lower = np.array([-20.0, -20.0, -20.0, 0.0, 0.0])[: len(self.names)]
        self.upper = np.array([80.0, 80.0, 10.0, 5.0, 5.0])[: len(self.names)]

    def evaluate(self, theta: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, VJP]:
        a, b, e, alpha = (theta[:, i : i + 1] for i in range(4))
        beta = alpha if self.tie else theta[:, 4:5]
        u1 = a - alpha * self.logN
        u2 = b - beta * self.logD
        m = np.maximum(np.maximum(u1, u2), e)
        x1, x2, x3 = np.exp(u1 - m), np.exp(u2 - m), np.exp(e - m)
        s = x1 + x2 + x3
        pred = m + np.log(s)
        inv_s = 1.0 / s  # d LSE / d u_i = x_i / s (softmax weights, summing to 1)

        def vjp(v: np.ndarray) -> np.ndarray:
            vs = v * inv_s
            v1, v2 = vs * x1, vs * x2
            s1, s2 = v1.sum(1), v2.sum(1)
            cols = [s1, s2, v.sum(1) - s1 - s2, -_dot(v1, self.logN)]
            if self.tie:
                cols[3] = cols[3] - _dot(v2, self.logD)
            else:
                cols.append(-_dot(v2, self.logD))
            return np.stack(cols, axis=1)

        return pred, vjp

    def rows(self, idx) -> "ChinchillaModel":
        """The model over runs ``idx`` only (a slice or index array)."""
        return _row_copy(self, idx, ("logN", "logD"))

    def features(self) -> np.ndarray:
        """(n, 2) log N, log D of each run: what a representative subsample is stratified over."""
        return np.stack([self.logN, self.logD], axis=1)

    def coefficients(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        theta = np.atleast_2d(theta)
        out = {"E": np.exp(theta[:, 2]), "A": np.exp(theta[:, 0]), "B": np.exp(theta[:, 1]), "alpha": theta[:, 3]}
        out["beta"] = theta[:, 3] if self.tie else theta[:, 4]
        return out

    def theta_from(self, c: dict[str, float]) -> np.ndarray:
        t = [np.log(c["A"]), np.log(c["B"]), np.log(c["E"]), c["alpha"]] + ([] if self.tie else [c["beta"]])
        return np.array(t, dtype=float)


class PrecisionModel:
    """Kumar et al. 2024, eqs. 3-5 and App. K: log of E + A N_eff^-alpha + B D^-beta with
    N_eff = N prod_x f_x(P_x) / f_x(16), f_x(P) = 1 - exp(-P/gamma_x + n_x), base terms fixed.

    Each fitted operand x is parametrized by lg = log gamma_x and u, with
    n_x = pmin_x / gamma_x - e^u, so that -P/gamma + n = -(P - pmin)/gamma - e^u < 0 at every
    observed P >= pmin: f_x stays in (0, 1) on the data (a run that trained cannot have N_eff <= 0).
    ``fixed_log_factor``: log N_eff/N contributed by operands taken from another law.
    """

    def __init__(self, params: np.ndarray, tokens: np.ndarray, bits: dict[str, np.ndarray],
                 base: dict[str, np.ndarray], fixed_log_factor: np.ndarray) -> None:
        self.ops = list(bits)
        self.logN, self.logD = np.log(params), np.log(tokens)
        self.bits = {op: np.asarray(b, dtype=float) for op, b in bits.items()}
        self.pmin = {op: float(b.min()) for op, b in self.bits.items()}
        self.base = {k: np.atleast_1d(np.asarray(v, dtype=float))[:, None] for k, v in base.items()}
        self.fixed = np.asarray(fixed_log_factor, dtype=float)
        self.names = tuple(n for op in self.ops for n in (f"log_gamma_{op}", f"u_{op}"))
        self.lower = np.array([np.log(0.05), -30.0] * len(self.ops))
        self.upper = np.array([np.log(100.0), 5.0] * len(self.ops))

    def evaluate(self, theta: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, VJP]:
        log_neff = self.logN + self.fixed
        parts = []
        for j, op in enumerate(self.ops):
            inv_g, eu = np.exp(-theta[:, 2 * j : 2 * j + 1]), np.exp(theta[:, 2 * j + 1 : 2 * j + 2])
            dp, dr = self.bits[op] - self.pmin[op], REFERENCE_BITS - self.pmin[op]
            z, zr = -dp * inv_g - eu, -dr * inv_g - eu  # -P/gamma + n at the run's P and at 16 bits
            log_neff = log_neff + np.log(-np.expm1(z)) - np.log(-np.expm1(zr))
            kz, kr = np.exp(z) / np.expm1(z), np.exp(zr) / np.expm1(zr)  # d log(1 - e^z) / dz
            parts.append((kz * dp * inv_g - kr * dr * inv_g, -eu * (kz - kr)))
        E, A, B, alpha, beta = (pick(self.base[k], rows) for k in ("E", "A", "B", "alpha", "beta"))
        pterm = A * np.exp(-alpha * log_neff)
        total = E + pterm + B * np.exp(-beta * self.logD)
        pred = np.log(total)
        q = -alpha * pterm / total  # d pred / d log N_eff

        def vjp(v: np.ndarray) -> np.ndarray:
            vq = v * q
            return np.stack([(vq * d).sum(1) for pair in parts for d in pair], axis=1)

        return pred, vjp

    def rows(self, idx) -> "PrecisionModel":
        """The model over runs ``idx`` only; the lowest precision of each operand stays that of all runs."""
        return _row_copy(self, idx, ("logN", "logD", "fixed"), dicts=("bits",))

    def features(self) -> np.ndarray:
        return np.stack([self.logN, self.logD] + [self.bits[op] for op in self.ops], axis=1)

    def coefficients(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        theta = np.atleast_2d(theta)
        out = {}
        for j, op in enumerate(self.ops):
            gamma = np.exp(theta[:, 2 * j])
            out[f"gamma_{op}"] = gamma
            out[f"n_{op}"] = self.pmin[op] / gamma - np.exp(theta[:, 2 * j + 1])
        return out

    def theta_from(self, c: dict[str, float]) -> np.ndarray:
        out = []
        for op in self.ops:
            g, n = c[f"gamma_{op}"], c[f"n_{op}"]
            gap = self.pmin[op] / g - n
            out += [np.log(g), np.log(gap) if gap > 0 else np.log(0.1)]
        return np.array(out)


class PtqModel:
    """Kumar et al. 2024, eqs. 2 and 8-9: the post-PTQ loss of a run with measured loss L0,
    log(L0 + delta), delta = C_T e^(-P_post/gamma_post + b) D^gamma_D N_eff^-gamma_N R, where
    R = prod_x [1 - exp(-C_x (P_x - P_post))] / [1 - exp(-C_x (P_ref - P_post))], clipped to
    [0, 1] (0 where P_x <= P_post, 1 from the reference precision up), x in w, a, kv.

    C_T and b enter only as the product C_T e^b: b is held fixed and C_T fitted (log C_T).
    ``log_neff``: (R, n) or (1, n). ``gaps``: P_x - P_post of each operand.
    """

    OPS = ("w", "a", "kv")

    def __init__(self, tokens: np.ndarray, log_neff: np.ndarray, post_bits: np.ndarray, loss: np.ndarray,
                 b_post: float, gaps: dict[str, np.ndarray], reference_bits: float = 16.0) -> None:
        self.logD, self.post, self.logL0 = np.log(tokens), np.asarray(post_bits, float), np.log(loss)
        self.log_neff = np.atleast_2d(log_neff)
        self.b = float(b_post)
        self.gaps = {op: np.asarray(gaps[op], dtype=float) for op in self.OPS}
        # Each factor is taken relative to a model trained at reference_bits (as Law.robustness):
        # 1 at or above it, so high-precision runs follow eq. 2 whatever C_x is.
        self.ref_gap = float(reference_bits) - self.post
        self.names = ("log_C_T", "gamma_D", "gamma_N", "log_gamma_post") + tuple(f"log_C_{op}" for op in self.OPS)
        self.lower = np.array([-40.0, 0.0, 0.0, np.log(0.05)] + [np.log(1e-3)] * 3)
        self.upper = np.array([40.0, 3.0, 3.0, np.log(50.0)] + [np.log(100.0)] * 3)

    def evaluate(self, theta: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, VJP]:
        log_neff = pick(self.log_neff, rows)
        inv_gp = np.exp(-theta[:, 3:4])
        log_delta = theta[:, 0:1] + self.b - self.post * inv_gp + theta[:, 1:2] * self.logD - theta[:, 2:3] * log_neff
        dC = []
        norm = self.ref_gap > 0
        for j, op in enumerate(self.OPS):
            gap = self.gaps[op]
            live = gap > 0
            partial = live & ~(norm & (gap >= self.ref_gap))  # 0 < factor < 1: depends on C_x
            C = np.exp(theta[:, 4 + j : 5 + j])
            x, xr = C * np.where(live, gap, 1.0), C * np.where(norm, self.ref_gap, 1.0)
            # log of (1 - e^-x) / (1 - e^-x_ref), and its derivative by log C_x
            term = np.log(-np.expm1(-x)) - np.where(norm, np.log(-np.expm1(-xr)), 0.0)
            log_delta = log_delta + np.where(partial, term, np.where(live, 0.0, -np.inf))
            dterm = x / np.expm1(x) - np.where(norm, xr / np.expm1(xr), 0.0)
            dC.append(np.where(partial, dterm, 0.0))
        pred = np.logaddexp(self.logL0, log_delta)
        s = np.exp(log_delta - pred)  # d pred / d log delta

        def vjp(v: np.ndarray) -> np.ndarray:
            vs = v * s
            cols = [vs.sum(1), _dot(vs, self.logD), -(vs * log_neff).sum(1), (vs * self.post * inv_gp).sum(1)]
            cols += [(vs * d).sum(1) for d in dC]
            return np.stack(cols, axis=1)

        return pred, vjp

    def rows(self, idx) -> "PtqModel":
        """The model over measurements ``idx`` only."""
        return _row_copy(self, idx, ("logD", "post", "logL0", "ref_gap"), dicts=("gaps",), last_axis=("log_neff",))

    def features(self) -> np.ndarray:
        return np.stack([self.log_neff[0], self.logD, self.post], axis=1)

    def coefficients(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        theta = np.atleast_2d(theta)
        out = {"C_T": np.exp(theta[:, 0]), "gamma_D": theta[:, 1], "gamma_N": theta[:, 2],
               "gamma_post": np.exp(theta[:, 3])}
        for j, op in enumerate(self.OPS):
            out[f"C_{op}"] = np.exp(theta[:, 4 + j])
        return out

    def theta_from(self, c: dict[str, float]) -> np.ndarray:
        t = [np.log(c["C_T"]), c["gamma_D"], c["gamma_N"], np.log(c["gamma_post"])]
        return np.array(t + [np.log(c[f"C_{op}"]) for op in self.OPS])
