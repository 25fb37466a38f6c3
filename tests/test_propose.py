"""``propose``: the selection criterion against Gaussian conditioning worked by hand, the
allowance as a hard cap, the seed design's spread (Choshen et al. 2024), the Sardana example end
to end, and the loop propose -> validate --runs -> the same store on CPU."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from precplan.cli import app
from precplan.errors import PrecplanError
from precplan.laws import load_law
from precplan.propose import COST_EXPONENT, log_loss, propose, proposal_csv, seed_design, select_runs

from oracles import chinchilla_records
from reference import BESIROGLU, BESIROGLU_STDERR

runner = CliRunner()

# Li et al. 2026, arXiv:2604.22753, sec. 5.1: candidate scores are divided by c(x)^alpha, "alpha = 0.4"
LI_ALPHA = 0.4


def _theta(n: int = 400, seed: int = 0) -> np.ndarray:
    """Coefficient samples around Besiroglu et al.'s Table 1 (their standard errors)."""
    rng = np.random.default_rng(seed)
    keys = ("E", "A", "B", "alpha", "beta")
    return np.column_stack([BESIROGLU[k] + BESIROGLU_STDERR[k] * 0.3 * rng.standard_normal(n) for k in keys])


def test_one_pick_removes_what_gaussian_conditioning_says():
    theta = _theta()
    cn, cd = np.array([1e8, 4e8, 2e9]), np.array([2e9, 8e9, 4e10])
    sigma = 0.01
    # measuring the target itself: Var(q | y) = v sigma^2 / (v + sigma^2) for jointly Gaussian q, y = q + noise
    target = log_loss(theta, [cn[2]], [cd[2]])[:, 0]
    one = select_runs(theta, target, cn[2:], cd[2:], sigma, allowance=1e30, k=1)
    v = float(np.var(target, ddof=1))
    assert one.variance_before == pytest.approx(v, rel=1e-9)
    assert one.variance_after == pytest.approx(v * sigma**2 / (v + sigma**2), rel=1e-6)
    # among several: the pick maximizes cov(q, f)^2 / (var f + sigma^2), worked out here from the samples
    far = log_loss(theta, [1e11], [2e12])[:, 0]
    sel = select_runs(theta, far, cn, cd, sigma, allowance=1e30, k=1, cost_exponent=0.0)  # no cost weighting
    f = log_loss(theta, cn, cd)
    gains = [np.cov(far, f[:, j])[0, 1] ** 2 / (np.var(f[:, j], ddof=1) + sigma**2) for j in range(3)]
    assert sel.picks == (int(np.argmax(gains)),)
    assert sel.variance_after == pytest.approx(np.var(far, ddof=1) - max(gains), rel=1e-6)


def test_the_cost_exponent_is_li_et_als_and_divides_the_gain():
    assert COST_EXPONENT == LI_ALPHA
    theta = _theta()
    cn, cd = np.array([1e8, 1e9]), np.array([2e9, 2e10])
    target = log_loss(theta, [1e11], [2e12])[:, 0]
    allowance = 1e22
    sel = select_runs(theta, target, cn, cd, 0.01, allowance, k=1)
    j = sel.picks[0]
    share = 6 * cn[j] * cd[j] / allowance
    assert sel.scores[0] == pytest.approx(sel.gains[0] / share**LI_ALPHA, rel=1e-9)


@pytest.mark.parametrize("allowance", [3e9, 1e17, 1e21, 7.7e23])
def test_seed_design_stays_within_the_allowance_with_a_spread(allowance):
    runs = seed_design(allowance, k=4)
    assert len(runs) >= 6  # Choshen et al. 2024: at least 5 models; and 6 runs for 5 coefficients
    assert sum(r.flops for r in runs) <= allowance * (1 + 1e-12)
    assert len({round(r.params) for r in runs}) >= 3 and len({round(r.tokens_per_param) for r in runs}) >= 3
    for r in runs:
        assert r.flops == pytest.approx(6 * r.params * r.tokens)


def test_seed_design_on_given_sizes_uses_only_them_and_whole_batches():
    configs = {26784.0: {"shape": "25K", "batch_size": 16, "seq_len": 64}, 55536.0: {"shape": "50K", "batch_size": 16, "seq_len": 64}}
    runs = seed_design(2e9, k=5, sizes=sorted(configs), configs=configs)
    assert runs and sum(r.flops for r in runs) <= 2e9
    for r in runs:
        assert r.params in configs and r.tokens % 1024 == 0 and r.config["shape"] == configs[r.params]["shape"]
    assert len({(r.params, r.tokens) for r in runs}) == len(runs)


@pytest.mark.slow
def test_active_round_on_noisy_runs_fits_the_allowance_and_narrows_the_interval():
    law = load_law("besiroglu2024")
    records = chinchilla_records(law, noise=0.01, seed=3, sizes=[30e6, 60e6, 110e6], tokens=[1.5e9, 3e9, 6e9])
    for allowance in (3e18, 1e20):
        p = propose(records, target_budget=1e23, allowance=allowance, k=4, bootstrap=40)
        assert p.mode == "active" and 1 <= len(p.runs) <= 4
        assert p.total_flops <= allowance * (1 + 1e-12)
        assert p.interval_after[1] / p.interval_after[0] <= p.interval_before[1] / p.interval_before[0]
        assert {(r.params, r.tokens) for r in p.runs}.isdisjoint({(x["params"], x["tokens"]) for x in records})


