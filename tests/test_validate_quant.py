"""The fake quantizer and the model of ``precplan validate`` (CPU, fixed seeds, seconds)."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from precplan.validate._model import SHAPES, Decoder, QuantConfig, Shape  # noqa: E402
from precplan.validate._quant import absmax_scale, fake_quant, levels, quantize_weight_rtn  # noqa: E402


@pytest.mark.parametrize("bits", [2, 3, 4, 6, 8])
def test_grid_has_exactly_2_to_the_b_levels(bits):
    # A scale smaller than absmax makes every level reachable, the clamp included.
    x = torch.linspace(-3.0, 3.0, 20001)
    scale = torch.tensor(2.0 / 2 ** (bits - 1))
    q = fake_quant(x, bits, scale=scale)
    values = torch.unique(q)
    assert values.numel() == 2**bits
    k = torch.round(values / scale)
    assert k.min().item() == -(2 ** (bits - 1)) and k.max().item() == 2 ** (bits - 1) - 1
    assert torch.allclose(values, k * scale)  # integers times the scale: a uniform grid
    assert levels(bits) == (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_absmax_quantizer_is_symmetric(bits):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 33, generator=g) * 3
    for gran in ("tensor", "channel", "token"):
        q, q_neg = fake_quant(x, bits, gran), fake_quant(-x, bits, gran)
        assert torch.equal(q_neg, -q)  # odd: zero point 0, scale from |x|
        # absmax uses the symmetric range: the largest magnitude maps exactly onto +-qmax * s
        qmax = 2 ** (bits - 1) - 1
        s = absmax_scale(x, bits, gran)
        assert torch.allclose(q.abs().amax(), (s * qmax).amax())
        assert torch.unique(torch.round(q / s)).numel() <= 2 * qmax + 1


def test_per_channel_matches_torch_fake_quantize():
    g = torch.Generator().manual_seed(1)
    w = torch.randn(48, 40, generator=g) * torch.linspace(0.1, 5, 48)[:, None]
    for bits in (3, 4, 8):
        lo, hi = levels(bits)
        scale = w.abs().amax(dim=1) / hi
        ours = fake_quant(w, bits, "channel")
        ref = torch.fake_quantize_per_channel_affine(w, scale, torch.zeros(48, dtype=torch.int32), 0, lo, hi)
        assert torch.allclose(ours, ref, atol=1e-6)
        # with a given (clipping) per-channel scale too
        small = scale * 0.6
        ours = fake_quant(w, bits, scale=small[:, None])
        ref = torch.fake_quantize_per_channel_affine(w, small, torch.zeros(48, dtype=torch.int32), 0, lo, hi)
        assert torch.allclose(ours, ref, atol=1e-6)


def test_per_tensor_matches_torch_fake_quantize():
    x = torch.randn(8, 16, 32, generator=torch.Generator().manual_seed(2))
    scale = float(x.abs().max()) / 7
    ref = torch.fake_quantize_per_tensor_affine(x, scale, 0, -8, 7)
    assert torch.allclose(fake_quant(x, 4, "tensor"), ref, atol=1e-6)


def test_gradient_is_straight_through_inside_and_zero_outside():
    x = torch.linspace(-2, 2, 101, requires_grad=True)
    upstream = torch.randn(101, generator=torch.Generator().manual_seed(3))
    fake_quant(x, 3, "tensor").backward(upstream)
    assert torch.equal(x.grad, upstream)  # absmax: everything is inside, gradient passes unchanged
    x.grad = None
    scale = torch.tensor(0.25)  # 3 bits: levels -4..3, so x / 0.25 rounding outside [-4, 3] is clipped
    fake_quant(x, 3, scale=scale).backward(upstream)
    inside = (x.detach() >= -1.125) & (x.detach() < 0.875)  # round(x / s) in [-4, 3]
    assert torch.equal(x.grad, torch.where(inside, upstream, torch.zeros(())))
    # and torch agrees on the mask
    x2 = x.detach().clone().requires_grad_(True)
    torch.fake_quantize_per_tensor_affine(x2, 0.25, 0, -4, 3).backward(upstream)
    assert torch.equal(x.grad, x2.grad)


def test_sixteen_bits_is_the_identity_and_bad_bits_fail():
    x = torch.randn(10, generator=torch.Generator().manual_seed(5))
    assert fake_quant(x, 16) is x
    with pytest.raises(ValueError):
        levels(1)


def test_rtn_error_shrinks_with_bits():
    w = torch.randn(64, 64, generator=torch.Generator().manual_seed(4))
    errs = [float((quantize_weight_rtn(w, b) - w).pow(2).mean()) for b in (3, 4, 6, 8)]
    assert errs == sorted(errs, reverse=True)
    # uniform rounding error: about s^2 / 12 with s = max|w_row| / qmax
    s = w.abs().amax(dim=1) / 127
    assert errs[-1] == pytest.approx(float((s**2).mean() / 12), rel=0.15)


@pytest.mark.parametrize("name", ["100K", "1.6M", "30M"])
def test_non_embedding_param_count(name, torch_seed):
    shape = SHAPES[name]
    d, L = shape.d_model, shape.n_layers
    f = 16 * math.ceil(8 * d / 3 / 16)
    expected = L * (4 * d * d + 3 * d * f + 2 * d) + d  # attention + SwiGLU + 2 norms per layer, final norm
    assert shape.params == expected
    if shape.params < 2e6:  # building the big one costs seconds
        model = Decoder(shape, vocab=256, seq_len=16)
        assert model.non_embedding_params() == expected
        assert sum(p.numel() for p in model.parameters()) == expected + 256 * d  # + tied embedding


def test_shape_table_spans_the_paper_and_tiny_models():
    ns = sorted(s.params for s in SHAPES.values())
    assert ns[0] < 1e5 <= ns[2] and ns[-1] > 2e8
    for paper_n in (30e6, 60e6, 110e6, 220e6):  # the paper's sizes are in the table (within 6%)
        assert min(abs(n / paper_n - 1) for n in ns) < 0.06


def test_quantized_forward_uses_quantized_weights_and_ptq_restores(torch_seed):
    # torch_seed: the layers initialise from torch's global generator, seeded and restored per test
    shape = Shape("t", 32, 2, 2)
    x = torch.randint(0, 64, (2, 12), generator=torch_seed)
    m16 = Decoder(shape, 64, 12, QuantConfig())
    m4 = Decoder(shape, 64, 12, QuantConfig(weight_bits=4))
    m4.load_state_dict(m16.state_dict())
    with torch.no_grad():
        y16, y4 = m16(x), m4(x)
        assert not torch.allclose(y16, y4)
        before = {k: v.clone() for k, v in m4.state_dict().items()}
        with m4.post_quantized(4):  # PTQ to the training precision changes nothing
            assert torch.allclose(m4(x), y4, atol=1e-5)
        with m16.post_quantized(4):  # PTQ of the 16-bit model = the 4-bit forward
            assert torch.allclose(m16(x), y4, atol=1e-5)
        for k, v in m4.state_dict().items():
            assert torch.equal(v, before[k])
        assert m16(x).equal(y16)


def test_causal_attention_ignores_the_future(torch_seed):
    # (per-tensor activation scales see the whole tensor, as in the paper; weights-only here)
    m = Decoder(Shape("t", 32, 2, 2), 64, 16, QuantConfig(weight_bits=4))
    x = torch.randint(0, 64, (1, 16), generator=torch_seed)
    x2 = x.clone()
    x2[0, 10:] = (x2[0, 10:] + 1) % 64
    with torch.no_grad():
        assert torch.allclose(m(x)[0, :10], m(x2)[0, :10], atol=1e-5)


@pytest.mark.parametrize("bits", [4, 6, 8])
def test_bf16_inputs_round_to_nearest_like_fp32(bits):
    """bf16 activations (autocast on GPU) land on the same levels as the fp32 quantizer would put them."""
    x = torch.randn(64, 256, generator=torch.Generator().manual_seed(0)).to(torch.bfloat16)
    got = fake_quant(x, bits, "tensor")
    want = fake_quant(x.float(), bits, "tensor").to(torch.bfloat16)
    assert torch.equal(got, want)
