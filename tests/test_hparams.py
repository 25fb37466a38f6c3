"""Hyperparameter laws: the values at 7B / 2T against the published constants typed in from the
papers, DeepSeek's Table 2 choices, the disagreement note, fit ranges, the CLI and the optimize
JSON."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from precplan.cli import app
from precplan.hparams import hyperparameters, hparam_laws_dir, load_hparam_law
from precplan.io import bundled_dir

runner = CliRunner()

# DeepSeek LLM, arXiv:2401.02954, sec. 3.1 Eq. 1 (C in FLOPs, B in tokens)
DS_LR_COEF, DS_LR_EXP, DS_BS_COEF, DS_BS_EXP = 0.3118, -0.1250, 0.2920, 0.3271
# DeepSeek LLM 7B, Table 2: 30 layers, d_model 4096, context 4096, batch 2304 sequences, LR 4.2e-4
DS7_LAYERS, DS7_D, DS7_SEQ, DS7_BATCH_SEQS, DS7_LR = 30, 4096, 4096, 2304, 4.2e-4
# Step Law, arXiv:2503.04715: eta = 1.79 N^-0.713 D^0.307, B = 0.58 D^0.571 (tokens)
SL_LR_COEF, SL_LR_N, SL_LR_D, SL_BS_COEF, SL_BS_D = 1.79, -0.713, 0.307, 0.58, 0.571

N7, D2T = 7e9, 2e12


def _by_law(h):
    return {r.law: r for r in h.laws}


def test_values_at_7b_2t_match_the_published_constants():
    h = _by_law(hyperparameters(N7, D2T, seq_len=4096))
    c = 6 * N7 * D2T  # the 6 N D convention precplan uses by default
    assert h["deepseek2024"].learning_rate == pytest.approx(DS_LR_COEF * c ** DS_LR_EXP, rel=1e-12)
    assert h["deepseek2024"].batch_tokens == pytest.approx(DS_BS_COEF * c ** DS_BS_EXP, rel=1e-12)
    assert h["steplaw2025"].learning_rate == pytest.approx(SL_LR_COEF * N7 ** SL_LR_N * D2T ** SL_LR_D, rel=1e-12)
    assert h["steplaw2025"].batch_tokens == pytest.approx(SL_BS_COEF * D2T ** SL_BS_D, rel=1e-12)
    # the rounded figures of the source sheet: ~4.2e-4 and ~9.2M, ~1.0e-3 and ~6.1M
    assert 4.1e-4 < h["deepseek2024"].learning_rate < 4.35e-4 and 9.0e6 < h["deepseek2024"].batch_tokens < 9.4e6
    assert 0.98e-3 < h["steplaw2025"].learning_rate < 1.06e-3 and 6.0e6 < h["steplaw2025"].batch_tokens < 6.25e6
    assert h["steplaw2025"].batch_sequences == pytest.approx(h["steplaw2025"].batch_tokens / 4096)


def test_deepseek_with_its_own_m_reproduces_table_2_for_the_7b_model():
    # Eq. 2: M = 72 n_layer d^2 + 12 n_layer d l_seq; Table 2 lists the hyperparameters chosen from Eq. 1
    m = 72 * DS7_LAYERS * DS7_D**2 + 12 * DS7_LAYERS * DS7_D * DS7_SEQ
    r = _by_law(hyperparameters(N7, D2T, seq_len=DS7_SEQ, laws=["deepseek2024"], flops_per_token=m))["deepseek2024"]
    assert r.learning_rate == pytest.approx(DS7_LR, rel=0.02)
    assert r.batch_sequences == pytest.approx(DS7_BATCH_SEQS, rel=0.03)


def test_the_laws_disagree_at_7b_2t_and_the_sweep_brackets_both():
    h = hyperparameters(N7, D2T)
    lrs = [r.learning_rate for r in h.laws]
    assert h.learning_rate_ratio == pytest.approx(max(lrs) / min(lrs)) and h.learning_rate_ratio > 2.0
    assert h.disagreement is not None and "sweep" in h.disagreement and "disagree" in h.verdict
    assert h.sweep[0] < min(lrs) and h.sweep[-1] > max(lrs) and list(h.sweep) == sorted(h.sweep)


def test_extrapolation_is_flagged_outside_the_fit_range_and_not_inside():
    law = load_hparam_law("steplaw2025")
    lo_n, hi_n = law.fit_range["params"]
    lo_d, hi_d = law.fit_range["tokens"]
    inside = _by_law(hyperparameters((lo_n * hi_n) ** 0.5, (lo_d * hi_d) ** 0.5, laws=["steplaw2025"]))["steplaw2025"]
    assert not inside.extrapolates and inside.extrapolation == 1.0 and inside.extrapolation_notes == ()
    far = _by_law(hyperparameters(N7, D2T))
    assert far["steplaw2025"].extrapolates and far["steplaw2025"].extrapolation == pytest.approx(D2T / hi_d)
    assert far["deepseek2024"].far and "not a measured regime" in far["deepseek2024"].extrapolation_notes[0]
    assert far["deepseek2024"].extrapolation == pytest.approx(6 * N7 * D2T / 2e19)


def test_law_files_ship_inside_the_laws_folder_the_wheel_force_includes():
    assert hparam_laws_dir().parent == bundled_dir("laws")
    for name in ("deepseek2024", "steplaw2025"):
        law = load_hparam_law(name)
        assert law.fit and law.fit_range and "arXiv" in law.citation and "optimal" in law.fit


@pytest.mark.parametrize("kwargs", [dict(params=-1, tokens=1e9), dict(params=1e9, tokens=float("nan")), dict(params=1e9, tokens=1e9, seq_len=0)])
def test_bad_input_is_refused_naming_the_argument(kwargs):
    from precplan.errors import PrecplanError

    with pytest.raises(PrecplanError, match="params|tokens|seq_len"):
        hyperparameters(**kwargs)


def test_cli_json_lists_both_laws_with_the_fields_and_the_verdict_first():
    res = runner.invoke(app, ["hparams", "--params", "7B", "--tokens", "2T", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert len(doc["laws"]) >= 2 and list(doc)[0] == "verdict"
    for r in doc["laws"]:
        assert {"learning_rate", "batch_tokens", "batch_sequences", "source", "extrapolates"} <= set(r)
    table = runner.invoke(app, ["hparams", "--params", "7B", "--tokens", "2T"])
    assert table.exit_code == 0 and table.stdout.splitlines()[0].startswith("Sweep the peak learning rate") and "beyond their data" in table.stdout
    bad = runner.invoke(app, ["hparams", "--params", "7B", "--tokens", "2T", "--seq-len", "0"])
    assert bad.exit_code == 2 and "seq_len" in bad.output


def test_optimize_json_carries_each_laws_hyperparameters_at_the_plans_n_and_d():
    res = runner.invoke(app, ["optimize", "--budget", "1e23", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    hp = doc["hyperparameters"]
    assert hp["params"] == pytest.approx(doc["params"]) and hp["tokens"] == pytest.approx(doc["tokens"])
    by = {r["law"]: r for r in hp["laws"]}
    c = 6 * doc["params"] * doc["tokens"]
    assert by["deepseek2024"]["learning_rate"] == pytest.approx(DS_LR_COEF * c ** DS_LR_EXP)
    assert by["steplaw2025"]["learning_rate"] == pytest.approx(SL_LR_COEF * doc["params"] ** SL_LR_N * doc["tokens"] ** SL_LR_D)
