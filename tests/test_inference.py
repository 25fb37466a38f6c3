"""Inference-aware sizing (Sardana et al. 2024) and GPU cost, against the paper's figure 1 and
independent brute-force searches."""

from __future__ import annotations

import numpy as np
import pytest

from precplan import load_law
from precplan.costs import GpuSpec, gpu_costs, lagrange_tokens
from precplan.optimize._planner import optimize

from oracles import bisect, zoom_min
from reference import PEAK_FLOPS, SARDANA, SARDANA_FIG1, chinchilla_loss, hoffmann_split


H100, A100 = PEAK_FLOPS["h100_bf16"], PEAK_FLOPS["a100_bf16"]


@pytest.fixture(scope="module")
def sardana():
    law = load_law("sardana2024")
    assert law.values == SARDANA  # the constants of Sardana et al.'s code (tests/reference.py)
    return law


def chinchilla_13b():
    """Budget and loss of the Chinchilla-optimal 13B model (Hoffmann eq. 4 inverted for C), with
    Sardana et al.'s constants."""
    a, b = SARDANA["alpha"], SARDANA["beta"]
    G = (a * SARDANA["A"] / (b * SARDANA["B"])) ** (1 / (a + b))
    C = 6 * (13e9 / G) ** ((a + b) / b)
    assert hoffmann_split(SARDANA, C)[0] == pytest.approx(13e9, rel=1e-12)  # the inversion is right
    D = C / (6 * 13e9)
    return C, D, chinchilla_loss(SARDANA, 13e9, D)


def test_sardana_figure_1_13b_becomes_7b_saving_17_percent(sardana):
    C, D13, L = chinchilla_13b()
    T = SARDANA_FIG1["inference_tokens"]
    plan = optimize(sardana, None, target_loss=L, inference_tokens=T)
    assert 6.5e9 < plan.params < 7.5e9  # "about a 7B model" (SARDANA_FIG1["params"] = 7e9)
    assert plan.tokens > D13  # trained longer
    ref = plan.reference
    assert ref.params == pytest.approx(SARDANA_FIG1["chinchilla_params"], rel=1e-6)
    assert ref.train_flops == pytest.approx(C, rel=1e-6)
    assert ref.total_flops == pytest.approx(C + 2 * 13e9 * T, rel=1e-6)
    assert ref.saved_fraction == pytest.approx(SARDANA_FIG1["saved_fraction"], abs=0.01)  # "17%"
    assert ref.saved_flops == pytest.approx(SARDANA_FIG1["saved_flops"], rel=0.05)  # "1.7e22 FLOPs"
    assert plan.loss == pytest.approx(L, rel=1e-9)  # the constraint holds


def test_lagrange_solution_matches_brute_force_on_the_iso_loss_curve(sardana):
    E, A, B, a, b = (SARDANA[k] for k in ("E", "A", "B", "alpha", "beta"))
    L, T = 2.1, 5e12

    def lifetime(u):  # D from the loss equation at each N, then 6 N D + 2 N T
        N = np.exp(u)
        room = L - E - A * N**-a
        D = np.where(room > 0, (B / np.where(room > 0, room, 1)) ** (1 / b), np.inf)
        return 6 * N * D + 2 * N * T

    u, cost = zoom_min(lifetime, np.log(1e8), np.log(1e13))
    plan = optimize(sardana, None, target_loss=L, inference_tokens=T)
    assert plan.total_flops == pytest.approx(cost, rel=1e-6)
    assert plan.total_flops <= cost * (1 + 1e-9)
    assert plan.params == pytest.approx(np.exp(u), rel=1e-3)


def test_without_inference_the_target_plan_is_the_chinchilla_point(sardana):
    C, D13, L = chinchilla_13b()
    plan = optimize(sardana, None, target_loss=L)
    assert plan.params == pytest.approx(13e9, rel=1e-6)
    assert plan.train_flops == pytest.approx(C, rel=1e-6)
    assert float(lagrange_tokens(sardana, L, 0.0)) == pytest.approx(D13, rel=1e-6)


