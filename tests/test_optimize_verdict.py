"""The answer first: verdict wording graded by extrapolation, the plausibility envelope against its
cited bounds, practitioner memory against a hand derivation, and the issue's must-show command."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from precplan.optimize import (
    MAX_TOKENS_PER_PARAM, MIN_TOKENS_PER_PARAM, condensed, make_request, plan, serving_replica, training_memory, trust_phrase,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# published figures the envelope is built from
CHINCHILLA_TOKENS_PER_PARAM = 1.5e12 / 67e9  # Hoffmann et al. 2022, Table 3: 67B -> 1.5 trillion tokens
LLAMA3_8B = 15e12 / 8e9  # Llama Team 2024: 8B on ~15T tokens
SARDANA_MAX = 10_000  # Sardana et al. 2024, abstract: up to 10,000 tokens per parameter
GPT3 = 300e9 / 175e9  # Brown et al. 2020, sec. 2.2: 175B on 300B tokens


def run(*args: str, columns: int = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": ROOT, "COLUMNS": str(columns)}
    return subprocess.run([sys.executable, "-m", "precplan", *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("factor, words", [
    (1.0, "inside the range"), (2.5, "own accuracy"), (7.0, "ranking"), (40.0, "direction"), (1750.0, "hypothesis"),
])
def test_trust_words_scale_with_the_extrapolation(factor, words):
    assert words in trust_phrase(factor)


def test_trust_tiers_change_exactly_at_their_bounds():
    phrases = [trust_phrase(f) for f in (1.0, 1.01, 3.0, 3.01, 10.0, 10.01, 100.0, 100.01)]
    assert phrases[0] != phrases[1] and phrases[2] != phrases[3] and phrases[4] != phrases[5] and phrases[6] != phrases[7]
    assert "1,750x" in trust_phrase(1750.0)


def test_envelope_bounds_against_their_sources():
    assert MIN_TOKENS_PER_PARAM == pytest.approx(CHINCHILLA_TOKENS_PER_PARAM / 4, rel=0.25)  # a quarter of Chinchilla's ~20
    assert GPT3 < MIN_TOKENS_PER_PARAM < CHINCHILLA_TOKENS_PER_PARAM  # the undertrained era falls outside, Chinchilla inside
    assert LLAMA3_8B < MAX_TOKENS_PER_PARAM == SARDANA_MAX


def test_training_memory_against_a_hand_derivation():
    N, gpus, card = 70e9, 64, 80e9
    m = training_memory(N, gpus, card)
    states = (2 + 2 + 4 + 4 + 4) * N  # fp16 weights, fp16 grads, fp32 master + momentum + variance (ZeRO sec. 3.1)
    L = (N / (12 * 128**2)) ** (1 / 3)  # N = 12 L d^2, d = 128 L
    d = 128 * L
    act = (2 * L + 34) * 8192 * 1 * d  # checkpointed 16-bit layer inputs + one recomputed layer
    assert m.state_bytes == pytest.approx(states, rel=1e-12)
    assert m.state_bytes_per_gpu == pytest.approx(states / gpus, rel=1e-12)
    assert m.activation_bytes_per_gpu == pytest.approx(act, rel=1e-9)
    assert m.min_gpus == math.ceil(states / (card - act))
    assert m.fits == (states / gpus + act <= card)


def test_serving_replica_counts_cards():
    r = serving_replica(140e9, 30e9, 80e9, 4.0)
    assert r.total_bytes == 170e9 and r.gpus_per_replica == 3


def test_kv_cache_defaults_to_grouped_query_attention():
    p = plan(gpu="h100", budget=1e22, precision=16, inference_tokens="1T", context=1000, batch=8, level=None)
    L = (p.params / (12 * 128**2)) ** (1 / 3)
    kv = 2 * L * (128 * L) / 4 * 2 * 1000 * 8  # K and V, 16-bit, 8 sequences of 1000 tokens, 32 query / 8 KV heads
    assert p.kv_cache_bytes == pytest.approx(kv, rel=1e-9)


def test_a_plan_inside_the_envelope_says_so_and_how_far_to_trust_it():
    p = plan(1e21, law="besiroglu2024", level=None)
    assert p.plausibility.within and p.verdict.startswith("Train ")
    assert p.trust in p.verdict and "outside" not in p.verdict


def test_ptq_plan_outside_the_envelope_names_the_ptq_term_and_shows_the_alternatives():
    p = plan(gpu="h100", gpus=512, days=30, mfu=0.4, inference_precision=4, inference_tokens="10T", serving="priced", level=None)
    pl = p.plausibility
    assert p.tokens_per_param < MIN_TOKENS_PER_PARAM and not pl.within
    assert "PTQ term" in pl.driver and p.without_ptq.tokens_per_param >= MIN_TOKENS_PER_PARAM
    assert MIN_TOKENS_PER_PARAM <= pl.edge["tokens_per_param"] <= 1.05 * MIN_TOKENS_PER_PARAM
    assert pl.edge["loss"] >= p.loss  # the unconstrained optimum is the lowest loss
    assert pl.calibrated["law"] == "kumar2024-ptq-real"
    assert "outside real practice" in p.verdict and "kumar2024-ptq-real" in p.verdict
    assert p.extrapolation_factor > 100 and "hypothesis" in p.verdict


def test_condensed_says_each_fact_once():
    p = plan(gpu="h100", gpus=512, days=30, mfu=0.4, inference_precision=4, inference_tokens="10T", serving="priced", level=None)
    notes, warnings = condensed(p)
    assert sum("float variant" in n for n in notes) == 1
    assert sum("extrapolat" in w for w in warnings) == 1
    assert len(notes) <= len(p.notes) and len(warnings) < len(p.warnings)


def test_serving_lifetime_cost_reaches_the_budget_plans_loss_with_a_smaller_model():
    base = dict(gpu="h100", gpus=512, days=30, mfu=0.4, inference_tokens="10T", level=None)
    priced = plan(**base, serving="priced")
    cheap = plan(**base, serving="lifetime-cost")
    default = plan(**base)  # one GPU, a cluster's days and tokens to serve: serving is planned, and the output says how
    assert default.mode == "target-loss" and default.params == pytest.approx(cheap.params, rel=1e-9)
    assert any(n.startswith("serving 'lifetime-cost'") for n in default.notes) and "least lifetime cost" in default.verdict
    assert cheap.mode == "target-loss" and cheap.loss == pytest.approx(priced.loss, abs=1e-6)
    assert cheap.params < priced.params and cheap.gpu_hours <= priced.gpu_hours * (1 + 1e-9)
    within = plan(**base, serving="lifetime-budget")
    assert within.gpu_hours == pytest.approx(priced.budget_gpu_hours, rel=1e-6)


def test_no_plausible_plan_is_said_only_when_none_reaches_the_target():
    from precplan.errors import PrecplanError

    p = plan(gpu="h100", gpus=512, days=30, mfu=0.4, inference_precision=4, inference_tokens="10T", level=None)
    assert p.mode == "target-loss" and p.plausibility.edge is None and "No plausible plan" in p.verdict
    # the largest model the envelope allows for the same training data cannot reach the target loss
    with pytest.raises(PrecplanError, match="out of reach"):
        plan(gpu="h100", gpus=512, mfu=0.4, inference_precision=4, inference_tokens="10T", target_loss=p.loss,
             params=p.tokens / MIN_TOKENS_PER_PARAM, serving="priced", level=None)


def test_serving_mode_is_checked():
    from precplan.errors import PrecplanError

    with pytest.raises(PrecplanError, match="`serving`"):
        make_request(1e22, serving="forever")


def test_must_show_command():
    r = run("optimize", "--gpu", "h100", "--gpus", "512", "--days", "30", "--mfu", "0.4", "--inference-precision", "4",
            "--inference-tokens", "10T", "--json")
    assert r.returncode == 0, r.stderr
    p = json.loads(r.stdout)
    ok = p["tokens_per_param"] >= 5
    why = "PTQ term" in p["plausibility"]["driver"] and "No plausible plan" in p["verdict"]
    explained = why and p["plausibility"]["calibrated"]["law"] == "kumar2024-ptq-real" and "kumar2024-ptq-real" in p["verdict"]
    assert ok or explained
    edge = p["plausibility"]["edge"] or p["plausibility"]["fallback"]  # a plausible plan is named beside the refusal
    assert MIN_TOKENS_PER_PARAM <= edge["tokens_per_param"] <= 1.05 * MIN_TOKENS_PER_PARAM
    assert "Plausible instead" in p["verdict"]


@pytest.mark.parametrize("columns", [80, 120])
def test_quiet_prints_the_verdict_first_and_key_numbers(columns):
    r = run("optimize", "--budget", "1e22", "--quiet", columns=columns)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("Train ") and "note:" not in r.stdout
    assert all(len(line) <= columns for line in lines)
    assert "parameters N*" in r.stdout and "fewest GPUs" not in r.stdout  # no GPU: no GPU count


def test_a_row_labelled_optimum_is_never_beaten():
    for fixed in ("fp4-e2m1", None):
        p = plan(1e23, precision=fixed, level=None)
        star = [a for a in p.comparison if a.label.startswith("optimum")]
        if fixed is not None:
            assert not star and any(a.label == "given precision" for a in p.comparison)
            assert min(a.loss for a in p.comparison if a.feasible) < p.loss  # the given fp4 is beaten: not called optimum
        else:
            assert all(a.loss >= star[0].loss - 1e-9 for a in p.comparison if a.feasible)


@pytest.mark.parametrize("columns", [80, 120])
def test_multi_law_table_is_whole_at_narrow_widths_and_compares_like_with_like(columns):
    r = run("optimize", "--budget", "1e23", "--law", "kumar2024,besiroglu2024,hoffmann2022,kumar2024-ptq-real", columns=columns)
    assert r.returncode == 0, r.stderr
    assert "…" not in r.stdout and all(len(line) <= columns for line in r.stdout.splitlines())
    for law in ("besiroglu2024", "hoffmann2022", "kumar2024-ptq-real"):
        assert law in r.stdout
    assert "loss spread left out" in r.stdout  # Kumar's and Chinchilla's losses are on different data sets
    assert "bits spread only over laws with precision terms" in r.stdout


def test_target_loss_rows_share_one_cost_unit():
    p = plan(gpu="h100", target_loss=2.9, inference_tokens="1T", level=None)
    star = p.comparison[-1]
    same = [a for a in p.comparison[:-1] if a.label == p.format]
    assert same and same[0].total_flops == pytest.approx(star.total_flops, rel=1e-6)
    assert same[0].flops_ratio == pytest.approx(1.0, rel=1e-6) and star.flops_ratio == 1.0
    assert min(a.flops_ratio for a in p.comparison if a.feasible) >= 1 - 1e-6  # the optimum is the cheapest


def test_several_laws_open_with_their_disagreement_and_the_least_extrapolated_law():
    from precplan.optimize import compare_laws, laws_verdict

    plans = compare_laws(["kumar2024", "hoffmann2022"], 1e23, level=None)
    text = laws_verdict(plans)
    ratio = max(p.params for p in plans) / min(p.params for p in plans)
    assert f"({ratio:.3g}x apart)" in text
    least = min(plans, key=lambda p: p.extrapolation_factor)
    assert f"Least extrapolated: {least.law}" in text and least.trust in text
    assert laws_verdict(plans[:1]) is None


def test_predict_opens_with_a_verdict_graded_like_optimize():
    from precplan.laws import load_law, predict

    r = predict("kumar2024", "8B", "15T", post=4)
    law = load_law("kumar2024")
    n_hi, d_hi = law.fit_range["params"][1], law.fit_range["tokens"][1]
    assert r.trust == trust_phrase(max(8e9 / n_hi, 15e12 / d_hi))  # D/N (1,875) lies nearer its implied range
    assert r.verdict.startswith("kumar2024: 8B parameters on 15T tokens") and "hypothesis" in r.verdict
    out = run("predict", "-N", "8B", "-D", "15T", "--post", "4", columns=80).stdout
    assert out.splitlines()[0].startswith("kumar2024: 8B parameters")


def test_a_sweep_opens_with_its_range_and_the_trust_of_its_furthest_plan():
    from precplan.laws import extrapolation, load_law
    from precplan.optimize import plan_sweep

    s = plan_sweep("1e19:1e25:4", level=None)
    far = extrapolation(load_law("kumar2024"), s.params, s.tokens).factor
    assert trust_phrase(far) in s.verdict and "hypothesis" in s.verdict  # 1e25 FLOPs: 533B, far beyond 220M
    near = plan_sweep("1e19:1e20:2", level=None)
    assert "hypothesis" not in near.verdict
    r = run("optimize", "--budget", "1e19:1e25:4", columns=80)
    assert r.stdout.splitlines()[0].startswith("kumar2024 over budgets")
