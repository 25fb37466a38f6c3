"""Sweep presets: grids of N x D x precision.

- ``ci``: five tiny runs in seconds, for tests of the machinery (seeds, data sources, PTQ
  methods, executors); too few to fit the law.
- ``smoke``: under a minute on 2 CPU cores; what CI runs. Tiny models (3 N x 3 D at 16
  bits, enough for a base-law fit, and 3- and 8-bit weights at one point): enough to see
  training work, loss fall with N and D, 3-bit weights lose to 8-bit ones and PTQ to 3 bits
  hurt more than to 8.
- ``quick``: under 20 minutes on 2 CPU cores; enough 16-bit runs (5 N x 4 D) to fit the
  base law, weight-precision runs (3..8 bits, 3 N, 2 D) to fit gamma_w and n_w, and
  activation and KV runs (4, 6, 8 bits at 2 N) for gamma_a, gamma_kv.
- ``gpu``: about an hour on one H100 (the default when CUDA is present).
- ``paper``: the grid of Kumar et al. 2024 (N 30M..220M, D 1.5B..26B, ~400 runs); meant to
  be split over many GPUs with ``--shard i/n``.
- ``formats``: bf16, e4m3, e5m2, mxfp4 and nvfp4 at one N and D (1.6M parameters, 10M tokens),
  two seeds each: the real-format gaps on one GPU in a few minutes.
Every preset has a ``format_point`` (N, D): ``--formats`` replaces its runs by one run per
training format there (:func:`with_formats`).
Token counts are whole numbers of batches, so the store's D is exactly what a model saw.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import product
from typing import Sequence

from precplan.errors import PrecplanError
from precplan.validate._model import SHAPES
from precplan.validate._curves import CHECKPOINTS, checkpoint_steps
from precplan.validate._train import RunSpec

__all__ = ["PRESETS", "Preset", "get_preset", "lr_paper", "lr_small_batch", "with_formats", "with_overrides"]


def lr_small_batch(params: int) -> float:
    """Peak LR for batches of ~2K-32K tokens: tuned on the built-in source (4e-3 at 400K
    parameters, 6e-3 at 100K), scaled as N^-0.3 and capped at 1e-2."""
    return min(1e-2, 4e-3 * (4e5 / params) ** 0.3)


def lr_paper(params: int) -> float:
    """The paper's peak LR, 6e-4 at 30M parameters (batch 256 x 1024), scaled as N^-0.3."""
    return 6e-4 * (3e7 / params) ** 0.3


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    specs: tuple[RunSpec, ...]
    flops_per_s: float  # assumed sustained training throughput, for the time estimate only
    device_hint: str
    format_point: tuple[str, float] | None = None  # (shape, tokens) of --formats runs
    seeds: int = 1  # seeds per configuration when --seeds is not given
    formats: tuple[str, ...] = ()  # the training formats of its runs (a format preset)

    def estimate_seconds(self, vocab: int = 256, specs: Sequence[RunSpec] | None = None,
                         checkpoints: int = CHECKPOINTS) -> float:
        """A rough time for ``specs`` (default: the whole grid): training plus 1 + len(ptq_bits)
        validation passes, and one per checkpoint before the final step, at the assumed throughput."""
        total = 0.0
        for s in self.specs if specs is None else specs:
            per_token = SHAPES[s.shape].flops_per_token(vocab, s.seq_len)
            passes = 1 + len(s.ptq_bits) + sum(1 for k in checkpoint_steps(s.steps, checkpoints) if k < s.steps)
            evals = s.val_tokens * passes / 3  # forward only: a third of a step
            total += per_token * (s.steps * s.batch_size * s.seq_len + evals)
        return total / self.flops_per_s


def _grid(shapes, tokens, bits, **common) -> list[RunSpec]:
    """Every (shape, tokens, (w, a, kv)) combination; tokens rounded to whole batches."""
    out = []
    batch = common["batch_size"] * common["seq_len"]
    lr_rule = common.pop("lr_rule")
    for shape, d, (w, a, kv) in product(shapes, tokens, bits):
        d = max(batch, round(d / batch) * batch)
        out.append(RunSpec(shape, int(d), w, a, kv, lr=round(lr_rule(SHAPES[shape].params), 6), **common))
    return out


