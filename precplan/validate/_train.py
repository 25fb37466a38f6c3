"""One training run: a quantized decoder on D tokens, then its validation and post-PTQ losses.

Recipe (Kumar et al. 2024; docs/science.md section 11): AdamW (0.9, 0.95), weight decay 0.1 on
matrices, cosine schedule with 10% linear warmup decaying to 10% of the peak, gradient
clipping at 1.0, bf16 autocast on CUDA (fp32 master weights). After training, the weights
are quantized post hoc to each of ``ptq_bits`` (per output channel, round-to-nearest or GPTQ
calibrated on training data: ``ptq_method``) and the validation loss is measured again.

Checkpoints: the validation loss is also measured at ``checkpoints`` evenly spaced steps of
the run (:func:`checkpoint_steps`; the last is the final step, whose evaluation is the run's
final loss), the training curves ``precplan fit --curves`` reads (Choshen et al. 2024).
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import queue
import threading
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from precplan.validate._curves import CHECKPOINTS, MAX_CHECKPOINTS, checkpoint_steps  # noqa: F401 - re-exported
from precplan.validate._data import Source
from precplan.validate._model import SHAPES, Decoder, QuantConfig
from precplan.errors import PrecplanError
from precplan.units import format_count

__all__ = [
    "CALIBRATION_SEQUENCES", "CHECKPOINTS", "PTQ_BITS", "Outcome", "Placement", "RunSpec", "build_optimizer",
    "calibration_batches", "compiled_loss", "compute_kind", "evaluate", "lr_at", "micro_batch_size", "micro_loss",
    "placement", "prefetch", "train_run", "train_step",
]

PTQ_BITS = (3, 4, 6, 8)


@dataclass(frozen=True)
class RunSpec:
    """Everything that defines a run (its id is a hash of these and the data's fingerprint)."""

    shape: str
    tokens: int
    weight_bits: int = 16
    activation_bits: int = 16
    kv_bits: int = 16
    seed: int = 0
    batch_size: int = 16
    seq_len: int = 128
    lr: float = 3e-3
    val_tokens: int = 32768
    ptq_bits: tuple[int, ...] = PTQ_BITS
    activation_granularity: str = "token"
    kv_granularity: str = "token"
    ptq_method: str = "rtn"
    compute: str = "cpu-fp32"  # device kind and training dtype (see :func:`compute_kind`)
    weight_decay: float = 0.1
    warmup_frac: float = 0.1
    min_lr_frac: float = 0.1
    # A training format (validate/_formats.py: e4m3, mxfp4, nvfp4, ...) instead of the integer
    # bit-width path; the bits above then hold the format's element bits. "" = the bit-width path.
    format: str = ""
    format_backward: bool = False  # also quantize the backward GEMM inputs (format runs only)

    @property
    def params(self) -> int:
        return SHAPES[self.shape].params

    @property
    def steps(self) -> int:
        return max(1, math.ceil(self.tokens / (self.batch_size * self.seq_len)))

    @property
    def quant(self) -> QuantConfig:
        return QuantConfig(self.weight_bits, self.activation_bits, self.kv_bits, self.activation_granularity,
                           self.kv_granularity, self.format, self.format_backward)

    @property
    def bits_label(self) -> str:
        if self.format:
            return f"{self.format}+bwd" if self.format_backward else self.format
        return f"w{self.weight_bits}a{self.activation_bits}kv{self.kv_bits}"

    def run_id(self, data_fingerprint: str) -> str:
        """Readable and unique: shape, tokens, bits, seed and a hash of the full config."""
        fields = asdict(self)
        if not self.format:  # the bit-width path: ids as before the format fields existed
            del fields["format"], fields["format_backward"]
        blob = json.dumps({**fields, "data": data_fingerprint}, sort_keys=True)
        digest = hashlib.sha256(blob.encode()).hexdigest()[:8]
        return f"N{self.shape}-D{format_count(self.steps * self.batch_size * self.seq_len)}-{self.bits_label}-s{self.seed}-{digest}"


@dataclass
class Placement:
    """Where a run computes: device, autocast and host-to-device transfer settings."""

    device: torch.device
    autocast_dtype: torch.dtype | None = None
    pin_memory: bool = False
    label: str = "cpu"

    @property
    def dtype(self) -> str:
        """The training compute dtype: bf16 under autocast, else fp32."""
        return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.autocast_dtype]

    @property
    def compute(self) -> str:
        """Device kind and dtype, e.g. ``cuda-bf16``: part of every run's id (a run trained in
        bf16 on a GPU is not the same measurement as one in fp32 on a CPU)."""
        return f"{self.device.type}-{self.dtype}"

    def autocast(self):
        if self.autocast_dtype is None:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    def host_tensor(self, batch: np.ndarray) -> torch.Tensor:
        """A batch as a (pinned, on CUDA) host tensor; called in the prefetch thread."""
        t = torch.from_numpy(batch)
        return t.pin_memory() if self.pin_memory else t

    def to_device(self, batch: torch.Tensor) -> torch.Tensor:
        return batch.to(self.device, non_blocking=self.pin_memory)


