"""The papers' constants, published figures and formulas, typed in once for the tests.

Nothing here imports precplan: every number is typed in as its source prints it (each names the
paper and table, figure or equation, or the datasheet; the one unpublished placeholder says so)
and every formula is written out from the paper, so a test that compares precplan against this
module checks the bundled law files as well as the math. Brute-force numerical oracles live in
``tests/oracles.py``.
"""

from __future__ import annotations

import math

import numpy as np

REFERENCE_BITS = 16.0
"""Kumar et al. 2024 fit the base law on 16-bit (bf16) runs first, then the precision terms on
quantized runs: a 16-bit model has N_eff = N and its PTQ loss is eq. 2."""

OPERANDS = ("w", "a", "kv")

# ---------------------------------------------------------------- constants
# Kumar et al. 2024, "Scaling Laws for Precision", Appendix K, Table 2 (fit on OLMo-style models,
# Dolma). gamma_a is "gamma_i" in the table; b_post is the table's "b".
KUMAR = dict(
    E=2.7648, A=4.299e3, B=1.806e4, alpha=0.4965, beta=0.4965,
    gamma_w=2.6745, n_w=0.3037, gamma_a=2.2102, n_a=1.4072, gamma_kv=0.9578, n_kv=2.4185,
    C_T=0.0598, gamma_D=0.5068, gamma_N=0.3439, gamma_post=0.5907, b_post=1.1277,
)

# Kumar et al. 2024, Appendix N: floating-point weights (140 runs), gamma_w and the exponent bias.
KUMAR_FP_WEIGHTS = dict(gamma_w=2.8111, n_w=0.1240)

# Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models", Approach 3, as printed
# (rounded) in the paper.
HOFFMANN_PRINTED = dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)

# Hoffmann et al. 2022, Approach 3 unrounded: the paper's TeX source (log E, log A, log B and the
# exponents), as quoted by Epoch's replication notebook.
HOFFMANN_LOG = dict(E=0.5267228, A=6.0073404, B=6.0179186)
HOFFMANN = dict(
    E=math.exp(HOFFMANN_LOG["E"]), A=math.exp(HOFFMANN_LOG["A"]), B=math.exp(HOFFMANN_LOG["B"]),
    alpha=0.33917084, beta=0.2849083,
)

# Besiroglu et al. 2024, "Chinchilla Scaling: A replication attempt", Table 1 (estimates and
# standard errors).
BESIROGLU = dict(E=1.8172, A=482.01, B=2085.43, alpha=0.3478, beta=0.3658)
BESIROGLU_STDERR = dict(E=0.0257, A=124.52, B=1293.28, alpha=0.0154, beta=0.0206)

# Sardana et al. 2024, "Beyond Chinchilla-Optimal", the constants in the authors' public code.
SARDANA = dict(E=1.69, A=406.4, B=410.7, alpha=0.336, beta=0.283)

# Not published: the robustness constants C_w = C_a = C_kv of eq. 9 are never reported by Kumar
# et al. 2024. This is the placeholder laws/kumar2024.yaml ships (source "assumed"), typed in here so
# the tests notice if the file changes.
ASSUMED_C = 0.5

# Peak dense FLOP/s from NVIDIA's datasheets (A100 SXM, H100 SXM), as Sardana et al. 2024 use them.
PEAK_FLOPS = dict(a100_bf16=3.12e14, a100_int8=6.24e14, h100_bf16=9.89e14, h100_fp8=1.978e15)

# ---------------------------------------------------------------- published figures
LOSS_220M_16B = 3.2298
"""Kumar et al. 2024, eq. 10 with Table 2's constants at N = 220M, D = 16B, 16 bits (raw counts,
not millions), worked out by hand to 4 decimals."""

NEFF_RATIO_16_TO_4 = 5.2
"""Kumar et al. 2024, eq. 5 with Table 2's constants: N_eff(16 bits) / N_eff(4 bits), all operands
at the same bits, is 5.2 (the paper: at 4 bits and below a model must be "more than 4x" larger)."""

