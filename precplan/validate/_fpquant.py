"""Fake quantization to real training formats (FP8, MX, NVFP4) with a straight-through estimator.

The formats and their sources are in :mod:`precplan.validate._formats`. Each quantizer
quantizes and dequantizes ("fake" quantization: the values stay in floating point, exactly
on the format's grid times its scales), in fp32 arithmetic whatever the input dtype:

- elements: round to nearest, ties to even, and saturate at the element maximum (no inf or
  NaN for finite inputs; OCP MX v1.0 sec. 6.3 clamps to the maximum normal); FP8 E4M3 and
  E5M2 use torch's float8_e4m3fn / float8_e5m2 casts, the narrower elements the same rule on
  the fp32 bit pattern (M mantissa bits kept, rounded to nearest even; below the smallest
  normal, one fixed step 2^(emin - M));
- ``row`` scaling (FP8): s = amax / max_elem in fp32 per row (or per tensor);
- ``mx`` scaling: blocks of 32 along the last dimension (zero-padded at the end), scale
  X = 2^(floor(log2 amax_block) - emax_elem), an E8M0 power of two clamped to 2^-127..2^127;
- ``nv`` scaling (NVFP4): tensor scale S = amax / (6 * 448) (fp32), block scale
  e4m3(amax_block / 6 / S) per 16 elements, elements e2m1(x / (block scale * S)); a block
  whose E4M3 scale underflows to zero quantizes to zeros.

Backward: straight through (the gradient of the quantized value is passed to the input
unchanged). :func:`format_linear` with ``backward=True`` also quantizes the inputs of the two
backward GEMMs, each along its own reduction dimension: dX = Q(dY) Q(W) over the output
features, dW = Q(dY^T) Q(X^T) over the tokens.

On CUDA runs train under bf16 autocast, so the GEMM sees the dequantized values rounded to
bf16: exact for MX elements times powers of two and for E2M1 x E4M3 products, and at most a
relative 2^-9 for values carrying an fp32 row or tensor scale (far below the formats' own
rounding error).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from precplan.validate._formats import ELEMENTS, FORMATS, Element, TrainFormat

__all__ = ["round_to_element", "mx_scale", "nv_scales", "quantize_format", "fake_quant_format", "format_linear"]

E8M0_MIN, E8M0_MAX = -127, 127  # OCP MX v1.0 table 4 (exponent range of the E8M0 scale)
_TORCH_FP8 = {"e4m3": "float8_e4m3fn", "e5m2": "float8_e5m2"}


def round_to_element(x: torch.Tensor, elem: Element | str) -> torch.Tensor:
    """``x`` rounded to the nearest value of ``elem`` (ties to even), saturating at its maximum.

    Parameters
    ----------
    x : torch.Tensor
        Any float tensor (computed in fp32).
    elem : Element or str
        An element type of :data:`ELEMENTS` (``e4m3``, ``e5m2``, ``e2m3``, ``e3m2``, ``e2m1``, ``bf16``).

    Returns
    -------
    torch.Tensor
        fp32 values on the element grid, |q| <= max_value.

    Example
    -------
    >>> round_to_element(torch.tensor([2.5, 5.0, 100.0]), "e2m1").tolist()
    [2.0, 4.0, 6.0]
    """
    e = ELEMENTS[elem] if isinstance(elem, str) else elem
    x = x.float()
    m = e.max_value
    if e.name == "bf16":
        return x.clamp(-m, m).to(torch.bfloat16).float()
    dtype = getattr(torch, _TORCH_FP8.get(e.name, ""), None)
    if dtype is not None:
        return x.clamp(-m, m).to(dtype).float()
    xc = x.clamp(-m, m).contiguous()
    # normal range of the element: keep M of fp32's 23 mantissa bits, rounding the bit pattern
    # (sign bit untouched) to nearest even; a carry runs into the exponent, as it should, and
    # cannot pass the maximum, which has a whole M-bit mantissa
    shift = 23 - e.man_bits
    bits = xc.view(torch.int32)
    bits = (bits + (((1 << (shift - 1)) - 1) + ((bits >> shift) & 1))) & ~((1 << shift) - 1)
    # below 2^emin (subnormals): one fixed step 2^(emin - M); torch.round rounds ties to even
    step = 2.0 ** (e.emin - e.man_bits)
    return torch.where(xc.abs() < 2.0**e.emin, torch.round(xc / step) * step, bits.view(torch.float32))


def _blocks(x: torch.Tensor, block: int) -> tuple[torch.Tensor, int]:
    """``x`` (fp32) as (..., n_blocks, block) along its last dimension, zero-padded; and the pad."""
    k = x.shape[-1]
    pad = (-k) % block
    if pad:
        x = F.pad(x, (0, pad))
    return x.reshape(*x.shape[:-1], -1, block), pad


def _unblock(q: torch.Tensor, shape: torch.Size, pad: int) -> torch.Tensor:
    q = q.flatten(-2)
    return (q[..., : q.shape[-1] - pad] if pad else q).reshape(shape)


def mx_scale(amax: torch.Tensor, elem: Element | str) -> torch.Tensor:
    """The OCP MX v1.0 shared scale (sec. 6.3): 2^(floor(log2 amax) - emax_elem), the exponent
    clamped to the E8M0 range; 1 where ``amax`` is 0 (the block is all zeros)."""
    e = ELEMENTS[elem] if isinstance(elem, str) else elem
    amax = amax.float().contiguous()
    # floor(log2 amax) from the fp32 exponent field (fp32 subnormals, below 2^-126, count as -127)
    shared = torch.clamp(((amax.view(torch.int32) >> 23) & 0xFF) - 127 - e.emax, E8M0_MIN, E8M0_MAX)
    scale = ((shared.clamp(min=-126) + 127) << 23).view(torch.float32)  # 2^shared, built exactly
    scale = torch.where(shared < -126, 2.0**E8M0_MIN, scale)  # 2^-127: an fp32 subnormal
    return torch.where(amax > 0, scale, 1.0)


def nv_scales(amax_block: torch.Tensor, amax_tensor: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """NVFP4's two scales: (tensor scale S = amax / (6 * 448) in fp32, block scales
    e4m3(amax_block / 6 / S)); the dequantization scale of a block is their product."""
    s = amax_tensor.float() / (ELEMENTS["e2m1"].max_value * ELEMENTS["e4m3"].max_value)
    s = torch.clamp(s, min=torch.finfo(torch.float32).tiny)
    return s, round_to_element(amax_block.float() / ELEMENTS["e2m1"].max_value / s, "e4m3")


def quantize_format(x: torch.Tensor, fmt: TrainFormat | str, per_row: bool = True) -> torch.Tensor:
    """Quantize-dequantize ``x`` to ``fmt`` along its last dimension (no gradient rule; see
    :func:`fake_quant_format`). ``per_row``: FP8's fp32 scale per row (else per tensor); MX and
    NVFP4 blocks always run along the last dimension. Returns fp32."""
    f = FORMATS[fmt] if isinstance(fmt, str) else fmt
    x = x.detach().float()
    if f.scaling == "none":
        return round_to_element(x, f.elem)
    if f.scaling == "row":
        amax = x.abs().amax(dim=-1, keepdim=True) if per_row else x.abs().amax()
        s = torch.clamp(amax, min=torch.finfo(torch.float32).tiny) / f.elem.max_value
        return round_to_element(x / s, f.elem) * s
    xb, pad = _blocks(x, int(f.block))
    amax = xb.abs().amax(dim=-1, keepdim=True)
    if f.scaling == "mx":
        scale = mx_scale(amax, f.elem)
        q = round_to_element(xb / scale, f.elem) * scale
    elif f.scaling == "nv":
        s, b = nv_scales(amax, x.abs().amax())
        dq = b * s
        q = torch.where(dq > 0, round_to_element(xb / torch.where(dq > 0, dq, 1.0), f.elem) * dq, 0.0)
    else:  # pragma: no cover - the table holds no other scaling
        raise ValueError(f"unknown scaling {f.scaling!r}")
    return _unblock(q, x.shape, pad)


class _STE(torch.autograd.Function):
    """q = quantize(x); backward: the gradient passes straight through."""

    @staticmethod
    def forward(ctx, x, fmt, per_row):  # type: ignore[override]
        return quantize_format(x, fmt, per_row).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        return grad, None, None


def fake_quant_format(x: torch.Tensor, fmt: TrainFormat | str, per_row: bool = True) -> torch.Tensor:
    """:func:`quantize_format` with a straight-through gradient, in ``x``'s dtype.

    Example
    -------
    >>> w = torch.randn(8, 64, requires_grad=True)
    >>> fake_quant_format(w, "mxfp4").sum().backward()
    >>> bool((w.grad == 1).all())
    True
    """
    return _STE.apply(x, FORMATS[fmt] if isinstance(fmt, str) else fmt, per_row)


class _FormatLinear(torch.autograd.Function):
    """y = Q(x) Q(W)^T with the backward GEMM inputs quantized too (each along its reduction dim)."""

    @staticmethod
    @torch.amp.custom_fwd(device_type="cuda")
    def forward(ctx, x, w, fmt, per_row):  # type: ignore[override]
        ctx.save_for_backward(x, w)
        ctx.fmt, ctx.per_row = fmt, per_row
        return F.linear(quantize_format(x, fmt, per_row).to(x.dtype), quantize_format(w, fmt).to(w.dtype))

    @staticmethod
    @torch.amp.custom_bwd(device_type="cuda")
    def backward(ctx, grad):  # type: ignore[override]
        x, w = ctx.saved_tensors
        f, per_row = ctx.fmt, ctx.per_row
        g = grad.reshape(-1, grad.shape[-1])  # (T, out)
        x2 = x.reshape(-1, x.shape[-1])  # (T, in)
        dt = grad.dtype
        # dX = dY W: reduction over the output features (dY's rows, W's columns after transposing)
        dx = quantize_format(g, f, per_row).to(dt) @ quantize_format(w.t(), f).to(dt).t()
        # dW = dY^T X: reduction over the tokens
        dw = quantize_format(g.t(), f).to(dt) @ quantize_format(x2.t(), f).to(dt).t()
        return dx.reshape(x.shape).to(x.dtype), dw.to(w.dtype), None, None


def format_linear(x: torch.Tensor, weight: torch.Tensor, fmt: TrainFormat | str, per_row: bool = True,
                  backward: bool = False) -> torch.Tensor:
    """A bias-free linear layer y = x W^T with its inputs fake-quantized to ``fmt``.

    Parameters
    ----------
    x : torch.Tensor
        Activations (..., in).
    weight : torch.Tensor
        (out, in); its FP8 scale is per output channel, its MX/NVFP4 blocks along ``in``.
    fmt : TrainFormat or str
        A format of :data:`FORMATS`.
    per_row : bool
        FP8 activation scale per token (True) or per tensor.
    backward : bool
        Also quantize the backward GEMM inputs (output gradient, and W and X requantized along
        each backward GEMM's reduction dimension); False: the backward GEMMs use the forward's
        quantized operands and the full-precision output gradient (straight through).

    Returns
    -------
    torch.Tensor
        (..., out).

    Example
    -------
    >>> format_linear(torch.ones(2, 32), torch.ones(4, 32), "nvfp4").shape
    torch.Size([2, 4])
    """
    f = FORMATS[fmt] if isinstance(fmt, str) else fmt
    if backward:
        return _FormatLinear.apply(x, weight, f, per_row)
    return F.linear(fake_quant_format(x, f, per_row), fake_quant_format(weight, f))
