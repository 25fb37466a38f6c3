"""``validate --seeds 2 --data python-source --ptq gptq`` end to end on the ci preset (CPU)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_seeds_python_source_and_gptq_train_and_report(tmp_path):
    pytest.importorskip("torch")
    res = subprocess.run([sys.executable, "-m", "precplan", "validate", "--preset", "ci", "--seeds", "2", "--data",
                          "python-source", "--ptq", "gptq", "--device", "cpu", "--threads", "1", "--out", str(tmp_path),
                          "--json", "--fit-grid", "coarse"], capture_output=True, text=True, timeout=1200,
                         env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stderr[-3000:]
    doc = json.loads(res.stdout)
    assert doc["sweep"]["ran"] == 10
    from precplan.validate._store import read_folders

    recs = read_folders([tmp_path])[0]
    per_config = Counter((r["params"], r["tokens"], r["weight_bits"]) for r in recs)
    assert len(per_config) == 5 and set(per_config.values()) == {2}  # two seeds per configuration
    assert {r["seed"] for r in recs} == {0, 1}
    assert {r["ptq_method"] for r in recs} == {"gptq-per-channel"} and all(set(r["ptq"]) == {"3", "4", "6", "8"} for r in recs)
    assert all(r["data"].startswith("python-source") and "code, not natural language" in r["data"] for r in recs)
    assert doc["seeds"]["seeds_min"] == 2 and doc["seeds"]["pooled_sd"] > 0
    md = (tmp_path / "report.md").read_text()
    assert "## Seed noise: 2-2 seeds per configuration" in md and "code, not natural language" in md