def _w(*bits: int) -> list[tuple[int, int, int]]:
    return [(b, 16, 16) for b in bits]


def _a(*bits: int) -> list[tuple[int, int, int]]:
    return [(16, b, 16) for b in bits]


def _kv(*bits: int) -> list[tuple[int, int, int]]:
    return [(16, 16, b) for b in bits]


def _unique(specs: list[RunSpec]) -> tuple[RunSpec, ...]:
    seen, out = set(), []
    for s in specs:
        if s not in seen:
            seen.add(s)
            out.append(s)
    return tuple(out)


def _smoke() -> Preset:
    c = dict(batch_size=16, seq_len=128, val_tokens=8192, lr_rule=lr_small_batch)
    specs = (
        _grid(["25K", "50K", "100K"], [65_536, 131_072, 262_144], [(16, 16, 16)], **c)
        + _grid(["25K"], [262_144], _w(8, 3), **c)
    )
    return Preset("smoke", "11 tiny runs (25K-100K params, 65K-262K tokens): CI's check, < 1 min on 2 CPU cores",
                  _unique(specs), 5e10, "cpu", ("25K", 131_072))


def _ci() -> Preset:
    c = dict(batch_size=16, seq_len=64, val_tokens=4096, lr_rule=lr_small_batch)
    specs = _grid(["25K", "50K"], [32_768, 65_536], [(16, 16, 16)], **c) + _grid(["25K"], [65_536], _w(3), **c)
    return Preset("ci", "5 tiny runs (25K-50K params, 33K-66K tokens): a few seconds; for tests of the machinery, too few"
                  " runs to fit the law", _unique(specs), 5e10, "cpu", ("25K", 65_536))


def _quick() -> Preset:
    c = dict(batch_size=16, seq_len=128, val_tokens=32768, lr_rule=lr_small_batch)
    shapes = ["25K", "50K", "100K", "200K", "400K"]
    specs = (
        _grid(shapes, [2.5e5, 5e5, 1e6, 2e6], [(16, 16, 16)], **c)
        + _grid(["25K", "100K"], [1e6], _w(3, 4, 5, 6, 8), **c)
        + _grid(["25K", "100K"], [2e6], _w(3, 4, 6), **c)
        + _grid(["400K"], [1e6], _w(3, 4), **c)
        + _grid(["25K", "100K"], [1e6], _a(4, 6, 8) + _kv(4, 6, 8), **c)
    )
    return Preset("quick", f"{len(_unique(specs))} runs (25K-400K params, 0.25M-2M tokens), < 20 min on 2 CPU cores",
                  _unique(specs), 5e10, "cpu", ("100K", 1e6))


def _gpu() -> Preset:
    c = dict(batch_size=64, seq_len=512, val_tokens=1 << 20, lr_rule=lr_small_batch)
    specs = (
        _grid(["1.6M", "3M", "6M", "12M", "25M"], [5e7, 1e8, 2e8, 4e8], [(16, 16, 16)], **c)
        + _grid(["3M", "12M"], [1e8, 4e8], _w(3, 4, 5, 6, 8), **c)
        + _grid(["6M"], [2e8], _a(4, 6, 8) + _kv(4, 6, 8) + [(4, 4, 4), (8, 8, 8)], **c)
    )
    return Preset("gpu", f"{len(_unique(specs))} runs (1.6M-25M params, 50M-400M tokens), about an hour on one H100",
                  _unique(specs), 1.5e14, "cuda", ("6M", 2e8))


