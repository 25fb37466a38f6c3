"""The numbers a practitioner needs beside a plan: training memory per GPU and the fewest GPUs
that hold the model, and the memory of one serving replica with the GPUs it takes.

Every constant here is an assumption about the training or serving setup, not a law's output;
each is named and sourced:

- **Model states**: mixed-precision Adam keeps 2 (16-bit weights) + 2 (16-bit gradients) + 12
  (fp32 master weights, momentum and variance) = :data:`STATE_BYTES_PER_PARAM` 16 bytes per
  parameter (Rajbhandari et al. 2020, "ZeRO", sec. 3.1: "16Ψ bytes"), sharded evenly over
  every GPU (ZeRO stage 3 / FSDP full sharding, ibid. sec. 5.3).
- **Activations**: full activation checkpointing (recomputation), per GPU a micro-batch of
  :data:`MICRO_BATCH` sequence of :data:`SEQUENCE` tokens (ASSUMED, Llama 3's 8K context):
  the 16-bit input of every layer, 2 s b h bytes a layer (Korthikanti et al. 2022, "Reducing
  Activation Recomputation in Large Transformer Models", Table 2: full recomputation stores
  2sbh L), plus one layer being recomputed, 34 s b h bytes (ibid. eq. 1 without the 5as^2b
  attention-score term, which fused (flash) attention does not store).
- **Model shape** from N by :data:`precplan.costs.SHAPE_RULE` (ASSUMED).
- **KV cache** with grouped-query attention: :data:`DEFAULT_GQA` = 4 query heads per KV head
  (Llama 3 8B: 32 heads, 8 KV heads, Llama Team 2024, "The Llama 3 Herd of Models", Table 3;
  Mistral 7B: 32 heads, 8 KV heads, Jiang et al. 2023, Table 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from precplan.costs import SHAPE_RULE, model_shape

__all__ = [
    "DEFAULT_GQA", "MICRO_BATCH", "SEQUENCE", "STATE_BYTES_PER_PARAM", "ServingReplica", "TrainingMemory",
    "activation_bytes", "serving_replica", "training_memory",
]

STATE_BYTES_PER_PARAM = 16.0  # 2 + 2 + 12 (Rajbhandari et al. 2020, sec. 3.1)
SEQUENCE = 8192.0  # tokens per training sequence: ASSUMED (Llama 3 pre-training context)
MICRO_BATCH = 1.0  # sequences per GPU per micro-step: ASSUMED
CHECKPOINT_BYTES = 2.0  # 16-bit layer input kept per layer (Korthikanti et al. 2022, Table 2: full recomputation 2sbh)
LAYER_BYTES = 34.0  # one recomputed layer's activations per s b h (ibid. eq. 1, no attention scores)
DEFAULT_GQA = 4.0  # query heads per KV head (Llama 3 8B 32/8; Mistral 7B 32/8)

STATES = "16 bytes/param (2 weights + 2 gradients + 12 fp32 Adam states, Rajbhandari et al. 2020 sec. 3.1) sharded over every GPU (ZeRO-3)"
ACTIVATIONS = (f"activations: full checkpointing, {MICRO_BATCH:g} sequence of {SEQUENCE:,.0f} tokens per GPU"
               " (Korthikanti et al. 2022, eq. 1 and Table 2; ASSUMED setup)")


@dataclass(frozen=True)
class TrainingMemory:
    """Training memory per GPU under ZeRO-3 sharding (see the module's assumptions)."""

    state_bytes: float  # all model states, 16 N
    state_bytes_per_gpu: float | None  # 16 N / gpus (None without a cluster size)
    activation_bytes_per_gpu: float
    total_bytes_per_gpu: float | None
    gpu_memory_bytes: float | None
    gpus: int | None
    fits: bool | None  # total per GPU <= the card's memory
    min_gpus: int | None  # fewest GPUs whose memory holds the sharded states beside the activations
    assumption: str = STATES + "; " + ACTIVATIONS


@dataclass(frozen=True)
class ServingReplica:
    """Memory of one serving replica: served weights plus the KV cache of its decode batch."""

    weights_bytes: float
    kv_cache_bytes: float
    total_bytes: float
    gpu_memory_bytes: float | None
    gpus_per_replica: int | None  # ceil(total / one card's memory)
    gqa: float
    assumption: str = ""


def activation_bytes(params: float, sequence: float = SEQUENCE, micro_batch: float = MICRO_BATCH) -> float:
    """Activation bytes per GPU with full checkpointing: (2 L + 34) s b h for an N-parameter model
    of the assumed shape (L layers, width h)."""
    layers, width = (float(x) for x in model_shape(params))
    return (CHECKPOINT_BYTES * layers + LAYER_BYTES) * sequence * micro_batch * width


def training_memory(params: float, gpus: int | None, gpu_memory: float | None) -> TrainingMemory:
    """Training memory per GPU for ``params`` sharded over ``gpus`` GPUs of ``gpu_memory`` bytes.

    Parameters
    ----------
    params : float
        Parameters N.
    gpus : int, optional
        GPUs the states are sharded over (``None``: per-GPU figures left out).
    gpu_memory : float, optional
        Bytes of one card (``None``: no fit check and no minimum count).

    Returns
    -------
    TrainingMemory
        States (16 N), per-GPU states and activations, whether they fit, and the fewest GPUs
        that hold them: ceil(16 N / (memory - activations)).

    Example
    -------
    >>> m = training_memory(7e9, 8, 80e9)
    >>> round(m.state_bytes_per_gpu / 1e9)
    14
    """
    states = STATE_BYTES_PER_PARAM * params
    act = activation_bytes(params)
    per_gpu = None if gpus is None else states / gpus
    total = None if per_gpu is None else per_gpu + act
    fits = None if total is None or gpu_memory is None else bool(total <= gpu_memory)
    room = None if gpu_memory is None else gpu_memory - act
    min_gpus = None if room is None or room <= 0 else max(1, math.ceil(states / room))
    return TrainingMemory(states, per_gpu, act, total, gpu_memory, gpus, fits, min_gpus)


def serving_replica(weights_bytes: float, kv_bytes: float | None, gpu_memory: float | None, gqa: float) -> ServingReplica:
    """One replica's memory (served weights + KV cache) and the GPUs it needs, ceil(total / card).

    Example
    -------
    >>> serving_replica(140e9, 20e9, 80e9, 4.0).gpus_per_replica
    2
    """
    kv = 0.0 if kv_bytes is None else float(kv_bytes)
    total = float(weights_bytes) + kv
    n = None if gpu_memory is None else max(1, math.ceil(total / gpu_memory))
    return ServingReplica(float(weights_bytes), kv, total, gpu_memory, n, gqa,
                          f"served weights + KV cache of the decode batch; GQA {gqa:g} query heads per KV head; {SHAPE_RULE}")