def compute_kind(device: str = "auto") -> str:
    """The ``compute`` a run on ``device`` (auto, cpu, cuda, cuda:N) gets, without needing the
    device: cuda trains under bf16 autocast, cpu in fp32 (as :func:`placement` sets them up)."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return "cuda-bf16" if device.startswith("cuda") else "cpu-fp32"


def placement(device: str = "auto") -> Placement:
    """``auto`` picks CUDA when present; CUDA gets bf16 autocast, TF32 and pinned transfers."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except RuntimeError:
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda"):
        raise PrecplanError(f"--device {device!r}: expected auto, cpu, cuda or cuda:N")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise PrecplanError("--device cuda: no CUDA device is visible to torch (use --device cpu or auto)")
        dev = torch.device("cuda", torch.cuda.current_device() if dev.index is None else dev.index)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        return Placement(dev, torch.bfloat16, True, f"cuda ({torch.cuda.get_device_name(dev)})")
    return Placement(dev, None, False, f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)")


def lr_at(step: int, spec: RunSpec) -> float:
    """Linear warmup over ``warmup_frac`` of the steps, then cosine down to ``min_lr_frac``."""
    warmup = max(1, int(spec.warmup_frac * spec.steps))
    if step < warmup:
        return spec.lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, spec.steps - warmup)
    return spec.lr * (spec.min_lr_frac + (1 - spec.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * progress)))


class _Failed:
    """What the prefetch thread hands over instead of a batch when reading data raised."""

    def __init__(self, exc: BaseException):
        self.exc = exc


