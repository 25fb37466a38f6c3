"""The plan a user reads: result dataclasses (plain data, JSON-ready through precplan.io.to_jsonable)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from precplan.costs import GpuCost
from precplan.laws import Decomposition
from precplan.precision import Bits

__all__ = ["Alternative", "HardwareOption", "Plan", "Reference", "Shift"]


@dataclass(frozen=True)
class Alternative:
    """The same budget (or target) spent at another training precision, each with its own optimal N, D."""

    label: str
    bits: Bits
    feasible: bool
    params: float | None
    tokens: float | None
    tokens_per_param: float | None
    loss: float | None
    total_flops: float | None
    loss_gap: float | None  # loss minus the plan's loss (> 0: worse)
    flops_ratio: float | None  # total FLOPs over the plan's (target-loss mode: > 1 costs more)
    law: str | None = None  # the law variant that predicts this row (float formats: the float variant)


@dataclass(frozen=True)
class Shift:
    """The optimum when post-training quantization is ignored, to show how it moves."""

    params: float
    tokens: float
    tokens_per_param: float
    bits: Bits
    loss_before_ptq: float
    loss_after_ptq: float


@dataclass(frozen=True)
class Reference:
    """The training-compute-optimal (inference-blind, Chinchilla-style) plan at the same loss,
    charged for the same inference demand: what inference-aware sizing saves (Sardana et al. 2024)."""

    params: float
    tokens: float
    tokens_per_param: float
    bits: Bits
    train_flops: float
    inference_flops: float
    total_flops: float
    saved_flops: float
    saved_fraction: float  # of the lifetime cost (GPU-hours on a GPU, else FLOPs)
    train_gpu_hours: float | None = None  # with a GPU
    inference_gpu_hours: float | None = None
    total_gpu_hours: float | None = None
    saved_gpu_hours: float | None = None


@dataclass(frozen=True)
class HardwareOption:
    """The best plan on one GPU of a ``--gpu h100,b200`` list, for the side-by-side table."""

    gpu: str
    chosen: bool
    train_format: str | None
    bits: Bits
    params: float
    tokens: float
    loss: float
    gpu_hours: float
    wall_days: float | None
    dollars: float | None

    def __repr__(self) -> str:
        return f"<HardwareOption {self.gpu}{' (chosen)' if self.chosen else ''}: loss {self.loss:.4f}, {self.gpu_hours:.3g} GPU-hours>"


@dataclass(frozen=True)
class Plan:
    """One optimal plan: N*, D*, bits, predicted loss, costs, and the alternatives."""

    law: str
    mode: str  # "budget", "target-loss" or "fixed"
    budget: float | None
    target_loss: float | None
    params: float
    tokens: float
    tokens_per_param: float
    loss: float
    bits: Bits
    format: str | None  # the chosen format's name when candidates were given as formats (e.g. fp8-e4m3)
    cost_bits: float  # bits training is paid at: max(weights, activations, kv)
    inference_precision: float | None
    serve_bits: float  # bits inference compute is paid at
    inference_tokens: float
    train_flops: float
    inference_flops: float
    total_flops: float
    weights_memory_bytes: float
    serve_memory_bytes: float
    decomposition: Decomposition
    comparison: list[Alternative] = field(default_factory=list)
    without_ptq: Shift | None = None
    reference: Reference | None = None
    cost_model: str = "idealized"  # "idealized" (C = (6/16) N D P) or "hardware" (a GPU's native formats)
    train_format: str | None = None  # the format training runs in (fp8-e4m3); with a GPU, its native format
    emulated: bool = False  # the training width has no native format on the GPU: it runs in train_format
    serve_format: str | None = None  # with a GPU: the native format serving runs in
    kv_cache_bytes: float | None = None  # KV cache at the serving context and batch (with a GPU or --context)
    gpu: str | None = None  # catalog id (h100)
    gpus: int | None = None
    gpu_hours: float | None = None  # training + inference
    wall_days: float | None = None  # training wall-clock days on ``gpus`` GPUs
    dollars: float | None = None  # null without --price
    budget_gpu_hours: float | None = None  # the hardware budget the plan was given
    gpu_cost: GpuCost | None = None  # the breakdown (training / inference GPU-hours and dollars)
    hardware_options: list[HardwareOption] = field(default_factory=list)
    assumed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    uncertainty: dict | None = None  # intervals over the law's coefficient samples (precplan.optimize._uncertainty)
    # the answer first (precplan.optimize._explain): filled by plan() and PlanRequest.explain()
    verdict: str | None = None  # one or two sentences: what to do, and how far to trust it
    trust: str | None = None  # the trust phrase, graded by extrapolation_factor
    extrapolation_factor: float | None = None  # the largest factor of N, D, D/N beyond the law's fit range
    plausibility: Any = None  # precplan.optimize._verdict.Plausibility
    training_memory: Any = None  # precplan.optimize._practical.TrainingMemory
    serving_replica: Any = None  # precplan.optimize._practical.ServingReplica

    def __repr__(self) -> str:
        if self.mode == "target-loss":
            where = f"target loss {self.target_loss:g}"
        else:
            where = "fixed size" if self.budget is None else f"budget {self.budget:.3g}"
        gpu = "" if self.gpu is None else f" on {self.gpu}"
        fmt = f" ({self.format or self.train_format})" if (self.format or self.train_format) else ""
        return (f"<Plan by {self.law} for {where}{gpu}: N={self.params:.3g}, D={self.tokens:.3g},"
                f" {self.bits.weights:g}-bit{fmt}, loss {self.loss:.4f}>")


@dataclass(frozen=True)
class NotApplicable:
    """A law of a :func:`~precplan.optimize.compare_laws` list that cannot answer the request
    (e.g. a law without precision terms asked about 4-bit training), and why."""

    law: str
    applicable: bool
    reason: str
