"""Measurements that do not depend on how they were batched, and reports that refuse to mix
runs measured differently (CPU, seconds)."""

from __future__ import annotations

import pytest

from precplan.errors import PrecplanError
from precplan.validate._report import check_comparable

torch = pytest.importorskip("torch")

from precplan.validate._data import ZipfFacts  # noqa: E402
from precplan.validate._model import SHAPES, Decoder, QuantConfig  # noqa: E402
from precplan.validate._train import RunSpec, evaluate, placement  # noqa: E402


def _model(quant: QuantConfig) -> Decoder:
    m = Decoder(SHAPES["25K"], 256, 64, quant)  # initialised from torch's RNG, seeded by the torch_seed fixture
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():  # spread the weights so that per-tensor and per-token scales really differ
        for p in m.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    return m


@pytest.mark.parametrize("bits", [(16, 4, 16), (16, 16, 4), (4, 4, 4)])
def test_quantized_eval_loss_does_not_depend_on_the_eval_batch(bits, torch_seed):
    val = torch.from_numpy(ZipfFacts().validation(64 * 16, 64))
    cpu = placement("cpu")
    per_token = _model(QuantConfig(*bits))
    one, eight = evaluate(per_token, val, cpu, 1), evaluate(per_token, val, cpu, 8)
    assert one == pytest.approx(eight, rel=1e-6, abs=1e-6)
    # the per-tensor scale (one absmax per micro-batch) is what made it depend on the batch
    per_tensor = _model(QuantConfig(*bits, activation_granularity="tensor", kv_granularity="tensor"))
    assert abs(evaluate(per_tensor, val, cpu, 1) - evaluate(per_tensor, val, cpu, 8)) > 1e-4


def test_per_token_qkv_scale_is_per_token_and_head():
    from precplan.validate._quant import absmax_scale

    q = torch.randn(2, 3, 5, 8, generator=torch.Generator().manual_seed(0))  # (B, H, T, head_dim)
    s = absmax_scale(q, 4, "token")
    assert s.shape == (2, 3, 5, 1)
    assert torch.allclose(s[1, 2, 4, 0], q[1, 2, 4].abs().max() / 7)


def test_run_id_changes_with_every_measurement_setting():
    base = RunSpec("25K", 1 << 16)
    ids = {base.run_id("d")}
    for change in (dict(activation_granularity="tensor"), dict(kv_granularity="tensor"), dict(ptq_method="gptq"),
                   dict(compute="cuda-bf16"), dict(seed=1)):
        ids.add(RunSpec("25K", 1 << 16, **change).run_id("d"))
    ids.add(base.run_id("other-data"))
    assert len(ids) == 7


def _rec(i, **over):
    config = {"activation_granularity": "token", "kv_granularity": "token", "compute": "cpu-fp32", **over.pop("config", {})}
    return {"run_id": f"r{i}", "data_fingerprint": "zipf", "preset": "smoke", "ptq_method": "rtn-per-channel",
            "device": "cpu (x86_64, 2 threads)", "config": config, **over}


@pytest.mark.parametrize("other, label", [
    (dict(data_fingerprint="abc123"), "data source"),
    (dict(preset="quick"), "preset"),
    (dict(config={"compute": "cuda-bf16"}), "device and dtype"),
    (dict(config={"activation_granularity": "tensor"}), "activation scale granularity"),
    (dict(config={"kv_granularity": "tensor"}), "Q/K/V scale granularity"),
    (dict(ptq_method="gptq-per-channel"), "PTQ method"),
])
def test_runs_measured_differently_are_not_merged(other, label):
    check_comparable([_rec(0), _rec(1)])
    with pytest.raises(PrecplanError, match=f"differ in {label}") as exc:
        check_comparable([_rec(0), _rec(1), _rec(2, **other)])
    assert "\n" not in str(exc.value)


def test_stores_written_before_granularity_was_recorded_count_as_per_tensor():
    old = {"run_id": "old", "data_fingerprint": "zipf", "preset": "smoke", "device": "cpu (x86_64)",
           "config": {"activation_granularity": "tensor"}}
    check_comparable([old, dict(old, run_id="old2")])
    with pytest.raises(PrecplanError, match="Q/K/V scale granularity"):
        check_comparable([old, _rec(1, config={"activation_granularity": "tensor"})])