def prefetch(it: Iterator[np.ndarray], depth: int = 4) -> Iterator[np.ndarray]:
    """Produce batches in a background thread (numpy releases the GIL) while the model trains.
    An exception in the thread is raised here, in the consumer, instead of leaving it waiting
    for a batch that never comes."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in it:
                if not put(item):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed over to the consumer, which re-raises it
            put(_Failed(exc))
            return
        put(_Failed(RuntimeError("the training data stream ended")))

    threading.Thread(target=work, daemon=True, name="prefetch").start()
    try:
        while True:
            item = q.get()
            if isinstance(item, _Failed):
                raise RuntimeError(f"data loading failed: {item.exc!r}") from item.exc
            yield item
    finally:
        stop.set()


def build_optimizer(model: Decoder, spec: RunSpec, fused: bool) -> torch.optim.AdamW:
    """AdamW (0.9, 0.95); weight decay on matrices only (not gains, not the embedding)."""
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and not n.startswith("embed.")]
    rest = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and not n.startswith("embed."))]
    groups = [{"params": decay, "weight_decay": spec.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=spec.lr, betas=(0.9, 0.95), fused=fused or None)


@torch.no_grad()
def evaluate(model: Decoder, val: torch.Tensor, where: Placement, batch_size: int) -> float:
    """Mean next-token cross-entropy (nats/token) over the validation windows."""
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(val), batch_size):
        chunk = val[i : i + batch_size]
        with where.autocast():
            logits = model(chunk[:, :-1])
        loss = F.cross_entropy(logits.float().flatten(0, 1), chunk[:, 1:].flatten(), reduction="sum")
        total, count = total + float(loss), count + chunk[:, 1:].numel()
    model.train()
    return total / count


@dataclass
class Outcome:
    """What a run measured (the store adds the spec and ids)."""

    loss: float | None
    ptq: dict[str, float]
    diverged: bool
    tokens: int
    tokens_per_s: float
    wall_s: float
    initial_train_loss: float
    final_train_loss: float | None
    curve: list[tuple[int, float]] = field(default_factory=list)
    checkpoints: list[dict[str, Any]] = field(default_factory=list)  # {step, tokens_seen, loss} per evaluation
    diverged_at_tokens: int | None = None
    micro_batch: int | None = None  # sequences per forward/backward pass
    compiled: bool = False
    eval_batch: int | None = None  # sequences per validation forward pass


def micro_batch_size(spec: RunSpec, vocab: int, where: Placement) -> int:
    """Sequences per forward/backward pass: the whole batch on CPU; on CUDA the largest halving
    of it whose activations (about 34 d_model bytes per layer per token in bf16, plus the fp32
    logits and their gradient) fit in half the free memory. Gradients accumulate over the
    micro-batches, so the optimizer step is the batch's either way."""
    if where.device.type != "cuda":
        return spec.batch_size
    shape = SHAPES[spec.shape]
    per_token = shape.n_layers * shape.d_model * 34 * 2 + vocab * 4 * 3
    free, _ = torch.cuda.mem_get_info(where.device)
    fits = max(1, int(0.5 * free // (per_token * spec.seq_len)))
    micro = spec.batch_size
    while micro > fits and micro % 2 == 0:
        micro //= 2
    return micro


CALIBRATION_SEQUENCES = 128  # GPTQ calibration: 128 training sequences, as Frantar et al. 2022 (sec. 5)


def calibration_batches(source: Source, spec: RunSpec, micro: int, where: Placement) -> Iterator[torch.Tensor]:
    """GPTQ's calibration set: CALIBRATION_SEQUENCES windows of training data (a stream of its
    own, fixed by the run's seed), on the device in micro-batches."""
    stream = source.batches(micro, spec.seq_len, spec.seed + 7919)
    for _ in range(-(-CALIBRATION_SEQUENCES // micro)):
        yield where.to_device(where.host_tensor(next(stream)))


def micro_loss(model: Decoder, chunk: torch.Tensor, where: Placement) -> torch.Tensor:
    """Mean next-token cross-entropy of one micro-batch (B, T + 1): the forward pass, fake
    quantization included (what ``--compile`` compiles)."""
    with where.autocast():
        logits = model(chunk[:, :-1])
    return F.cross_entropy(logits.float().flatten(0, 1), chunk[:, 1:].flatten())


def compiled_loss(model: Decoder, where: Placement) -> Callable[[Decoder, torch.Tensor, Placement], torch.Tensor]:
    """:func:`micro_loss` through ``torch.compile`` (Inductor); a one-line error where it cannot work."""
    if not hasattr(torch, "compile"):
        raise PrecplanError(f"--compile needs torch >= 2.0 (this is torch {torch.__version__})")
    if where.device.type == "cpu":
        import shutil

        if not any(shutil.which(c) for c in ("cc", "gcc", "clang", "c++", "g++")):
            raise PrecplanError("--compile on the CPU needs a C/C++ compiler (Inductor generates C++): install one, or drop --compile")
    return torch.compile(micro_loss, dynamic=False)


def train_step(model: Decoder, opt: torch.optim.Optimizer, batch: torch.Tensor, micro: int, where: Placement,
               loss_fn: Callable[[Decoder, torch.Tensor, Placement], torch.Tensor] = micro_loss) -> torch.Tensor:
    """One optimizer step on ``batch`` (B, T + 1), accumulated over micro-batches of ``micro``
    sequences; returns the batch's mean loss (a device tensor: no host sync)."""
    opt.zero_grad(set_to_none=True)
    total = torch.zeros((), device=batch.device)
    for chunk in batch.split(micro):
        loss = loss_fn(model, chunk, where) * (len(chunk) / len(batch))
        loss.backward()
        total += loss.detach()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return total


def train_run(
    spec: RunSpec,
    source: Source,
    where: Placement,
    on_progress: Callable[[int, int, float], None] | None = None,
    log_every: int = 10,
    micro_batch: int | None = None,
    compile: bool = False,
    checkpoints: int = CHECKPOINTS,
) -> Outcome:
    """Train one model as ``spec`` says and measure it. ``on_progress(tokens_done, tokens_total,
    train_loss)`` is called every ``log_every`` steps. Divergence (a non-finite loss, or a
    training loss a nat above uniform guessing after warmup) stops the run early.
    ``micro_batch``: sequences per forward pass (default: :func:`micro_batch_size`).
    ``compile``: run the training forward pass through ``torch.compile``.
    ``checkpoints``: measure the validation loss after this many evenly spaced steps
    (:func:`checkpoint_steps`; 0: only at the end). Evaluation has no effect on training (no
    dropout, no random draws), so the final loss does not depend on it; its time is left out of
    ``tokens_per_s``."""
    t0 = time.perf_counter()
    torch.manual_seed(spec.seed)
    quant = spec.quant
    model = Decoder(SHAPES[spec.shape], source.vocab_size, spec.seq_len, quant).to(where.device)
    opt = build_optimizer(model, spec, fused=where.device.type == "cuda")
    val = torch.from_numpy(source.validation(spec.val_tokens, spec.seq_len)).to(where.device)
    batches = prefetch(map(where.host_tensor, source.batches(spec.batch_size, spec.seq_len, spec.seed)))
    tokens_per_step = spec.batch_size * spec.seq_len
    blowup = math.log(source.vocab_size) + 1.0
    warmup = max(1, int(spec.warmup_frac * spec.steps))
    micro = micro_batch or micro_batch_size(spec, source.vocab_size, where)
    loss_fn = compiled_loss(model, where) if compile else micro_loss
    eval_batch = max(1, 2 * micro)
    at = set(checkpoint_steps(spec.steps, checkpoints))
    evals: list[dict[str, Any]] = []
    eval_s = 0.0

    window, count = torch.zeros((), device=where.device), 0
    curve: list[tuple[int, float]] = []
    initial = final = None
    diverged_at = None
    t_train = time.perf_counter()
    for step in range(spec.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, spec)
        window += train_step(model, opt, where.to_device(next(batches)), micro, where, loss_fn)
        count, done = count + 1, step + 1
        if done % log_every == 0 or done == spec.steps or step == 0:
            mean, count = float(window) / count, 0
            window.zero_()
            initial = mean if initial is None else initial
            if not math.isfinite(mean) or (step >= warmup and mean > blowup):
                diverged_at = done * tokens_per_step
                break
            final = mean
            curve.append((done * tokens_per_step, round(mean, 5)))
            if on_progress:
                on_progress(done * tokens_per_step, spec.steps * tokens_per_step, mean)
        if done in at and done < spec.steps:  # the final step's checkpoint is the final evaluation below
            t_eval = time.perf_counter()
            evals.append(_checkpoint(done, done * tokens_per_step, evaluate(model, val, where, eval_batch)))
            eval_s += time.perf_counter() - t_eval
    train_s = max(time.perf_counter() - t_train - eval_s, 1e-9)
    trained = done * tokens_per_step
    if diverged_at is not None:
        return Outcome(None, {}, True, spec.steps * tokens_per_step, trained / train_s, time.perf_counter() - t0,
                       float(initial), final, curve, evals, diverged_at, micro_batch=micro)

    loss_val = evaluate(model, val, where, eval_batch)
    if spec.steps in at and math.isfinite(loss_val):
        evals.append(_checkpoint(spec.steps, trained, loss_val))
    ptq: dict[str, float] = {}
    hessians = None
    if spec.ptq_method == "gptq" and spec.ptq_bits:
        hessians = model.input_hessians(calibration_batches(source, spec, micro, where), where.autocast)
    for bits in spec.ptq_bits:
        with model.post_quantized(bits, spec.ptq_method, hessians):
            ptq[str(bits)] = evaluate(model, val, where, eval_batch)
    del hessians
    diverged = not math.isfinite(loss_val)
    return Outcome(
        loss=loss_val if not diverged else None,
        ptq={k: v for k, v in ptq.items() if math.isfinite(v)},
        diverged=diverged,
        tokens=trained,
        tokens_per_s=trained / train_s,
        wall_s=time.perf_counter() - t0,
        initial_train_loss=float(initial),
        final_train_loss=final,
        curve=curve,
        checkpoints=evals,
        micro_batch=micro,
        eval_batch=eval_batch,
        compiled=compile,
    )


def _checkpoint(step: int, tokens_seen: int, loss: float) -> dict[str, Any]:
    """One checkpoint of a store record (a non-finite loss as ``None``: the store is strict JSON)."""
    return {"step": step, "tokens_seen": tokens_seen, "loss": loss if math.isfinite(loss) else None}
