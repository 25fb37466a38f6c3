"""Symmetric absmax integer fake quantization with a straight-through estimator.

This is the quantizer of Kumar et al. 2024 ("Scaling Laws for Precision", section 2 and
appendix; docs/science.md section 11):

- a b-bit grid of 2^b integer levels -2^(b-1) .. 2^(b-1)-1 times a scale s;
- the scale comes from the absolute maximum: s = max|x| / (2^(b-1) - 1), so the largest
  magnitude maps to the top level and nothing is clipped (the absmax quantizer is odd:
  q(-x) = -q(x), and uses the 2^b - 1 levels -q_max .. q_max; the extra level -2^(b-1) is
  reachable only with a smaller, user-given scale);
- round to nearest, clamp, multiply back ("fake" quantization: values stay floating point);
- backward: straight through (gradient 1) where the rounded level lies on the grid, 0 where
  the clamp clipped it (as ``torch.fake_quantize_*`` does).

Granularity: weights per output channel (row of an ``nn.Linear`` weight), activations per
tensor (or per token), attention Q/K/V per tensor. Bits >= 16 mean "not quantized".
"""

from __future__ import annotations

import torch

__all__ = ["GRANULARITIES", "UNQUANTIZED", "absmax_scale", "fake_quant", "levels", "quantize_weight_rtn"]

UNQUANTIZED = 16
GRANULARITIES = ("tensor", "channel", "token")


def levels(bits: int) -> tuple[int, int]:
    """The integer grid of a signed b-bit quantizer: (-2^(b-1), 2^(b-1) - 1)."""
    if not 2 <= int(bits) <= 16:
        raise ValueError(f"quantization bits must be in 2..16, got {bits}")
    return -(2 ** (int(bits) - 1)), 2 ** (int(bits) - 1) - 1


def absmax_scale(x: torch.Tensor, bits: int, granularity: str = "tensor") -> torch.Tensor:
    """The absmax scale max|x| / (2^(b-1) - 1) in float32, broadcastable against ``x`` (no gradient).

    ``tensor``: one scale; ``channel``: one per row (dim 0, the output channel of a Linear
    weight); ``token``: one per vector along the last dim (one per token of an activation)."""
    qmax = levels(bits)[1]
    x = x.detach()
    if granularity == "tensor":
        amax = x.abs().amax()
    elif granularity == "channel":
        amax = x.abs().amax(dim=tuple(range(1, x.dim())), keepdim=True)
    elif granularity == "token":
        amax = x.abs().amax(dim=-1, keepdim=True)
    else:
        raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}")
    # An all-zero slice would give scale 0 and 0/0; any positive scale quantizes zeros to zero.
    return torch.clamp(amax.float(), min=torch.finfo(torch.float32).tiny) / qmax


class _RoundClampSTE(torch.autograd.Function):
    """q = clamp(round(x / s), lo, hi) * s; backward: straight through, zero where clipped."""

    @staticmethod
    def forward(ctx, x, scale, lo: int, hi: int, may_clip: bool):  # type: ignore[override]
        q = torch.clamp(torch.round(x / scale), lo, hi) * scale
        ctx.may_clip = may_clip
        if may_clip:
            ctx.save_for_backward(x, scale)
            ctx.bounds = (lo, hi)
        return q

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        if not ctx.may_clip:  # absmax scale: every value lies inside the range
            return grad, None, None, None, None
        x, scale = ctx.saved_tensors
        lo, hi = ctx.bounds
        k = torch.round(x / scale)  # clipped where the rounded level falls outside the grid
        return grad * ((k >= lo) & (k <= hi)), None, None, None, None


def fake_quant(
    x: torch.Tensor,
    bits: int,
    granularity: str = "tensor",
    scale: torch.Tensor | None = None,
) -> torch.Tensor:
    """Fake-quantize ``x`` to a symmetric signed ``bits``-bit integer grid (STE backward).

    ``scale`` defaults to the absmax scale of ``granularity``; a given scale (broadcastable
    against ``x``) may clip, and then the gradient is zero outside the clamp range.
    ``bits >= 16`` returns ``x`` unchanged."""
    if bits >= UNQUANTIZED:
        return x
    lo, hi = levels(bits)
    may_clip = scale is not None
    if scale is None:
        scale = absmax_scale(x, bits, granularity)
    # Round in fp32: in bf16/fp16, x / scale itself is rounded to the float grid first (bf16 steps
    # by 0.5 between 64 and 128), which would round twice and miss round-to-nearest.
    if x.dtype in (torch.bfloat16, torch.float16):
        return _RoundClampSTE.apply(x.float(), scale.float(), lo, hi, may_clip).to(x.dtype)
    return _RoundClampSTE.apply(x, scale.to(x.dtype), lo, hi, may_clip)


@torch.no_grad()
def quantize_weight_rtn(weight: torch.Tensor, bits: int) -> torch.Tensor:
    """Post-training quantization by round-to-nearest, one absmax scale per output channel."""
    return fake_quant(weight, bits, "channel")
