"""Formats on real hardware: the catalog's block formats, per-format training speedups over bf16
(published end-to-end measurements, not dense-peak ratios), and planning over a GPU's native
formats with format-aware laws (:func:`precplan.optimize.plan_formats`, ``optimize --law sun2025``)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

from precplan.cli import app
from precplan.costs import GpuSpec
from precplan.errors import PrecplanError
from precplan.formats import parse_format
from precplan.hardware import get_gpu
from precplan.laws import load_law, training_runs
from precplan.optimize import plan_formats

# Fishman et al. 2024 (arXiv:2409.12517), abstract: FP8 training "up to a ~34% throughput improvement" over BF16.
FP8_GAIN = 1.34
B200_BF16 = 4.5e15 / 2  # HGX B200 spec table, 4.5 PF with sparsity
H100_BF16, H100_FP8 = 989.4e12, 1978.9e12  # H100 whitepaper dense peaks
MUST_SHOW = ["--gpu", "b200", "--gpus", "1024", "--days", "60", "--law", "sun2025,castro2025,kumar2024-fp"]


def run(*args: str):
    return CliRunner().invoke(app, ["optimize", *args])


# ---------------------------------------------------------------------------- catalog
def test_b200_block_formats_carry_their_scale_bits_and_hopper_has_none():
    b200 = get_gpu("b200")
    # OCP MX v1.0: 32 elements share an 8-bit E8M0 scale; NVFP4: 16 elements share an 8-bit E4M3 scale
    assert b200.formats["mxfp4"].bits == 4 + 8 / 32 and b200.formats["mxfp8"].bits == 8 + 8 / 32
    assert b200.formats["mxfp6"].bits == 6 + 8 / 32 and b200.formats["nvfp4"].bits == 4 + 8 / 16
    for key in ("mxfp8", "mxfp6", "mxfp4", "nvfp4"):
        assert b200.formats[key].source
    assert "secondary" in b200.formats["nvfp4"].note.lower()  # NVIDIA's FP4 peak names no scaling
    h100 = get_gpu("h100")
    assert not {"mxfp4", "nvfp4", "mxfp8"} & set(h100.formats)
    assert "NVFP4 = No" in h100.unsupported["nvfp4"]
    # bit-count planning still sees one format per width (the block rows do not add widths)
    assert [f.name for f in b200.training_formats()] == ["fp4", "fp6", "fp8", "bf16"]


# ---------------------------------------------------------------------------- efficiencies
def test_fp8_on_h100_trains_the_measured_gain_not_twice_bf16():
    spec = GpuSpec("h100", mfu=0.4)
    assert spec.speedup("fp8") == pytest.approx(FP8_GAIN)
    rate8, rate16 = spec.train_rate([8.0, 16.0])
    assert rate16 == pytest.approx(H100_BF16 * 0.4)
    assert rate8 == pytest.approx(H100_BF16 * 0.4 * FP8_GAIN)
    assert rate8 / rate16 < 0.7 * (H100_FP8 / H100_BF16)  # far from the dense-peak ratio of 2
    # 16-bit-equivalent cost per parameter-token: 6 / 1.34 in fp8
    assert spec.train_coef(8.0) == pytest.approx(6 / FP8_GAIN)
    # "peak" restores the dense-peak ratio; a user value replaces the default
    assert GpuSpec("h100", format_speedup="peak").speedup("fp8") == pytest.approx(H100_FP8 / H100_BF16)
    assert GpuSpec("h100", format_speedup="fp8=1.2").speedup("fp8") == pytest.approx(1.2)
    assert GpuSpec("b200", format_speedup={"nvfp4": 1.5}).speedup("nvfp4") == pytest.approx(1.5)


def test_b200_defaults_are_capped_by_the_dense_peak_and_assumed_for_fp4():
    spec = GpuSpec("b200")
    assert spec.speedup("fp8") == pytest.approx(FP8_GAIN)
    assert spec.speedup("nvfp4") == pytest.approx(FP8_GAIN**2)  # ASSUMED: no published FP4 end-to-end figure
    assert spec.speedup("fp16") == pytest.approx(1.0) and spec.speedup("tf32") == pytest.approx(2.2e15 / 4.5e15)  # dense-peak ratio (spec table, both sparse)
    words = spec.speedup_words()
    assert "Fishman" in words and "ASSUMED" in words


@pytest.mark.parametrize("value, message", [
    ("fp8=2.5", "dense-peak ratio"), ("fp9=1.2", "unknown format"), ("fp8=0", "positive"), ("fp8", "FORMAT=SPEEDUP"),
    ("fp8=1.2,fp8=1.3", "twice"), ("fp8=nan", "positive"),
])
def test_bad_format_speedups_are_refused(value, message):
    with pytest.raises(PrecplanError, match=message):
        GpuSpec("h100", format_speedup=value)


def test_format_speedup_peak_restores_the_dense_peak_ratio_on_the_command_line():
    result = run("--gpu", "h100", "--gpu-hours", "1e5", "--precision", "fp8", "--format-speedup", "peak", "--json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert 6 * plan["params"] * plan["tokens"] == pytest.approx(1e5 * 3600 * H100_FP8 * 0.5, rel=1e-9)


def test_the_plan_states_the_speedup_assumption_once():
    result = run("--gpu", "h100", "--gpus", "8", "--days", "10", "--json")
    assert result.exit_code == 0, result.output
    notes = json.loads(result.stdout)["notes"]
    assert sum("Fishman" in n for n in notes) == 1
    bad = run("--gpu", "h100", "--gpus", "8", "--days", "10", "--format-speedup", "fp8=3")
    assert bad.exit_code == 2 and "--format-speedup" in bad.output and "Traceback" not in bad.output
    absent = run("--gpu", "h100", "--gpus", "8", "--days", "10", "--format-speedup", "nvfp4=1.8")
    assert absent.exit_code == 2 and "nvfp4" in absent.output and "Traceback" not in absent.output


# ---------------------------------------------------------------------------- planning
def _brute_force(loss, flops: float) -> tuple[float, float]:
    """The minimum of loss(N, C / (6 N)) on a fine log grid over N: (N, loss)."""
    N = np.geomspace(1e6, 1e15, 400_001)
    L = loss(N, flops / (6 * N))
    i = int(np.argmin(L))
    return float(N[i]), float(L[i])


def test_sun2025_plans_every_native_b200_format_at_its_brute_force_optimum():
    hours = 64 * 24 * 5.0
    c = plan_formats("sun2025", gpu="b200", gpus=64, days=5, mfu=0.4)
    (p,) = c.plans
    law = load_law("sun2025")
    names = {k.name for k in p.candidates}
    assert {"bf16", "fp8-e4m3", "fp8-e5m2", "mxfp8-e4m3", "mxfp6-e2m3", "mxfp4", "nvfp4"} <= names
    speed = {"bf16": 1.0, "nvfp4": FP8_GAIN**2, "mxfp4": FP8_GAIN**2, "fp8-e4m3": FP8_GAIN, "mxfp6-e3m2": FP8_GAIN}
    for k in p.candidates:
        fmt = parse_format(k.name)
        if k.name in speed:
            flops = hours * 3600 * B200_BF16 * 0.4 * speed[k.name]
            assert k.flops == pytest.approx(flops, rel=1e-12)
        assert 6 * k.params * k.tokens == pytest.approx(k.flops, rel=1e-9)
        n_bf, l_bf = _brute_force(lambda N, D: law.loss(N, D, fmt), k.flops)
        assert k.loss <= l_bf + 1e-9  # no point of the fine grid beats the plan
        assert k.loss == pytest.approx(l_bf, abs=1e-7)
    best = min(p.candidates, key=lambda k: k.loss)
    assert best.chosen and p.format == best.name and sum(k.chosen for k in p.candidates) == 1
    # e5m2 never beats e4m3 at one speedup (Sun et al.: the exponent-heavy layout is worse at 8 bits)
    loss = {k.name: k.loss for k in p.candidates}
    assert loss["fp8-e5m2"] > loss["fp8-e4m3"] and loss["mxfp4"] > loss["nvfp4"]


def test_castro2025_plans_forward_backward_pairs_and_refuses_nvfp4():
    c = plan_formats(["castro2025"], gpu="b200", gpu_hours=1e5)
    (p,) = c.plans
    law = load_law("castro2025")
    pair = next(k for k in p.candidates if k.forward == "mxfp4" and k.backward == "fp8-e4m3")
    # forward 2ND of 6ND at the fp4 speedup, backward 4ND at the fp8 speedup
    s = 1 / ((1 / 3) / FP8_GAIN**2 + (2 / 3) / FP8_GAIN)
    assert pair.speedup == pytest.approx(s)
    flops = 1e5 * 3600 * B200_BF16 * 0.5 * s
    assert pair.flops == pytest.approx(flops, rel=1e-12)
    # Quartet, eq. 1: L = E + (A / (N eff_N)^alpha + B / (D eff_D)^beta)^gamma; eff_N of a 4-bit forward pass
    # alone (Table 2, QuEST: 0.64), eff_D of an FP8 backward pass 1 (FP8 lossless, sec. 2)
    E, A, B, a, b, g = (law.c(x) for x in ("E", "A", "B", "alpha", "beta", "gamma"))
    assert law.c("eff_N_mxfp4_forward_only") == 0.64

    def quartet(N, D):
        return E + (A / (N * 0.64) ** a + B / D**b) ** g

    n_bf, l_bf = _brute_force(quartet, flops)
    assert pair.loss <= l_bf + 1e-9 and pair.loss == pytest.approx(l_bf, abs=1e-7)
    refused = {r.format: r.reason for r in p.refused}
    assert "nvfp4" in refused and "nvfp4" in refused["nvfp4"] and "mxfp4" in refused["nvfp4"]
    assert "mxfp4" in {k.name for k in p.candidates}


def test_sun2025_cannot_take_two_formats_and_planning_needs_a_gpu():
    law = load_law("sun2025")
    with pytest.raises(PrecplanError, match="castro2025"):
        law.loss_split(1e9, 1e11, parse_format("mxfp4"), parse_format("fp8-e4m3"))
    with pytest.raises(PrecplanError, match="format-aware.*`gpu`"):
        plan_formats("sun2025", 1e23)
    with pytest.raises(PrecplanError, match="twice"):
        plan_formats("sun2025,sun2025", gpu="b200", gpu_hours=1e4)


def test_a_flops_budget_is_bf16_flops_at_the_bf16_mfu():
    c = plan_formats("sun2025", 1e23, gpu="h100", mfu=0.5)
    bf16 = next(k for k in c.plans[0].candidates if k.name == "bf16")
    fp8 = next(k for k in c.plans[0].candidates if k.name == "fp8-e4m3")
    assert bf16.flops == pytest.approx(1e23) and fp8.flops == pytest.approx(1e23 * FP8_GAIN)
    assert c.plans[0].gpu_hours == pytest.approx(1e23 / (H100_BF16 * 0.5) / 3600)
    assert {k.name for k in c.plans[0].candidates} == {"bf16", "fp8-e4m3", "fp8-e5m2"}  # H100: no MX, no FP4


# ---------------------------------------------------------------------------- the must-show command
def test_must_show_json_is_a_list_of_plans_with_nvfp4_mxfp4_and_measured_runs():
    result = run(*MUST_SHOW, "--json")
    assert result.exit_code == 0, result.output
    plans = json.loads(result.stdout)
    assert [p["law"] for p in plans] == ["sun2025", "castro2025", "kumar2024-fp"]
    ids = {r.id for r in training_runs()}
    for p in plans:
        assert p["format"] and p["format"] in {k["name"] for k in p["candidates"]}
        described = {k["name"] for k in p["candidates"]}
        refused = {r["format"]: r["reason"] for r in p["refused"]}
        for name in ("nvfp4", "mxfp4"):
            assert (name in described) != (name in refused)  # a candidate, or refused with a reason
        assert p["nearest_runs"] and {r["id"] for r in p["nearest_runs"]} <= ids
        assert p["gpu"] == "b200" and p["gpu_hours"] == pytest.approx(1024 * 60 * 24)
    assert "nvfp4" in {k["name"] for k in plans[0]["candidates"]} and "mxfp4" in {k["name"] for k in plans[1]["candidates"]}


def test_must_show_table_opens_with_the_agreement_line_and_shows_the_runs():
    result = run(*MUST_SHOW)
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert "the laws agree" in first or "the laws disagree" in first
    for word in ("sun2025", "castro2025", "kumar2024-fp", "measured"):
        assert word in result.stdout
    # the table names the runs the plans are judged against (which runs those are follows the data)
    nearest = {r["id"] for p in json.loads(run(*MUST_SHOW, "--json").stdout) for r in p["nearest_runs"]}
    assert nearest and all(rid in result.stdout for rid in nearest)


def test_the_verdict_says_when_every_law_misses_the_measurements():
    from precplan.optimize._formats import _compare

    c = plan_formats("sun2025,kumar2024-fp", gpu="b200", gpu_hours=1e5)
    spec = GpuSpec("b200")
    laws = [load_law("sun2025"), load_law("kumar2024-fp")]
    missed = tuple(replace(p, misses_measured=True) for p in c.plans)
    assert "every law misses" in _compare(missed, spec, laws).verdict
    one = (missed[0], replace(c.plans[1], misses_measured=False))
    v = _compare(one, spec, laws).verdict
    assert "every law misses" not in v and "sun2025 miss" in v
    # the plan's own flag: it misses exactly when no judged nearest run is consistent with the law
    for p in c.plans:
        judged = [k for k in p.run_checks if k.consistent is not None]
        assert p.misses_measured == (bool(judged) and not any(k.consistent for k in judged))


def test_a_format_plan_outside_real_practice_says_so_in_the_verdict():
    """The envelope of optimize's plausibility check (5 to 10,000 tokens per parameter) holds for
    format plans too: a law whose optimum sits outside it is named in the verdict line."""
    from precplan.optimize import MAX_TOKENS_PER_PARAM, MIN_TOKENS_PER_PARAM

    c = plan_formats(["sun2025", "castro2025", "kumar2024-fp"], gpu="b200", gpus=1024, days=60, mfu=0.4)
    odd = [p.law for p in c.plans if not MIN_TOKENS_PER_PARAM <= p.tokens / p.params <= MAX_TOKENS_PER_PARAM]
    inside = [p.law for p in c.plans if p.law not in odd]
    tail = c.verdict.split("outside real practice", 1)
    assert odd, "sun2025 plans below 5 tokens per parameter on this cluster (1.29T on 1.03T tokens)"
    assert len(tail) == 2 and all(law in tail[1] for law in odd) and not any(f"{law} " in tail[1] for law in inside)
