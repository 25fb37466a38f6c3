"""Format-aware laws and format definitions, typed in once for the tests (tests/reference.py style).

Nothing here imports precplan: every constant is typed in as its source prints it, and every
formula is written out from the paper, so tests check the bundled law files and the math.
"""

from __future__ import annotations

import math

# ---------------------------------------------------------------- Sun et al. 2025 (arXiv:2501.02423)
# Table 2 (App. B.1): fitted constants of eq. 26.
SUN = dict(n=69.2343, alpha=0.2368, d=68973.0621, beta=0.5162, eps=1.9061,
           gamma=11334.5197, delta=3.1926, nu=2.9543)
# Sec. 3.6: channel-wise scaling behaves as a constant equivalent block, log2 B_channel ~ 13.1567.
SUN_LOG2_B_CHANNEL = 13.1567
# Sec. 4.3: critical data sizes of a 1B model at block size 128, in tokens (printed in T).
SUN_DCRIT_1B_B128 = {"bf16 (E8M7)": ((8, 7), 1730e12), "fp8-e4m3": ((4, 3), 27e12), "fp4-e2m1": ((2, 1), 0.4e12)}
# Sec. 4.2 / fig. 5: optimal float layouts of FP4, FP8, FP16 (E, M).
SUN_OPTIMAL_LAYOUTS = {4: (2, 1), 8: (4, 3), 16: (8, 7)}


def sun_penalty(N, D, E, M, log2_B, c=SUN):
    """Sun et al. 2025, eq. 17: (D^beta / N^alpha) log2 B / (gamma (E+0.5)^delta (M+0.5)^nu)."""
    return (D ** c["beta"] / N ** c["alpha"]) * log2_B / (c["gamma"] * (E + 0.5) ** c["delta"] * (M + 0.5) ** c["nu"])


def sun_loss(N, D, E, M, log2_B, c=SUN):
    """Sun et al. 2025, eq. 18/26."""
    return c["n"] / N ** c["alpha"] + c["d"] / D ** c["beta"] + c["eps"] + sun_penalty(N, D, E, M, log2_B, c)


# ---------------------------------------------------------------- Castro et al. 2025, Quartet v4
# Table 6 (App. A.3).
QUARTET = dict(A=1.52e5, alpha=0.589, B=5.25e5, beta=0.544, E=1.35, gamma=0.274)
# Table 3: Quartet (MXFP4, all GEMMs) on 30M-parameter Llama models; eff_N 0.65, eff_D 0.95.
QUARTET_EFF = (0.65, 0.95)
QUARTET_TABLE3_N = 30e6
QUARTET_TABLE3 = {25: 3.49, 50: 3.38, 100: 3.29, 200: 3.24, 400: 3.20}
# Table 2: forward-only QuEST eff_N 0.64; backward-only RTN eff_D 0.93.
QUARTET_FORWARD_ONLY_EFF_N = 0.64
QUARTET_BACKWARD_ONLY_EFF_D = 0.93


def quartet_loss(N, D, eff_n=1.0, eff_d=1.0, c=QUARTET):
    """Castro et al. 2025, eq. 1."""
    return c["E"] + (c["A"] / (N * eff_n) ** c["alpha"] + c["B"] / (D * eff_d) ** c["beta"]) ** c["gamma"]


# ---------------------------------------------------------------- Chen et al. 2025 (arXiv:2505.14302)
# Table 1.
CHEN_BASE = dict(E=1.9279, A=237.7042, alpha=0.3022, B=596.2490, beta=0.3022)
CHEN_QAT = {
    "w4a4": dict(k=0.1582, gamma_N=0.2186, gamma_D=0.0745, gamma_G=0.7779),
    "w4a16": dict(k=0.2522, gamma_N=0.3589, gamma_D=0.1610, gamma_G=0.3533),
    "w16a4": dict(k=0.1004, gamma_N=0.1816, gamma_D=0.0331, gamma_G=0.9812),
}


def chen_delta(N, D, G, setting="w4a4"):
    """Chen et al. 2025, eq. 5: k D^gamma_D (log2 G)^gamma_G / N^gamma_N."""
    c = CHEN_QAT[setting]
    return c["k"] * D ** c["gamma_D"] * math.log2(G) ** c["gamma_G"] / N ** c["gamma_N"]


# ---------------------------------------------------------------- format definitions
# OCP Microscaling Formats (MX) v1.0, Table 1: block size 32, E8M0 (8-bit) shared scale;
# element bits: MXFP8 8, MXFP6 6, MXFP4 4 (E2M1), MXINT8 8.
MX_BLOCK, MX_SCALE_BITS = 32, 8
MX_ELEMENT_BITS = {"mxfp8-e4m3": 8, "mxfp8-e5m2": 8, "mxfp6-e2m3": 6, "mxfp6-e3m2": 6, "mxfp4": 4, "mxint8": 8}
# NVIDIA NVFP4 (arXiv:2509.25149, sec. 2): E2M1 elements, blocks of 16, E4M3 (8-bit) block scale,
# plus one FP32 scale per tensor.
NV_BLOCK, NV_SCALE_BITS = 16, 8