def test_bad_input_names_the_argument():
    with pytest.raises(PrecplanError, match="allowance"):
        propose(None, target_budget=1e23, allowance=-1)
    with pytest.raises(PrecplanError, match="target"):
        propose(None, allowance=1e21)
    res = runner.invoke(app, ["propose", "--target-budget", "1e23", "--allowance", "lots"])
    assert res.exit_code == 2


@pytest.mark.slow
def test_sardana_example_json_lists_runs_within_the_allowance_with_intervals():
    res = runner.invoke(app, ["propose", "--example", "sardana2024", "--target-budget", "1e23", "--allowance", "1e21",
                              "--bootstrap", "40", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["mode"] == "active" and doc["runs"] and doc["samples"]["count"] == 40
    assert sum(r["flops"] for r in doc["runs"]) <= 1e21
    lo, hi = doc["interval_before"]
    lo2, hi2 = doc["interval_after"]
    assert lo < hi and lo2 < hi2 and hi2 / lo2 <= hi / lo and "0.4" in doc["criterion"]
    for r in doc["runs"]:
        assert r["gpu_hours"] > 0 and r["flops"] == pytest.approx(6 * r["params"] * r["tokens"])


def _read(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_the_loop_closes_on_cpu_propose_then_validate_runs_into_the_same_store(tmp_path):
    pytest.importorskip("torch")
    store = tmp_path / "store"
    first = tmp_path / "first.csv"
    first.write_text("shape,tokens,batch_size,seq_len,val_tokens,lr,preset\n25K,1024,16,64,1024,0.009,ci\n50K,2048,16,64,1024,0.007,ci\n")
    args = ["validate", "--device", "cpu", "--out", str(store), "--threads", "1", "--checkpoints", "0", "--fit-grid", "coarse"]
    from precplan.validate import read_folders

    res = runner.invoke(app, args + ["--runs", str(first)])
    first_ids = {r["run_id"] for r in read_folders([store])[0]}  # every writer's file of the store
    assert len(first_ids) == 2, res.output
    proposal = tmp_path / "proposal.csv"
    res = runner.invoke(app, ["propose", str(store), "--target-budget", "1e12", "--allowance", "3e10", "--out", str(proposal)])
    assert res.exit_code == 0, res.output
    rows = _read(proposal)
    assert len(rows) >= 5 and sum(float(r["flops"]) for r in rows) <= 3e10
    assert {r["shape"] for r in rows} <= {"25K", "50K"}
    runner.invoke(app, args + ["--runs", str(proposal)])
    records = [r for r in read_folders([store])[0] if r["run_id"] not in first_ids]
    trained = sorted((int(r["params"]), int(r["tokens"])) for r in records)
    assert trained == sorted((int(r["params"]), int(r["tokens"])) for r in rows)


def test_proposal_csv_round_trips_the_runs():
    p = propose(None, target_budget=1e23, allowance=1e21)
    rows = list(csv.DictReader(proposal_csv(p).splitlines()))
    assert [float(r["tokens"]) for r in rows] == pytest.approx([r.tokens for r in p.runs])
    assert all(r["weight_bits"] == "16" for r in rows)


def test_cli_seed_design_writes_the_csv_and_the_plot(tmp_path):
    pytest.importorskip("matplotlib")
    out, png = tmp_path / "p.csv", tmp_path / "p.png"
    res = runner.invoke(app, ["propose", "--target-budget", "1e23", "--allowance", "1e21", "--out", str(out), "--plot", str(png), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["mode"] == "seed" and png.stat().st_size > 0
    rows = _read(out)
    assert [float(r["params"]) for r in rows] == pytest.approx([r["params"] for r in doc["runs"]])
    again = runner.invoke(app, ["propose", "--target-budget", "1e23", "--allowance", "1e21", "--out", str(out)])
    assert again.exit_code == 2  # an existing output is replaced only with --force


@pytest.mark.slow
def test_active_round_on_a_stores_sizes_keeps_to_them_and_to_whole_batches():
    law = load_law("besiroglu2024")
    sizes = [30e6, 60e6, 110e6]
    records = chinchilla_records(law, noise=0.01, seed=5, sizes=sizes, tokens=[1.5e9, 3e9, 6e9])
    configs = {s: {"shape": f"S{i}", "batch_size": 64, "seq_len": 512} for i, s in enumerate(sizes)}
    p = propose(records, target_budget=1e22, allowance=2e19, k=3, bootstrap=30, sizes=sizes, configs=configs)
    assert p.mode == "active" and p.runs and p.total_flops <= 2e19
    for r in p.runs:
        assert r.params in configs and r.tokens % (64 * 512) == 0 and r.config["shape"] == configs[r.params]["shape"]
