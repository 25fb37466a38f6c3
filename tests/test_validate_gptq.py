"""GPTQ post-training quantization (Frantar et al. 2022) against round-to-nearest (CPU, seconds)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from precplan.validate._data import ZipfFacts  # noqa: E402
from precplan.validate._gptq import HessianAccumulator, gptq_quantize, reconstruction_error  # noqa: E402
from precplan.validate._quant import quantize_weight_rtn  # noqa: E402
from precplan.validate._train import RunSpec, calibration_batches, placement, train_run  # noqa: E402


def test_two_columns_follow_the_closed_form_obs_update():
    # One row, two inputs, no damping: after rounding w1, the best w2 for the fixed q1 minimises
    # (dw1, dw2) H (dw1, dw2)^T, i.e. dw2 = -dw1 H12 / H22; GPTQ then rounds that w2.
    H = torch.tensor([[2.0, 1.3], [1.3, 1.0]], dtype=torch.float64)
    w = torch.tensor([[0.44, -0.9]], dtype=torch.float64)
    bits, s = 3, 0.9 / 3
    q1 = torch.round(w[0, 0] / s) * s
    w2 = w[0, 1] + (w[0, 0] - q1) * H[0, 1] / H[1, 1]
    q2 = torch.clamp(torch.round(w2 / s), -4, 3) * s
    q = gptq_quantize(w, H, bits, damp=0.0)
    assert torch.allclose(q, torch.stack([q1, q2])[None], atol=1e-12)
    assert not torch.allclose(q, quantize_weight_rtn(w, bits))  # the compensation changed the rounding


def test_uncorrelated_inputs_give_round_to_nearest():
    # Diagonal H: no column can compensate another, so GPTQ is RTN on the same grid.
    g = torch.Generator().manual_seed(0)
    w = torch.randn(24, 300, generator=g)
    H = torch.diag(torch.rand(300, generator=g, dtype=torch.float64) + 0.1)
    for bits in (3, 4, 8):
        assert torch.allclose(gptq_quantize(w, H, bits, block=64), quantize_weight_rtn(w, bits), atol=1e-6)


def test_lazy_blocks_do_not_change_the_result():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(500, 96, generator=g) @ torch.randn(96, 96, generator=g)
    acc = HessianAccumulator(96, torch.device("cpu"))
    acc.add(x[:200])
    acc.add(x[200:])
    assert torch.allclose(acc.H, 2 * x.double().T @ x.double() / 500)
    w = torch.randn(16, 96, generator=g)
    assert torch.allclose(gptq_quantize(w, acc.H, 4, block=7), gptq_quantize(w, acc.H, 4, block=128), atol=1e-5)


@pytest.fixture(scope="module")
def trained(torch_seed_module):
    """A smoke-sized model trained for 60 steps, and its layers' input Hessians on training data."""
    from precplan.validate._model import SHAPES, Decoder
    from precplan.validate._train import build_optimizer, lr_at, train_step

    spec = RunSpec("50K", 16 * 128 * 60, lr=6e-3)
    src, cpu = ZipfFacts(), placement("cpu")
    model = Decoder(SHAPES["50K"], 256, 128, spec.quant)
    opt = build_optimizer(model, spec, fused=False)
    stream = src.batches(16, 128, 0)
    for step in range(spec.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, spec)
        loss = train_step(model, opt, torch.from_numpy(next(stream)), 16, cpu)
    assert float(loss) < 5.0  # it learnt something (uniform guessing: ln 256 = 5.55)
    return model, model.input_hessians(calibration_batches(src, spec, 16, cpu))


@pytest.mark.slow
@pytest.mark.parametrize("bits", [3, 4])
def test_gptq_reconstructs_every_layer_better_than_rtn(trained, bits):
    from precplan.validate._quant import fake_quant

    model, hessians = trained
    ratios = []
    for m in model.quant_linears():
        H = hessians[m].H
        w = fake_quant(m.weight.detach(), m.quant.weight_bits, "channel")
        e_gptq = reconstruction_error(w, gptq_quantize(w, H, bits), H)
        e_rtn = reconstruction_error(w, quantize_weight_rtn(w, bits), H)
        assert e_gptq < e_rtn, (m, e_gptq, e_rtn)
        ratios.append(e_gptq / e_rtn)
    assert sum(ratios) / len(ratios) < 0.9  # not a rounding-noise win: a real reduction on average


@pytest.mark.slow
def test_gptq_ptq_losses_are_measured_and_recorded(tmp_path):
    from precplan.validate._store import read_store
    from precplan.validate._sweep import run_sweep

    spec = RunSpec("25K", 16 * 64 * 30, seq_len=64, val_tokens=2048, ptq_bits=(3, 8), ptq_method="gptq")
    summary = run_sweep([spec], ZipfFacts(), placement("cpu"), tmp_path, "test")
    (rec,), _ = read_store(summary.store)
    assert rec["ptq_method"] == "gptq-per-channel" and rec["config"]["ptq_method"] == "gptq"
    assert set(rec["ptq"]) == {"3", "8"} and rec["ptq"]["3"] > rec["ptq"]["8"] > rec["loss"] - 1e-3
