"""A small OLMo/Llama-style decoder ("Transformer++") with fake-quantized training.

RMSNorm, SwiGLU MLP, rotary position embeddings, causal multi-head attention, tied input
and output embeddings, no biases: the architecture of Kumar et al. 2024 (OLMo-style).
Quantization (docs/science.md section 11): the weight of every Linear in the blocks per output
channel, the input of every Linear per token (or per tensor), and Q, K, V inside attention
(after RoPE) per token and head (or per tensor) for the "KV" setting; embeddings and the
output head stay unquantized. Per-token scales are the default because they make a
measurement independent of how the tokens were batched: a per-tensor scale is the absmax of
the whole micro-batch, so the loss of the same model would change with the batch size.
N (the law's parameter count) = non-embedding parameters: everything but the embedding.
"""

from __future__ import annotations

import math
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from typing import Iterable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from precplan.validate._fpquant import format_linear
from precplan.validate._quant import fake_quant, quantize_weight_rtn
from precplan.validate._gptq import HessianAccumulator, gptq_quantize

__all__ = [
    "SHAPES", "Attention", "Block", "Decoder", "QuantConfig", "QuantLinear", "RMSNorm", "Shape", "SwiGLU",
    "apply_rope", "rope_tables",
]


@dataclass(frozen=True)
class Shape:
    """A model size: width, depth, heads (head dim = d_model / n_heads)."""

    name: str
    d_model: int
    n_layers: int
    n_heads: int

    @property
    def d_ff(self) -> int:
        """SwiGLU hidden width: 8/3 d rounded up to a multiple of 16 (Llama's rule)."""
        return 16 * math.ceil(8 * self.d_model / 3 / 16)

    @property
    def params(self) -> int:
        """Non-embedding parameters (Kumar et al.'s and Hoffmann et al.'s N)."""
        d, f = self.d_model, self.d_ff
        per_layer = 4 * d * d + 3 * d * f + 2 * d  # attention, SwiGLU, two RMSNorm gains
        return self.n_layers * per_layer + d  # + final RMSNorm

    def flops_per_token(self, vocab: int, seq_len: int) -> float:
        """Training FLOPs per token: 6 (N + head) plus attention scores (Kaplan et al. 2020)."""
        return 6.0 * (self.params + vocab * self.d_model) + 6.0 * self.n_layers * seq_len * self.d_model


# From ~0.1M to ~220M non-embedding parameters (the paper's largest); names give N rounded.
SHAPES: dict[str, Shape] = {
    s.name: s
    for s in (
        Shape("25K", 32, 2, 2),
        Shape("50K", 48, 2, 2),
        Shape("100K", 64, 2, 2),
        Shape("200K", 80, 3, 2),
        Shape("400K", 96, 4, 4),
        Shape("800K", 128, 4, 4),
        Shape("1.6M", 160, 5, 4),
        Shape("3M", 224, 5, 4),
        Shape("6M", 256, 8, 4),
        Shape("12M", 384, 7, 6),
        Shape("25M", 512, 8, 8),
        Shape("30M", 512, 10, 8),
        Shape("60M", 640, 12, 10),
        Shape("110M", 768, 16, 12),
        Shape("220M", 1024, 18, 16),
    )
}


@dataclass(frozen=True)
class QuantConfig:
    """Training precision in bits (16 = unquantized) and the scale granularity of activations
    and of Q/K/V (``token``: one scale per token, and per head for Q/K/V; ``tensor``: one per
    micro-batch, the batch-dependent choice)."""

    weight_bits: int = 16
    activation_bits: int = 16
    kv_bits: int = 16
    activation_granularity: str = "token"
    kv_granularity: str = "token"
    format: str = ""  # a training format (validate/_formats.py) for the Linear inputs; "" = the bits above
    format_backward: bool = False  # with a format: quantize the backward GEMM inputs too


class QuantLinear(nn.Linear):
    """A bias-free Linear whose input and weight are fake-quantized in the forward pass."""

    def __init__(self, d_in: int, d_out: int, quant: QuantConfig):
        super().__init__(d_in, d_out, bias=False)
        self.quant = quant

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = self.quant
        if q.format:
            return format_linear(x, self.weight, q.format, q.activation_granularity != "tensor", q.format_backward)
        x = fake_quant(x, q.activation_bits, q.activation_granularity)
        return F.linear(x, fake_quant(self.weight, q.weight_bits, "channel"))