P_STAR = 7.00
"""Kumar et al. 2024, compute-optimal training precision: argmax_P f(P)/P with Table 2's constants
is 7.00 bits (the paper: "around 7-8 bits")."""

MEMORY_MATCHED_RUNS = {4: 1.76e9, 6: 1.1733e9, 8: 880e6, 16: 440e6, 32: 220e6}
"""Kumar et al. 2024, memory-matched runs at 16B tokens: FP4 1.76B, FP6 1.17B, FP8 880M,
BF16 440M, FP32 220M parameters (weights' bits N P fixed at 880M x 8)."""

SARDANA_FIG1 = dict(chinchilla_params=13e9, inference_tokens=2e12, params=7e9, saved_flops=1.7e22, saved_fraction=0.17)
"""Sardana et al. 2024, figure 1: a Chinchilla-optimal 13B model that will serve 2T tokens should
instead be ~7B trained longer, saving 1.7e22 FLOPs (17%)."""

HOFFMANN_DELTA = 1e-3
"""Hoffmann et al. 2022, Appendix D.2: the Huber loss's delta."""

HOFFMANN_GRID_STARTS = 4500
"""Hoffmann et al. 2022, Appendix D.2: L-BFGS from every point of alpha, beta in {0, 0.5, ..., 2},
e in {-1, -0.5, ..., 1}, a, b in {0, 5, ..., 25}: 5 * 5 * 5 * 6 * 6 = 4,500 starts."""

# ---------------------------------------------------------------- formulas
def chinchilla_loss(c: dict, N, D):
    """Hoffmann et al. 2022, eq. 2: L(N, D) = E + A / N^alpha + B / D^beta."""
    return c["E"] + c["A"] * np.power(N, -c["alpha"]) + c["B"] * np.power(D, -c["beta"])


def hoffmann_split(c: dict, flops: float) -> tuple[float, float]:
    """Hoffmann et al. 2022, eq. 4: the compute-optimal N and D for C = 6 N D,
    N_opt = G (C/6)^a, D_opt = G^-1 (C/6)^b, G = (alpha A / (beta B))^(1/(alpha+beta)),
    a = beta/(alpha+beta), b = alpha/(alpha+beta)."""
    al, be = c["alpha"], c["beta"]
    G = (al * c["A"] / (be * c["B"])) ** (1 / (al + be))
    return G * (flops / 6) ** (be / (al + be)), (flops / 6) ** (al / (al + be)) / G


def huber(r, delta: float):
    """Hoffmann et al. 2022, Appendix D.2: Huber_delta(r) = r^2 / 2 for |r| <= delta, else
    delta (|r| - delta / 2)."""
    r = np.asarray(r, dtype=float)
    return np.where(np.abs(r) <= delta, 0.5 * r * r, delta * (np.abs(r) - 0.5 * delta))


def kumar_factor(bits, operand: str, c: dict = KUMAR):
    """Kumar et al. 2024, eq. 3 with Appendix K's offsets: f_x(P) = 1 - exp(-P / gamma_x + n_x)."""
    return 1.0 - np.exp(-np.asarray(bits, dtype=float) / c[f"gamma_{operand}"] + c[f"n_{operand}"])


def relative_factor(bits, operand: str, c: dict = KUMAR):
    """f_x(P) / f_x(16): the effective-parameter factor relative to the 16-bit runs the base law
    was fit on (Kumar et al. 2024 fit in stages: the base law first, then the precision terms)."""
    return kumar_factor(bits, operand, c) / kumar_factor(REFERENCE_BITS, operand, c)


def tied_factor(bits, c: dict = KUMAR):
    """N_eff / N with every operand at ``bits`` (Kumar et al. 2024, eq. 5), relative to 16 bits."""
    return np.prod([relative_factor(bits, op, c) for op in OPERANDS], axis=0)


