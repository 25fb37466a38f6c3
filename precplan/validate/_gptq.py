"""GPTQ post-training quantization (Frantar et al. 2022, "GPTQ: Accurate Post-Training
Quantization for Generative Pre-trained Transformers", arXiv 2210.17323, Algorithm 1).

For one linear layer with weight W (rows: output channels, columns: inputs) and calibration
inputs X (one column per token), GPTQ looks for a quantized Q(W) that keeps the layer's output,
minimising ||W X - Q(W) X||^2. The error of a row is a quadratic form in the Hessian
H = 2 X X^T, the same for every row. The weights are quantized one input column at a time;
after column i is rounded, its rounding error is spread over the columns not yet quantized so
as to cancel its effect on the output to second order (the optimal brain surgeon update):

    err = (w_i - q(w_i)) / [H^-1]_ii,     W[:, j] -= err [H^-1]_ij   for j > i,

where H^-1 is the inverse Hessian of the columns not yet quantized. Those rows of successive
inverses are the rows of the upper Cholesky factor U of H^-1 (H^-1 = U^T U), so one Cholesky
decomposition replaces every update of the inverse: err = (w_i - q_i) / U_ii and the update
uses U[i, j]. H is damped by 1% of its mean diagonal for numerical stability; inputs that
are never non-zero get H_ii = 1 and a zero weight. Columns are processed in blocks of
``block`` ("lazy batch" updates): within a block the updates are applied column by column,
to the rest of the matrix once per block as one matrix product.

The grid is the one round-to-nearest uses: symmetric absmax integers, one scale per output
channel taken from the weight before any update (``_quant.absmax_scale``), so GPTQ and RTN
differ only in how the weights are rounded onto it.
"""

from __future__ import annotations

import torch

from precplan.validate._quant import absmax_scale, levels

__all__ = ["BLOCK", "DAMP", "HessianAccumulator", "gptq_quantize", "reconstruction_error"]

DAMP = 0.01  # fraction of the mean diagonal of H added to it (Frantar et al. 2022, sec. 4)
BLOCK = 128  # columns per lazy batch


class HessianAccumulator:
    """Running H = 2/n sum_t x_t x_t^T over calibration inputs x_t of one layer (in float64
    when accumulating on the CPU, float32 otherwise); the 1/n keeps it of order one."""

    def __init__(self, d_in: int, device: torch.device):
        dtype = torch.float64 if device.type == "cpu" else torch.float32
        self.H = torch.zeros(d_in, d_in, device=device, dtype=dtype)
        self.n = 0

    def add(self, x: torch.Tensor) -> None:
        x = x.detach().reshape(-1, x.shape[-1]).to(self.H.dtype)
        m = x.shape[0]
        if m == 0:
            return
        total = self.n + m
        self.H.mul_(self.n / total)
        self.H.addmm_(x.T, x, alpha=2.0 / total)
        self.n = total


@torch.no_grad()
def gptq_quantize(weight: torch.Tensor, H: torch.Tensor, bits: int, block: int = BLOCK, damp: float = DAMP) -> torch.Tensor:
    """The GPTQ quantization of ``weight`` (d_out, d_in) to ``bits`` given the input Hessian
    ``H`` (d_in, d_in): a tensor of ``weight``'s shape and dtype whose rows lie on their
    per-channel absmax grids. ``bits >= 16`` returns the weight unchanged."""
    if bits >= 16:
        return weight.clone()
    lo, hi = levels(bits)
    W = weight.detach().to(torch.float64 if weight.device.type == "cpu" else torch.float32).clone()
    H = H.to(W.dtype).clone()
    d_in = W.shape[1]
    scale = absmax_scale(W, bits, "channel").to(W.dtype)  # (d_out, 1), from the weight as trained

    dead = torch.diagonal(H) == 0
    H[dead, dead] = 1.0
    W[:, dead] = 0.0
    H.diagonal().add_(damp * torch.diagonal(H).mean())
    # Upper Cholesky factor of H^-1: row i holds the OBS update of column i over columns > i.
    L = torch.linalg.cholesky(H)
    Hinv = torch.cholesky_inverse(L)
    U = torch.linalg.cholesky(Hinv, upper=True)

    Q = torch.zeros_like(W)
    for start in range(0, d_in, block):
        end = min(start + block, d_in)
        Wb = W[:, start:end].clone()
        Ub = U[start:end, start:end]
        Eb = torch.zeros_like(Wb)
        for j in range(end - start):
            w = Wb[:, j : j + 1]
            q = torch.clamp(torch.round(w / scale), lo, hi) * scale
            Q[:, start + j : start + j + 1] = q
            err = (w - q) / Ub[j, j]
            Wb[:, j + 1 :] -= err @ Ub[j : j + 1, j + 1 :]  # compensate inside the block now
            Eb[:, j : j + 1] = err
        W[:, end:] -= Eb @ U[start:end, end:]  # ... and in the rest of the matrix once per block
    return Q.to(weight.dtype)


def reconstruction_error(weight: torch.Tensor, quantized: torch.Tensor, H: torch.Tensor) -> float:
    """||W X - Q X||^2 / n expressed through H = 2/n X X^T: trace(dW H dW^T) / 2."""
    dW = (weight - quantized).to(H.dtype)
    return float(torch.einsum("ij,jk,ik->", dW, H, dW) / 2)