def rope_tables(seq_len: int, head_dim: int, base: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of the rotary angles (Su et al. 2021), shape (seq_len, head_dim)."""
    inv_freq = 1.0 / base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    angles = torch.outer(torch.arange(seq_len, dtype=torch.float32), inv_freq)
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (x_i, x_{i + d/2}) by the position's angle (the "rotate half" form)."""
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos.to(x.dtype) + rotated * sin.to(x.dtype)  # keep bf16 under autocast


class Attention(nn.Module):
    def __init__(self, shape: Shape, quant: QuantConfig):
        super().__init__()
        self.n_heads, self.kv_bits, self.kv_granularity = shape.n_heads, quant.kv_bits, quant.kv_granularity
        self.qkv = QuantLinear(shape.d_model, 3 * shape.d_model, quant)
        self.out = QuantLinear(shape.d_model, shape.d_model, quant)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.n_heads, C // self.n_heads).permute(2, 0, 3, 1, 4)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        q, k, v = (fake_quant(t, self.kv_bits, self.kv_granularity) for t in (q, k, v))  # (B, H, T, hd)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out(y.transpose(1, 2).reshape(B, T, C))


class SwiGLU(nn.Module):
    def __init__(self, shape: Shape, quant: QuantConfig):
        super().__init__()
        self.gate_up = QuantLinear(shape.d_model, 2 * shape.d_ff, quant)
        self.down = QuantLinear(shape.d_ff, shape.d_model, quant)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up(x).chunk(2, dim=-1)
        return self.down(F.silu(gate) * up)


class RMSNorm(nn.Module):
    def __init__(self, d: int, eps: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, (x.shape[-1],), self.weight, self.eps)


class Block(nn.Module):
    def __init__(self, shape: Shape, quant: QuantConfig):
        super().__init__()
        self.norm1, self.attn = RMSNorm(shape.d_model), Attention(shape, quant)
        self.norm2, self.mlp = RMSNorm(shape.d_model), SwiGLU(shape, quant)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), cos, sin)
        return x + self.mlp(self.norm2(x))


class Decoder(nn.Module):
    """Token ids (B, T) -> next-token logits (B, T, vocab)."""

    def __init__(self, shape: Shape, vocab: int, seq_len: int, quant: QuantConfig = QuantConfig()):
        super().__init__()
        self.shape, self.quant = shape, quant
        self.embed = nn.Embedding(vocab, shape.d_model)
        self.blocks = nn.ModuleList(Block(shape, quant) for _ in range(shape.n_layers))
        self.norm = RMSNorm(shape.d_model)
        cos, sin = rope_tables(seq_len, shape.d_model // shape.n_heads)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        self.apply(self._init)
        for name, p in self.named_parameters():  # GPT-2 scaled init of residual projections
            if name.endswith(("out.weight", "down.weight")):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * shape.n_layers))

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        T = idx.shape[1]
        x = self.embed(idx)
        cos, sin = self.cos[:T], self.sin[:T]
        for block in self.blocks:
            x = block(x, cos, sin)
        return F.linear(self.norm(x), self.embed.weight)  # tied output head

    def non_embedding_params(self) -> int:
        """N: every parameter but the (tied) embedding."""
        return sum(p.numel() for n, p in self.named_parameters() if not n.startswith("embed."))

    def quant_linears(self) -> list[QuantLinear]:
        return [m for m in self.modules() if isinstance(m, QuantLinear)]

    @torch.no_grad()
    def input_hessians(self, batches: Iterable[torch.Tensor], autocast=None) -> dict["QuantLinear", "HessianAccumulator"]:
        """GPTQ's H = 2 X X^T / n of every block Linear, X the inputs the layer multiplies (after
        its activation quantization), from forward passes over ``batches`` of (B, T + 1) ids."""
        acc = {m: HessianAccumulator(m.in_features, m.weight.device) for m in self.quant_linears()}

        def hook(m, args):
            acc[m].add(fake_quant(args[0], m.quant.activation_bits, m.quant.activation_granularity))

        handles = [m.register_forward_pre_hook(hook) for m in acc]
        was_training = self.training
        self.eval()
        try:
            for batch in batches:
                with autocast() if autocast else nullcontext():
                    self(batch[:, :-1])
        finally:
            for h in handles:
                h.remove()
            self.train(was_training)
        return acc

    @contextmanager
    def post_quantized(self, bits: int, method: str = "rtn", hessians: dict | None = None) -> Iterator["Decoder"]:
        """Temporarily replace every block weight by its post-training quantization to ``bits``
        (per output channel; ``rtn``: round to nearest, ``gptq``: GPTQ with the input Hessians
        ``hessians`` from :meth:`input_hessians`) of the weight the model was trained with (the
        ``weight_bits`` fake-quantized one). Activation and KV quantization stay as trained."""
        if method not in ("rtn", "gptq"):
            raise ValueError(f"PTQ method must be rtn or gptq, got {method!r}")
        if method == "gptq" and hessians is None:
            raise ValueError("GPTQ needs the layers' input Hessians (Decoder.input_hessians)")
        linears = self.quant_linears()
        saved = [(m.weight.data.clone(), m.quant) for m in linears]
        try:
            with torch.no_grad():
                for m in linears:
                    trained = fake_quant(m.weight, m.quant.weight_bits, "channel")
                    if method == "gptq":
                        m.weight.data.copy_(gptq_quantize(trained, hessians[m].H, bits))
                    else:
                        m.weight.data.copy_(quantize_weight_rtn(trained, bits))
                    m.quant = replace(m.quant, weight_bits=16)
            yield self
        finally:
            for m, (w, q) in zip(linears, saved):
                m.weight.data.copy_(w)
                m.quant = q