def n_eff(c: dict, N, w=16.0, a=16.0, kv=16.0):
    """Kumar et al. 2024, eq. 5: N_eff = N f_w(P_w) f_a(P_a) f_kv(P_kv), relative to 16 bits."""
    return N * relative_factor(w, "w", c) * relative_factor(a, "a", c) * relative_factor(kv, "kv", c)


def kumar_loss(c: dict, N, D, w=16.0, a=16.0, kv=16.0):
    """Kumar et al. 2024, eq. 10 before PTQ: E + A N_eff^-alpha + B D^-beta."""
    return c["E"] + c["A"] * n_eff(c, N, w, a, kv) ** -c["alpha"] + c["B"] * np.power(D, -c["beta"])


def delta_ptq(c: dict, N_eff, D, post, robustness=1.0):
    """Kumar et al. 2024, eq. 2 (and eq. 8, with eq. 9's robustness product as a number):
    C_T exp(-P_post / gamma_post + b) D^gamma_D / N_eff^gamma_N * robustness.
    ``b`` read as the exponential's offset, like the n_x. A 16-bit model has robustness 1 (eq. 2)."""
    return (c["C_T"] * np.exp(-np.asarray(post, dtype=float) / c["gamma_post"] + c["b_post"])
            * np.power(D, c["gamma_D"]) / np.power(N_eff, c["gamma_N"]) * robustness)


def loss_after_ptq(c: dict, N, D, post, w=16.0, a=16.0, kv=16.0, robustness=1.0):
    """Kumar et al. 2024, eq. 10: the loss after quantizing the weights to ``post`` bits."""
    return kumar_loss(c, N, D, w, a, kv) + delta_ptq(c, n_eff(c, N, w, a, kv), D, post, robustness)


def d_crit_eq13(c: dict, N, post):
    """Kumar et al. 2024, eq. 13 (printed eq. 12 drops a beta), -b from the offset reading, for a
    16-bit model: D_crit = (beta B N^gamma_N exp(P_post/gamma_post - b) / (gamma_D C_T))^(1/(gamma_D+beta))."""
    return (
        c["beta"] * c["B"] * np.power(N, c["gamma_N"]) * np.exp(post / c["gamma_post"] - c["b_post"])
        / (c["gamma_D"] * c["C_T"])
    ) ** (1.0 / (c["gamma_D"] + c["beta"]))


# Kumar et al. 2024, eq. 9, one operand's factor 1 - exp(-C_x (P_x - P_post)), relative to the 16-bit
# model (which gets eq. 2), with the bundled C_x = ASSUMED_C = 0.5. Worked by hand (16 digits):
#   trained at 8 bits, served at 4:  (1 - e^(-0.5*4)) / (1 - e^(-0.5*12)) = (1 - e^-2) / (1 - e^-6)
#     = (1 - 0.1353352832366127) / (1 - 0.002478752176666359)
#     = 0.8646647167633873 / 0.9975212478233336 = 0.8668133321973349
#     (laws/kumar2024.yaml's note: "4 bits of headroom keep 86% of the high-precision degradation")
#   trained at 8 bits, served at 5:  (1 - e^(-0.5*3)) / (1 - e^(-0.5*11)) = (1 - e^-1.5) / (1 - e^-5.5)
#     = (1 - 0.2231301601484298) / (1 - 0.004086771438464067)
#     = 0.7768698398515702 / 0.9959132285615360 = 0.7800577576157466
#   trained at 6 bits, served at 5:  (1 - e^(-0.5*1)) / (1 - e^(-0.5*11)) = (1 - e^-0.5) / (1 - e^-5.5)
#     = (1 - 0.6065306597126334) / (1 - 0.004086771438464067)
#     = 0.3934693402873666 / 0.9959132285615360 = 0.3950839581232199
ROBUSTNESS_8_TO_4 = 0.8668133321973349
ROBUSTNESS_8_TO_5 = 0.7800577576157466
ROBUSTNESS_6_TO_5 = 0.3950839581232199
