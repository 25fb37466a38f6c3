"""Shared fixtures of the fit tests: where the Sardana runs live, synthetic runs from known laws."""

from __future__ import annotations

import itertools

import numpy as np

from precplan.laws._law import Law

from conftest import EXTERNAL


SARDANA = EXTERNAL / "sardana2024_training_runs.csv"
SARDANA_COLUMNS = {"params": "Parameters", "tokens": "Tokens", "loss": "Smoothed Loss"}
SARDANA_COLUMNS_ARG = 'params=Parameters,tokens=Tokens,loss="Smoothed Loss"'

SIZES = [30e6, 60e6, 110e6, 220e6, 440e6]
TOKENS = [1.5e9, 3e9, 6e9, 13e9, 26e9]


def chinchilla_records(law: Law, noise: float = 0.0, seed: int = 0, sizes=SIZES, tokens=TOKENS) -> list[dict]:
    """16-bit runs on a grid of N x D with multiplicative log-normal noise."""
    rng = np.random.default_rng(seed)
    out = []
    for n, d in itertools.product(sizes, tokens):
        loss = float(law.loss(n, d)) * float(np.exp(rng.normal(0.0, noise))) if noise else float(law.loss(n, d))
        out.append({"params": n, "tokens": d, "loss": loss})
    return out


def precision_records(law: Law, weight_bits=(3, 4, 5, 6, 8, 16), post_bits=(), sizes=SIZES, tokens=TOKENS) -> list[dict]:
    """Runs trained with quantized weights (activations and KV at 16 bits), noise-free; with
    ``post_bits``, one more row per post-training precision below the training precision."""
    out = []
    for n, d, w in itertools.product(sizes, tokens, weight_bits):
        loss = float(law.loss(n, d, w, 16, 16))
        out.append({"params": n, "tokens": d, "weight_bits": w, "loss": loss})
        for p in post_bits:
            if p < w:
                out.append({"params": n, "tokens": d, "weight_bits": w, "loss": loss, "post_bits": p,
                            "post_loss": float(law.loss(n, d, w, 16, 16, post=p))})
    return out
