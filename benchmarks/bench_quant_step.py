"""Benchmark: the cost of fake quantization in a ``precplan validate`` training step.

Times a full training step (forward, backward, clipping, AdamW) of the same model with and
without fake quantization and prints the ratio and tokens/s. Target (issue 6): at most 1.3x
on CPU, 1.15x on GPU, for weights, activations and KV quantized at once (w4a4kv4).
With ``--compile`` both steps run their forward pass (fake quantization included) through
``torch.compile``, as ``validate --compile`` does; the GPU target (issue 14) is then <= 1.15x.
Run: ``python benchmarks/bench_quant_step.py [--device cpu|cuda] [--shapes 400K,1.6M] [--compile]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

TARGETS = {"cpu": 1.3, "cuda": 1.15}
CONFIGS = {"16-bit": (16, 16, 16), "w4": (4, 16, 16), "w4a4kv4": (4, 4, 4), "w8a8kv8": (8, 8, 8)}


def step_times(shape_name: str, bits: tuple[int, int, int], where, batch: int, seq: int, steps: int, warmup: int,
               compile: bool = False) -> list[float]:
    import torch

    from precplan.validate._model import SHAPES, Decoder, QuantConfig
    from precplan.validate._train import RunSpec, build_optimizer, compiled_loss, micro_loss

    torch.manual_seed(0)
    model = Decoder(SHAPES[shape_name], 256, seq, QuantConfig(*bits)).to(where.device)
    opt = build_optimizer(model, RunSpec(shape_name, 1), fused=where.device.type == "cuda")
    x = torch.randint(0, 256, (batch, seq + 1), device=where.device)
    loss_fn = compiled_loss(model, where) if compile else micro_loss
    times = []
    for i in range(warmup + steps):
        if where.device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        loss = loss_fn(model, x, where)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if where.device.type == "cuda":
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - t)
    return times


def main() -> None:
    from precplan.validate._train import placement

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--shapes", default=None, help="comma-separated shape names (default: 400K,1.6M on CPU; 6M,25M on CUDA)")
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--seq", type=int, default=None)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3, help="alternate the configurations this many times (noise control)")
    ap.add_argument("--compile", action="store_true", help="torch.compile the forward pass of both steps")
    args = ap.parse_args()
    where = placement(args.device)
    cuda = where.device.type == "cuda"
    shapes = (args.shapes or ("6M,25M" if cuda else "400K,1.6M")).split(",")
    batch, seq = args.batch or (64 if cuda else 16), args.seq or (512 if cuda else 128)
    target = TARGETS["cuda" if cuda else "cpu"]
    print(f"device: {where.label}; batch {batch} x seq {seq}; median of {args.steps} steps x {args.rounds} rounds;"
          f" {'torch.compile' if args.compile else 'eager'}")
    print(f"{'shape':>6} {'config':>9} {'ms/step':>9} {'tokens/s':>10} {'ratio':>6}  target <= {target}")
    worst = 0.0
    for shape in shapes:
        samples: dict[str, list[float]] = {k: [] for k in CONFIGS}
        for _ in range(args.rounds):  # interleave so drifting machine load hits every config alike
            for name, bits in CONFIGS.items():
                samples[name] += step_times(shape, bits, where, batch, seq, args.steps, warmup=3 + 5 * args.compile,
                                            compile=args.compile)
        base = statistics.median(samples["16-bit"])
        for name in CONFIGS:
            t = statistics.median(samples[name])
            ratio = t / base
            if name == "w4a4kv4":
                worst = max(worst, ratio)
            print(f"{shape:>6} {name:>9} {1e3 * t:9.2f} {batch * seq / t:10,.0f} {ratio:6.3f}")
    print(f"{'compiled' if args.compile else 'eager'} fake-quantized (w4a4kv4) step / unquantized step: worst {worst:.3f} (target <= {target}):"
          f" {'OK' if worst <= target else 'ABOVE TARGET'}")


if __name__ == "__main__":
    main()
