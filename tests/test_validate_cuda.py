"""CUDA-only checks of ``precplan validate`` (benchmarks/gpu_check.sh runs them; skipped without a GPU)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

from precplan.validate._data import ZipfFacts  # noqa: E402
from precplan.validate._model import SHAPES, Decoder, QuantConfig  # noqa: E402
from precplan.validate._train import RunSpec, evaluate, placement, train_run  # noqa: E402

TINY = dict(shape="100K", tokens=16 * 128 * 60, val_tokens=8192, ptq_bits=(4,))


def test_bf16_quantized_eval_loss_does_not_depend_on_the_eval_batch(torch_seed):
    gpu = placement("cuda")
    model = Decoder(SHAPES["100K"], 256, 128, QuantConfig(4, 4, 4)).to(gpu.device)
    val = torch.from_numpy(ZipfFacts().validation(64 * 128, 128)).to(gpu.device)
    assert evaluate(model, val, gpu, 1) == pytest.approx(evaluate(model, val, gpu, 16), rel=2e-3)


def test_compiled_training_step_matches_eager():
    gpu = placement("cuda")
    eager = train_run(RunSpec(**TINY, weight_bits=4, activation_bits=8), ZipfFacts(), gpu)
    compiled = train_run(RunSpec(**TINY, weight_bits=4, activation_bits=8), ZipfFacts(), gpu, compile=True)
    assert compiled.compiled and compiled.loss == pytest.approx(eager.loss, abs=0.05)


def test_gptq_on_the_gpu_matches_the_cpu():
    from precplan.validate._gptq import gptq_quantize

    g = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 256, generator=g) @ torch.randn(256, 256, generator=g)
    H = 2 * x.double().T @ x.double() / 2000
    w = torch.randn(64, 256, generator=g)
    cpu = gptq_quantize(w, H, 4)
    gpu = gptq_quantize(w.cuda(), H.float().cuda(), 4).cpu()
    assert (cpu != gpu).float().mean() < 0.01  # float32 vs float64 may round a few weights the other way


def test_device_workers_each_see_only_their_gpu(tmp_path):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    res = subprocess.run([sys.executable, "-m", "precplan", "validate", "--preset", "ci", "--devices", "all", "--out",
                          str(tmp_path), "--json", "--fit-grid", "coarse"], capture_output=True, text=True, timeout=600,
                         env={**os.environ, "PYTHONPATH": str(root)})
    assert res.returncode == 0, res.stderr[-2000:]
    sweep = json.loads(res.stdout)["sweep"]
    assert sweep["ran"] == 5 and "cuda" in sweep["device"]
    recs = [json.loads(x) for f in tmp_path.glob("runs*.jsonl") for x in f.read_text().splitlines()]
    assert {r["config"]["compute"] for r in recs} == {"cuda-bf16"} and len({r["run_id"] for r in recs}) == 5
