"""Training curves as fit input (Choshen et al. 2024): checkpoints of each run, the early ones
dropped, every run weighing 1, the bootstrap resampling whole runs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from precplan.cli import app
from precplan.errors import PrecplanError
from precplan.fit._curves import load_curves
from precplan.fit._fit import fit_law
from precplan.laws._file import load_law
from precplan.laws._law import BASE

HOFFMANN = load_law("hoffmann2022")
runner = CliRunner()


def write_curves(path, law, sizes, budgets, checkpoints=10, noise=0.004, seed=0, run_column="run"):
    """One row per checkpoint: run, params, tokens_seen, loss, step; loss = L(N, D_seen) times
    log-normal noise (seeded), checkpoints evenly spaced over each run's tokens."""
    rng = np.random.default_rng(seed)
    lines = [f"{run_column},params,tokens_seen,loss,step"]
    for n in sizes:
        for d in budgets:
            for k in range(1, checkpoints + 1):
                seen = d * k / checkpoints
                loss = float(law.loss(n, seen)) * float(np.exp(rng.normal(0.0, noise)))
                lines.append(f"{n:.0f}-{d:.0f},{n:.6g},{seen:.6g},{loss:.9f},{k * 1000}")
    path.write_text("\n".join(lines) + "\n")
    return path


SIZES = [4e7, 1e8, 3e8, 1e9, 3e9]
BUDGETS = [1e10, 4e10, 1.6e11, 6.4e11]


@pytest.mark.slow
def test_synthetic_curves_recover_the_law_within_the_bootstrap_interval(tmp_path):
    path = write_curves(tmp_path / "curves.csv", HOFFMANN, SIZES, BUDGETS, seed=1)
    result = fit_law(path, grid="coarse", bootstrap=60, level=0.99, seed=2)  # detected: run + step/tokens_seen
    assert result.settings["curves"]["runs"] == 20
    kept = result.n_rows
    assert kept == sum(sum(d * k / 10 >= 1e10 for k in range(1, 11)) for d in BUDGETS) * len(SIZES)
    for name in BASE:
        lo, hi = result.intervals[name]
        assert lo <= HOFFMANN.c(name) <= hi, (name, lo, HOFFMANN.c(name), hi)
    assert result.coefficients["alpha"] == pytest.approx(HOFFMANN.c("alpha"), rel=0.1)
    assert any("each run weighing 1" in n for n in result.notes)
    assert any("fewer than 1e+10 tokens seen" in n for n in result.notes)


def test_checkpoints_are_weighted_per_run_and_the_early_ones_dropped(tmp_path):
    path = write_curves(tmp_path / "c.csv", HOFFMANN, [1e8, 1e9], [2e10, 1e11], checkpoints=4, run_column="run_id")
    curves = load_curves(path, min_tokens=1e10, skip_fraction=0.5)
    # 2e10 runs: checkpoints at 5e9 (dropped: < 1e10), 1e10 (kept: not before half of 2e10), 1.5e10, 2e10
    # 1e11 runs: 2.5e10 (dropped: in the first half of 1e11), 5e10, 7.5e10, 1e11
    assert curves.n == 2 * (3 + 3)
    assert sorted(curves.tokens.tolist()) == sorted([1e10, 1.5e10, 2e10, 5e10, 7.5e10, 1e11] * 2)
    assert np.allclose(np.bincount(curves.run, weights=curves.weight), 1.0)
    assert np.allclose(curves.weight, 1 / 3)
    mixed = load_curves(path, min_tokens=1.2e10)  # 2e10 runs keep 2 checkpoints, 1e11 runs 4
    assert sorted(np.round(mixed.weight, 6).tolist()) == sorted([0.5] * 4 + [0.25] * 8)
    assert load_curves(path, min_tokens=0).n == 16


def test_bad_curves_are_clear_errors(tmp_path):
    path = write_curves(tmp_path / "c.csv", HOFFMANN, [1e8, 1e9], [2e9], checkpoints=3)
    with pytest.raises(PrecplanError, match="every checkpoint is dropped.*`min_tokens` 0"):
        load_curves(path)
    text = path.read_text().replace("100000000-", "1000000000-")  # two model sizes under one run id
    (tmp_path / "mixed.csv").write_text(text)
    with pytest.raises(PrecplanError, match="has checkpoints with different params"):
        load_curves(tmp_path / "mixed.csv", min_tokens=0)
    with pytest.raises(PrecplanError, match="`skip_fraction` must be"):
        load_curves(path, skip_fraction=1.5)


@pytest.mark.slow
def test_cli_fits_curves_and_states_the_choices(tmp_path):
    path = write_curves(tmp_path / "curves.csv", HOFFMANN, SIZES, BUDGETS, checkpoints=5, seed=1)
    res = runner.invoke(app, ["fit", str(path), "--curves", "--grid", "coarse", "--min-tokens", "20B", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["settings"]["curves"]["min_tokens"] == 2e10
    assert doc["settings"]["curves"]["runs"] == 15  # the five 1e10-token runs end before 2e10
    assert any("fewer than 2e+10 tokens seen" in n for n in doc["notes"])
    assert any("5 run(s) had no checkpoint left" in n for n in doc["notes"])
    res = runner.invoke(app, ["fit", str(path), "--grid", "coarse", "--min-tokens", "-3"])
    assert res.exit_code == 2 and "--min-tokens" in res.output