def _paper() -> Preset:
    c = dict(batch_size=256, seq_len=1024, val_tokens=1 << 23, lr_rule=lr_paper)
    shapes, tokens = ["30M", "60M", "110M", "220M"], [1.5e9, 3e9, 6e9, 13e9, 26e9]
    specs = (
        _grid(shapes, tokens, [(16, 16, 16)], **c)
        + _grid(shapes, tokens, _w(3, 4, 5, 6, 8, 12), **c)
        + _grid(shapes, tokens, _a(4, 5, 6, 8, 12), **c)
        + _grid(shapes, tokens, _kv(4, 5, 6, 8, 12), **c)
        + _grid(shapes, tokens, [(4, 4, 4), (6, 6, 6), (8, 8, 8)], **c)
    )
    return Preset("paper", f"{len(_unique(specs))} runs: the grid of Kumar et al. 2024 (N 30M-220M, D 1.5B-26B); shard it over GPUs",
                  _unique(specs), 3e14, "cuda", ("110M", 6e9))


FORMATS_DEFAULT = ("bf16", "e4m3", "e5m2", "mxfp4", "nvfp4")


def _formats() -> Preset:
    c = dict(batch_size=64, seq_len=512, val_tokens=1 << 19, lr_rule=lr_small_batch)
    base = Preset("formats", "", (), 1.5e14, "cuda", ("1.6M", 1e7), seeds=2)
    specs = format_specs(base, FORMATS_DEFAULT, **c)
    return replace(base, specs=specs, formats=FORMATS_DEFAULT,
                   description=f"{len(FORMATS_DEFAULT)} training formats ({', '.join(FORMATS_DEFAULT)}) at N = 1.6M,"
                   " D = 10M tokens: about two minutes on one H100")


PRESETS = {"ci": _ci, "smoke": _smoke, "quick": _quick, "gpu": _gpu, "paper": _paper, "formats": _formats}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise PrecplanError(f"--preset {name!r}: unknown preset (valid: {', '.join(PRESETS)})")
    return PRESETS[name]()


def format_specs(preset: Preset, formats: Sequence[str], backward: bool = False, **common) -> tuple[RunSpec, ...]:
    """One run per training format at the preset's ``format_point``, with the settings of its
    first run (batch, sequence length, validation tokens, LR rule) unless ``common`` gives them.
    A format run's bits are its element bits on weights and activations (16 for KV: attention
    is not quantized); it has no post-training quantization."""
    from precplan.validate._formats import get_format

    if preset.format_point is None:
        raise PrecplanError(f"preset {preset.name!r} has no format point; formats need one (N, D)")
    if not common:
        first = preset.specs[0]
        common = dict(batch_size=first.batch_size, seq_len=first.seq_len, val_tokens=first.val_tokens,
                      lr_rule=lr_small_batch if first.batch_size * first.seq_len < 1e5 else lr_paper)
    shape, tokens = preset.format_point
    out = []
    for name in formats:
        f = get_format(name)
        bits = min(16, f.elem.bits)
        (spec,) = _grid([shape], [tokens], [(bits, bits, 16)], **dict(common))
        out.append(replace(spec, ptq_bits=(), format=f.name, format_backward=bool(backward)))
    return tuple(out)


def with_formats(preset: Preset, formats: Sequence[str], backward: bool = False) -> Preset:
    """The preset with its runs replaced by one per format in ``formats`` at its format point
    (the ``formats`` preset's settings kept)."""
    specs = format_specs(preset, formats, backward)
    shape, tokens = preset.format_point or ("?", 0)
    return replace(preset, specs=specs, formats=tuple(s.format for s in specs),
                   description=f"{len(specs)} training formats ({', '.join(s.bits_label for s in specs)}) at N = {shape},"
                   f" D = {specs[0].tokens:,} tokens" if specs else preset.description)


def with_overrides(preset: Preset, seeds: int | None = None, **fields) -> Preset:
    """The preset with some RunSpec fields changed in every run (e.g. ``seed``), each run
    repeated with ``seeds`` seeds (``seed``, ``seed + 1``, ...; the repeats of a configuration
    follow it, so a partial sweep has every seed of the configurations it reached); ``seeds=None``:
    the preset's own number (1 but for the ``formats`` preset)."""
    seeds = preset.seeds if seeds is None else seeds
    specs = tuple(replace(s, **fields) for s in preset.specs)
    if seeds > 1:
        specs = tuple(replace(s, seed=s.seed + k) for s in specs for k in range(seeds))
        preset = replace(preset, description=f"{preset.description}; x {seeds} seeds")
    return replace(preset, specs=specs)
