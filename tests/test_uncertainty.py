"""Coefficient samples in law files, and the intervals every command draws from them.

The intervals are checked against an independent computation: one scalar law per sample
(``with_coefficients``), solved one at a time by the ordinary planner, and numpy's percentile.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from precplan.cli import app
from precplan.errors import LawFileError
from precplan.laws import load_law, predict, read_law_file, save_law
from precplan.laws._intervals import interval, intervals
from precplan.laws._law import Samples
from precplan.optimize import make_planner
from precplan.optimize._uncertainty import bits_independent_of_samples, plan_uncertainty
from precplan.ptq import d_crit, ptq_risk

# Besiroglu et al. 2024, Table 1 (value, standard error), typed in from laws.md.
BESIROGLU = {"E": (1.8172, 0.0257), "A": (482.01, 124.52), "B": (2085.43, 1293.28), "alpha": (0.3478, 0.0154), "beta": (0.3658, 0.0206)}


def cli(*args: str):
    return CliRunner().invoke(app, list(args))


def cli_json(*args: str):
    res = cli(*args, "--json")
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def with_samples(law, rows: int = 40, spread: float = 0.05, seed: int = 1):
    """``law`` with ``rows`` base-term vectors drawn around its values."""
    rng = np.random.default_rng(seed)
    names = ("E", "A", "B", "alpha", "beta")
    values = np.column_stack([law.c(n) * np.exp(rng.normal(0, spread, rows)) for n in names])
    return replace(law, samples=Samples(names, values, "test draws"))


def each_sample(law):
    """One scalar law per sample (the independent route)."""
    s = law.samples
    return [law.with_coefficients(**dict(zip(s.names, row))) for row in s.values]


def pct(values, level=0.8):
    q = 50 * (1 - level)
    return list(np.percentile(np.asarray(values, dtype=float), [q, 100 - q]))


# ------------------------------------------------------------------ the must-show flow
@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> Path:
    """``fit --example sardana2024 --bootstrap 200 --out my.yaml`` (coarse start grid: faster)."""
    out = tmp_path_factory.mktemp("fit") / "my.yaml"
    res = cli("fit", "--example", "sardana2024", "--bootstrap", "200", "--grid", "coarse", "--out", str(out))
    assert res.exit_code == 0, res.output
    return out


@pytest.mark.slow
def test_fit_writes_bootstrap_samples(fitted):
    law = read_law_file(fitted)
    assert law.samples is not None and law.samples.names == ("E", "A", "B", "alpha", "beta")
    assert 100 <= law.samples.count <= 200 and "bootstrap" in law.samples.method
    # the sample straddles the fitted point
    for name in law.samples.names:
        lo, hi = np.percentile(law.samples.column(name), [5, 95])
        assert lo <= law.c(name) <= hi


def test_optimize_with_fitted_law_has_intervals(fitted):
    plan = cli_json("optimize", "--law", str(fitted), "--budget", "1e22")
    u = plan["uncertainty"]
    assert u["level"] == 0.8 and u["samples"] >= 100
    for key in ("params", "tokens", "loss"):
        lo, hi = u[key]
        assert lo < plan[key if key != "loss" else "loss"] < hi
    # independent route: each sample's own plan, solved one at a time
    law = read_law_file(fitted)
    laws = each_sample(law)
    params = [make_planner(sub, has_budget=True).plans(1e22)[0].params for sub in laws]
    assert u["params"] == pytest.approx(pct(params), rel=1e-6)


def test_predict_and_ptq_risk_with_fitted_law_have_intervals(fitted):
    p = cli_json("predict", "--law", str(fitted), "--params", "1B", "--tokens", "20B")
    lo, hi = p["uncertainty"]["loss"]
    assert lo < p["loss"] < hi
    law = read_law_file(fitted)
    assert p["uncertainty"]["loss"] == pytest.approx(pct([float(s.loss(1e9, 2e10)) for s in each_sample(law)]), rel=1e-9)

    # the fit has no PTQ terms: compose it as the base of kumar2024; its samples survive
    r = cli_json("ptq-risk", "--law", "kumar2024", "--base", str(fitted), "--params", "1B", "--tokens", "100B", "--post", "4")
    u = r["uncertainty"]
    assert u["sampled"] == ["E", "A", "B", "alpha", "beta"]
    assert u["d_crit"][0] < r["d_crit"] < u["d_crit"][1]
    assert u["loss_after"][0] < r["loss_after"] < u["loss_after"][1]
    composed = load_law("kumar2024", base=str(fitted))
    dcs = [float(d_crit(s, 1e9, 4)) for s in each_sample(composed)]
    assert u["d_crit"] == pytest.approx(pct(dcs), rel=1e-9)


# ------------------------------------------------------------------ vectorized == one at a time
@pytest.mark.parametrize(
    "options, budget",
    [
        ({}, 1e22),
        ({"inference_precision": 4}, 1e22),  # golden-section search over N, per sample
        ({"inference_tokens": 1e12}, 1e22),
        ({"memory": 2e9}, 1e22),
        ({"target_loss": 3.3}, None),  # Sardana's Lagrange equation in D, per sample
        ({"params": 1e9, "tokens": 2e10, "precisions": [4, 8, 16]}, None),
    ],
)
def test_sampled_plan_matches_each_sample_solved_alone(options, budget):
    law = with_samples(load_law("kumar2024"), rows=25)
    planner = make_planner(law, has_budget=budget is not None, **options)
    u = plan_uncertainty(planner, budget)
    alone = [make_planner(sub, has_budget=budget is not None, **options).plans(budget)[0] for sub in each_sample(law)]
    for key, attr in (("params", "params"), ("tokens", "tokens"), ("loss", "loss")):
        assert u[key] == pytest.approx(pct([getattr(p, attr) for p in alone]), rel=1e-4), key
    assert u["bits"] == pytest.approx(pct([p.bits.weights for p in alone]))


def test_shortcut_bit_choice_equals_full_solve():
    law = with_samples(load_law("kumar2024"), rows=60, spread=0.15)
    planner = make_planner(law, has_budget=True)
    plan = planner.plans(1e23)[0]
    assert bits_independent_of_samples(planner)
    fast, full = plan_uncertainty(planner, 1e23, plan=plan), plan_uncertainty(planner, 1e23)
    for key in ("params", "tokens", "loss", "bits"):
        assert fast[key] == pytest.approx(full[key], rel=1e-9)
    assert not bits_independent_of_samples(make_planner(law, has_budget=True, inference_precision=4))


def test_predict_degradation_interval_and_law_without_samples():
    law = load_law("kumar2024", base="besiroglu2024")  # base samples; PTQ terms held
    r = predict(law, 1e9, 2e10, post=4, level=0.9)
    assert set(r.uncertainty) >= {"loss", "loss_before_ptq", "degradation"}
    assert r.uncertainty["degradation"][0] == pytest.approx(r.uncertainty["degradation"][1])  # not sampled
    plain = predict(load_law("kumar2024"), 1e9, 2e10)
    assert plain.uncertainty is None and any("point estimate" in n for n in plain.notes)


def test_level_moves_the_interval_and_bad_levels_exit_2():
    wide = cli_json("optimize", "--law", "besiroglu2024", "--budget", "1e23", "--level", "0.95")["uncertainty"]["params"]
    narrow = cli_json("optimize", "--law", "besiroglu2024", "--budget", "1e23", "--level", "0.5")["uncertainty"]["params"]
    assert wide[0] < narrow[0] < narrow[1] < wide[1]
    for cmd in (["predict", "-N", "1B", "-D", "20B"], ["optimize", "--budget", "1e22"], ["ptq-risk", "-N", "1B", "-D", "20B"]):
        for bad in ("0", "1", "1.5", "-0.2", "eighty"):
            res = cli(*cmd, "--level", bad)
            assert res.exit_code == 2, (cmd, bad, res.output)
            assert res.stderr.count("\n") == 1 and "--level" in res.stderr


def test_human_tables_show_intervals_and_point_estimate_note():
    res = cli("optimize", "--law", "besiroglu2024", "--budget", "1e23")
    assert res.exit_code == 0 and "80% interval" in res.stdout and "[" in res.stdout
    res = cli("optimize", "--budget", "1e23")
    assert res.exit_code == 0 and "point estimate" in " ".join(res.stdout.split())


# ------------------------------------------------------------------ law files
def test_interval_is_numpy_percentile():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 501))
    x[1, :7] = np.inf
    assert intervals(x, 0.8)[0] == pytest.approx(pct(x[0]))
    assert intervals(x, 0.8)[1] == pytest.approx(pct(x[1, 7:]))
    assert interval(x[2], 0.6) == pytest.approx(pct(x[2], 0.6))


def test_sampled_law_is_every_sample_at_once():
    law = with_samples(load_law("kumar2024"), rows=9)
    s = law.sampled()
    alone = each_sample(law)
    assert s.loss(1e9, 2e10, 6, 8, 8, post=4) == pytest.approx([float(a.loss(1e9, 2e10, 6, 8, 8, post=4)) for a in alone])
    grid = law.sampled(2).loss(1e9, np.array([[1e10, 1e11]]))
    assert grid.shape == (9, 2) and grid[3, 1] == pytest.approx(float(alone[3].loss(1e9, 1e11)))


def test_besiroglu_samples_match_its_published_errors():
    law = load_law("besiroglu2024")
    s = law.samples
    assert s.count == 1000 and "Table 1" in s.method and "independent" in s.method
    for name, (value, se) in BESIROGLU.items():
        col = s.column(name)
        assert np.mean(col) == pytest.approx(value, abs=4 * se / np.sqrt(1000) + (0.2 * se if name in "AB" else 0))
        assert np.std(col) == pytest.approx(se, rel=0.12 if name not in "AB" else 0.35)


def test_samples_round_trip_and_survive_composition(tmp_path):
    law = with_samples(load_law("hoffmann2022"), rows=5)
    path = save_law(replace(law, id="h-samples"), tmp_path / "h.yaml")
    back = read_law_file(path)
    assert back.samples.names == law.samples.names
    np.testing.assert_allclose(back.samples.values, law.samples.values, rtol=1e-9)
    composed = load_law("kumar2024", base=str(path))
    assert composed.samples.count == 5 and set(composed.samples.names) == {"E", "A", "B", "alpha", "beta"}


BAD_SAMPLES = [
    ({"method": "x", "names": ["E", "zeta"], "values": [[1, 2], [1, 2]]}, "'zeta' is not a coefficient"),
    ({"method": "x", "names": ["E", "A"], "values": [[1.8, 400], [1.8]]}, "values[1]: must list 2 numbers"),
    ({"method": "x", "names": ["E", "A"], "values": [[1.8, 400], [1.8, ".nan"]]}, "not a number"),
    ({"method": "x", "names": ["E", "A"], "values": [[1.8, 400], [1.8, float("inf")]]}, "not a finite number"),
    ({"method": "x", "names": ["E", "alpha"], "values": [[1.8, 0.3], [1.8, -0.1]]}, "must be positive"),
    ({"names": ["E"], "values": [[1.8], [1.9]]}, "samples.method: missing key"),
    ({"method": "x", "names": ["E"], "values": "1.8\n1.9 2.0\n"}, "values[1]: must list 1 numbers"),
    ({"method": "x", "names": ["E"], "values": [[1.8]]}, "at least 2 rows"),
]


@pytest.mark.parametrize("block, message", BAD_SAMPLES)
def test_bad_samples_are_one_line_exit_2(tmp_path, block, message):
    data = yaml.safe_load(Path("laws/hoffmann2022.yaml").read_text())
    data["samples"] = block
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(LawFileError, match=None) as err:
        read_law_file(path)
    assert message in str(err.value)
    res = cli("predict", "--law", str(path), "-N", "1B", "-D", "20B")
    assert res.exit_code == 2 and res.stderr.count("\n") == 1 and message in res.stderr


# ------------------------------------------------------------------ honest extrapolation
def test_far_beyond_the_data_the_verdict_is_what_the_law_extrapolates_to():
    law = load_law("kumar2024")
    far = ptq_risk(law, 8e9, 15e12, 4)  # Llama-3-8B: 36x the largest N, 577x the largest D of the fit
    assert far.law_verdict.startswith("kumar2024's formula says") and "parameters 36.4x, tokens 577x" in far.evidence.trust
    assert "not a measured effect" in far.law_verdict and "the best token count" not in far.law_verdict
    near = ptq_risk(law, 2e8, 2e10, 4)  # inside the fit range: plain advice
    assert not near.law_verdict.startswith("kumar2024's formula")
    plan = cli_json("optimize", "--budget", "1e23")  # N* = 53B: 242x beyond kumar2024's data
    assert plan["warnings"][0].startswith("the law extrapolates") and "not a recommendation" in plan["warnings"][0]
    warns = law.extrapolation_warnings(1e9, 5e10)  # 4.5x and 1.9x: a measured warning, no more
    assert any("extrapolates 4.55x beyond its data" in w for w in warns)


def test_implausible_shapes_and_losses_are_warned_in_every_command():
    r = ptq_risk(load_law("kumar2024"), 8e9, 15e12, 4)  # the 2-bit row: 14.5 nats
    assert any("2-bit row's loss after PTQ 14.5" in w and "ln(32000)" in w for w in r.warnings)
    p = cli_json("predict", "-N", "1B", "-D", "100M")  # 0.1 tokens per parameter
    assert any("0.1 tokens per parameter" in w for w in p["warnings"])
    plan = cli_json("optimize", "--budget", "1e26", "--inference-precision", "3")  # the 25.6T-parameter plan
    assert plan["tokens_per_param"] < 1 and any("tokens per parameter, outside 1..10,000" in w for w in plan["warnings"])


def test_ptq_sweep_has_intervals_per_token_count():
    from precplan.ptq import ptq_sweep

    law = with_samples(load_law("kumar2024"), rows=30)
    tokens = np.array([1e10, 1e11, 1e12])
    r = ptq_sweep(law, 1e9, tokens, 4)
    alone = each_sample(law)
    for i, d in enumerate(tokens):
        assert r.uncertainty["loss_after"][i] == pytest.approx(pct([float(a.loss(1e9, d, post=4)) for a in alone]), rel=1e-9)
    assert r.uncertainty["d_crit"] == pytest.approx(pct([float(d_crit(a, 1e9, 4)) for a in alone]), rel=1e-9)
    assert ptq_sweep(load_law("kumar2024"), 1e9, tokens, 4).uncertainty is None


@pytest.mark.slow
def test_precision_ptq_fit_samples_vary_ptq_terms_and_bits():
    """A bootstrap fit of every stage (synthetic quantized runs from kumar2024 with 1% noise):
    its samples cover the precision and PTQ terms, so degradation, D_crit and the chosen bits vary."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from oracles import precision_records
    from precplan.fit import fit_law

    rng = np.random.default_rng(3)
    records = precision_records(load_law("kumar2024"), weight_bits=(3, 4, 6, 8, 16), post_bits=(2, 3, 4, 6))
    for r in records:
        for key in ("loss", "post_loss"):
            if key in r:
                r[key] *= float(np.exp(rng.normal(0, 0.01)))
    law = fit_law(records, grid="coarse", bootstrap=40).law
    assert {"gamma_w", "C_T", "gamma_post"} <= set(law.samples.names)
    r = ptq_risk(law, 2e8, 2e10, 4)
    lo, hi = r.uncertainty["degradation"]
    assert lo < r.degradation < hi and hi > 1.05 * lo
    assert r.uncertainty["degradation"] == pytest.approx(
        pct([float(a.ptq_degradation(2e8, 2e10, 4)) for a in each_sample(law)]), rel=1e-9)
    planner = make_planner(law, has_budget=True)
    assert not bits_independent_of_samples(planner)  # precision terms are sampled
    u = plan_uncertainty(planner, 1e21)
    alone = [make_planner(a, has_budget=True).plans(1e21)[0] for a in each_sample(law)]
    assert u["bits"] == pytest.approx(pct([p.bits.weights for p in alone]))
    assert u["params"] == pytest.approx(pct([p.params for p in alone]), rel=1e-4)


def test_ptq_plot_data_has_a_band_for_sampled_laws():
    from precplan.ptq import degradation_curves

    law = with_samples(load_law("kumar2024"), rows=30)
    tokens = np.array([1e10, 1e11])
    c = degradation_curves(law, 1e9, tokens, [3, 4], planned_tokens=1e11, level=0.9)
    assert c.loss_after_band.shape == (2, 2, 2) and c.band_level == 0.9
    expected = pct([float(a.loss(1e9, 1e11, post=4)) for a in each_sample(law)], 0.9)
    assert list(c.loss_after_band[1, :, 1]) == pytest.approx(expected, rel=1e-9)
    assert degradation_curves(load_law("kumar2024"), 1e9, tokens, [4]).loss_after_band is None