@pytest.mark.slow
def test_target_loss_with_ptq_matches_brute_force():
    law = load_law("kumar2024")
    L, post, P = 3.0, 4.0, 6.0

    def tokens_for(N):  # fewest tokens reaching L: scan D, then bisect on the falling branch
        grid = np.logspace(6, 16, 2000)
        loss = law.loss(N[:, None], grid[None, :], P, P, P, post=post)
        reach = loss <= L
        first = np.argmax(reach, axis=1)
        hi = grid[first]
        lo = grid[np.maximum(first - 1, 0)]
        D = bisect(lambda d: law.loss(N, d, P, P, P, post=post) - L, lo, hi, iters=80)
        return np.where(reach.any(axis=1), D, np.inf)

    def train_cost(u):
        N = np.exp(u)
        return 6 / 16 * P * N * tokens_for(N)

    u, cost = zoom_min(train_cost, np.log(1e8), np.log(1e10), rounds=5, n=201)
    plan = optimize(law, None, target_loss=L, inference_precision=post, precision=P)
    assert plan.total_flops == pytest.approx(cost, rel=1e-6)
    assert plan.loss == pytest.approx(L, rel=1e-9)


H100_BF16, H100_FP8, H100_BW = 989.4e12, 1978.9e12, 3.35e12  # NVIDIA H100 whitepaper dense peaks; datasheet 3,350 GB/s
A100_BF16 = 312e12  # NVIDIA A100 datasheet (dense)


def test_gpu_hours_and_dollars():
    spec = GpuSpec("h100", price=2.0, mfu=0.5, prefill_mfu=0.4, input_tokens=70, output_tokens=215, batch=64)
    N, D, T = 7e9, 1e12, 2e12
    (c16,) = gpu_costs(spec, N, D, 16, T, 16)
    train_h = 6 * N * D / (3600 * H100_BF16 * 0.5)
    layers = (N / (12 * 128**2)) ** (1 / 3)  # N = 12 L d^2, d = 128 L
    kv_token = 2 * layers * (128 * layers) / 4 * 2  # K and V, 16-bit, 4 query heads per KV head (GQA default, Llama 3 8B 32/8)
    compute = 2 * N / (H100_BF16 * 0.4)
    traffic = (N * 2 / 64 + kv_token * 285) / H100_BW
    infer_h = T * (70 / 285 * compute + 215 / 285 * max(compute, traffic)) / 3600
    assert c16.train_gpu_hours == pytest.approx(train_h, rel=1e-12)
    assert c16.inference_gpu_hours == pytest.approx(infer_h, rel=1e-12)
    assert c16.total_dollars == pytest.approx(2.0 * (train_h + infer_h), rel=1e-12)
    (c8,) = gpu_costs(spec, N, D, 8, T, 8)
    # FP8 trains 1.34x as fast as BF16 end to end (Fishman et al. 2024, arXiv:2409.12517: up to ~34%), not at
    # the dense-peak ratio H100_FP8 / H100_BF16 = 2
    assert c8.train_gpu_hours == pytest.approx(train_h / 1.34, rel=1e-12)
    assert c8.train_gpu_hours > 1.4 * train_h * H100_BF16 / H100_FP8
    assert c8.train_format == "fp8-e4m3" and not c8.emulated
    (c7,) = gpu_costs(GpuSpec("a100"), N, D, 7, 0.0, 7)
    assert c7.train_gpu_hours == pytest.approx(6 * N * D / (3600 * A100_BF16 * 0.5), rel=1e-12)  # no FP8 on Ampere
    assert c7.total_dollars is None and c7.emulated and c7.train_format == "bf16"


def test_plan_reports_gpu_cost_consistent_with_its_flops():
    law = load_law("sardana2024")
    spec = GpuSpec("a100", price=1.5)
    plan = optimize(law, 1e22, gpu=spec, inference_tokens=1e12)
    # at 16 bits the 16-bit-equivalent FLOPs are the raw FLOPs
    assert plan.gpu_cost.train_gpu_hours == pytest.approx(plan.train_flops / (3600 * A100_BF16 * 0.5), rel=1e-12)
    assert plan.dollars == pytest.approx(1.5 * plan.gpu_hours, rel=1e-12)


def test_widths_without_a_native_format_run_in_the_next_wider_one():
    spec = GpuSpec("h100", mfu=0.5)
    N, D = 7e9, 1e12
    (c,) = gpu_costs(spec, N, D, 12.0, 0.0, 12.0)
    assert c.train_peak_flops == H100_BF16 and c.emulated  # no native 12-bit format: the BF16 peak
    for bits in (8.0, 16.0):  # native formats
        assert not gpu_costs(spec, N, D, bits, 0.0, bits)[0].emulated
    (low,) = gpu_costs(spec, N, D, 4.0, 0.0, 4.0)
    assert low.train_peak_flops == H100_FP8 and low.emulated and low.train_format == "fp8-e4m3"
