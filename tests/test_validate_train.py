"""One training run of ``precplan validate``: schedule, micro-batching, bf16 autocast, presets."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from precplan.errors import PrecplanError  # noqa: E402
from precplan.validate._data import ZipfFacts  # noqa: E402
from precplan.validate._presets import PRESETS, get_preset, lr_small_batch  # noqa: E402
from precplan.validate._quant import fake_quant  # noqa: E402
from precplan.validate._train import Placement, RunSpec, lr_at, placement, train_run  # noqa: E402

TINY = dict(shape="25K", tokens=16 * 64 * 40, batch_size=16, seq_len=64, val_tokens=2048, ptq_bits=(4,))


def test_schedule_warmup_then_cosine_to_ten_percent():
    spec = RunSpec("25K", 16 * 128 * 1000, lr=1e-3)  # 1000 steps, 100 of warmup
    assert spec.steps == 1000
    assert lr_at(0, spec) == pytest.approx(1e-5) and lr_at(99, spec) == pytest.approx(1e-3)
    assert lr_at(100, spec) == pytest.approx(1e-3)
    mid = 100 + 450  # halfway through the cosine: (1 + 0.1) / 2 of the peak
    assert lr_at(mid, spec) == pytest.approx(1e-3 * 0.55)
    assert lr_at(999, spec) == pytest.approx(1e-3 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 899 / 900))))
    assert min(lr_at(s, spec) for s in range(100, 1000)) >= 1e-4 * 0.999


@pytest.mark.slow
def test_micro_batches_accumulate_to_the_same_step():
    src, cpu = ZipfFacts(), placement("cpu")
    whole = train_run(RunSpec(**TINY), src, cpu)
    split = train_run(RunSpec(**TINY), src, cpu, micro_batch=4)
    assert split.loss == pytest.approx(whole.loss, abs=2e-3)
    assert [c[1] for c in split.curve] == pytest.approx([c[1] for c in whole.curve], abs=2e-3)


@pytest.mark.slow
def test_bf16_autocast_path_trains():
    # The CUDA path (bf16 autocast, fp32 master weights), exercised on the CPU.
    where = Placement(torch.device("cpu"), torch.bfloat16, False, "cpu bf16")
    out = train_run(RunSpec(**TINY, weight_bits=4, activation_bits=8, kv_bits=8), ZipfFacts(), where)
    assert not out.diverged and out.loss < out.initial_train_loss - 1.0
    assert set(out.ptq) == {"4"}
    # low-precision floats hold integers only up to 256: wider grids are quantized in fp32
    x = torch.randn(1000, generator=torch.Generator().manual_seed(0))
    q12 = fake_quant(x.bfloat16(), 12, "tensor")
    assert q12.dtype == torch.bfloat16
    assert torch.equal(q12, fake_quant(x.bfloat16().float(), 12, "tensor").bfloat16())
    q4 = fake_quant(x.bfloat16(), 4, "tensor")  # narrow grids stay in bf16, still 2^b - 1 levels
    assert q4.dtype == torch.bfloat16 and torch.unique(q4).numel() <= 15


@pytest.mark.slow
def test_seed_determines_the_run():
    src, cpu = ZipfFacts(), placement("cpu")
    a = train_run(RunSpec(**TINY, seed=1), src, cpu)
    b = train_run(RunSpec(**TINY, seed=1), src, cpu)
    c = train_run(RunSpec(**TINY, seed=2), src, cpu)
    assert a.loss == b.loss and a.ptq == b.ptq and c.loss != a.loss


def test_placement():
    assert placement("cpu").device.type == "cpu" and placement("cpu").autocast_dtype is None
    if not torch.cuda.is_available():
        assert placement("auto").device.type == "cpu"
        with pytest.raises(PrecplanError, match="no CUDA device"):
            placement("cuda")


def test_run_ids_are_stable_and_distinct():
    a, b = RunSpec("25K", 1000), RunSpec("25K", 1000, weight_bits=4)
    assert a.run_id("x") == RunSpec("25K", 1000).run_id("x")
    assert len({a.run_id("x"), b.run_id("x"), a.run_id("y")}) == 3
    assert a.run_id("x").startswith("N25K-D") and "-w16a16kv16-s0-" in a.run_id("x")
    assert b.run_id("x").split("-")[2] == "w4a16kv16"


def test_presets():
    smoke, quick, paper = get_preset("smoke"), get_preset("quick"), get_preset("paper")
    for name in PRESETS:
        p = get_preset(name)
        assert len({s.run_id("d") for s in p.specs}) == len(p.specs)  # no duplicate runs
        for s in p.specs:  # whole batches: the store's D is what the model saw
            assert s.tokens % (s.batch_size * s.seq_len) == 0
    # the base law needs 16-bit runs at >= 2 N and >= 2 D, more runs than its 5 coefficients
    for p in (smoke, quick):
        base = [s for s in p.specs if (s.weight_bits, s.activation_bits, s.kv_bits) == (16, 16, 16)]
        assert len(base) > 5 and len({s.shape for s in base}) >= 3 and len({s.tokens for s in base}) >= 3
    # quick: weight precisions at several N to fit gamma_w
    wq = {(s.shape, s.weight_bits) for s in quick.specs if s.weight_bits < 16}
    assert len({b for _, b in wq}) >= 4 and len({n for n, _ in wq}) >= 2
    # paper: the paper's grid (Kumar et al. 2024's setup: N 30M-220M, D 1.5B-26B, seq 1024, batch 256)
    assert {s.params for s in paper.specs} == {s.params for s in paper.specs if s.shape in ("30M", "60M", "110M", "220M")}
    assert sorted({round(s.tokens / 1e9, 1) for s in paper.specs}) == [1.5, 3.0, 6.0, 13.0, 26.0]
    assert {s.seq_len for s in paper.specs} == {1024} and {s.batch_size for s in paper.specs} == {256}
    assert len(paper.specs) >= 300
    assert smoke.estimate_seconds() < 60 and quick.estimate_seconds() < 20 * 60
    assert lr_small_batch(4e5) == pytest.approx(4e-3) and lr_small_batch(1e3) == 1e-2
    with pytest.raises(PrecplanError, match="unknown preset"):
        get_preset("huge")
