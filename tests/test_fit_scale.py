"""fit at scale: the bundled 47-run fit is unchanged, large data take the subsample-then-refine
path and reach the objective of the full grid, the chunked objective equals the one-pass one,
and the fast CSV reader gives the same runs (and the same errors) as the row-by-row one."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from precplan.errors import PrecplanError
from precplan.fit import _fastcsv, _objective
from precplan.fit._fit import fit_law
from precplan.fit._models import ChinchillaModel
from precplan.fit._objective import Objective
from precplan.fit._runs import load_runs
from precplan.fit._solve import representative_rows
from precplan.laws._file import load_law
from precplan.laws._law import BASE

from oracles import SARDANA_COLUMNS
from oracles import SARDANA_RUNS as SARDANA

# precplan fit --example sardana2024 --json, recorded before the scale work (commit 189590e):
# Hoffmann's full 4,500-start grid on all 47 runs.
SARDANA_FIT = {"E": 1.4629631473095435, "A": 35.38830019688386, "B": 133.01984743294275,
               "alpha": 0.1788381532128533, "beta": 0.23160186945756742}


@pytest.mark.slow
def test_sardana_coefficients_are_those_of_the_full_grid_fit():
    result = fit_law(SARDANA, columns=SARDANA_COLUMNS)
    assert result.stages["base"]["starts"] == 4500 and result.stages["base"]["rows"] == 47
    for name, value in SARDANA_FIT.items():
        assert result.coefficients[name] == pytest.approx(value, rel=1e-6), name


# ------------------------------------------------------------------ the fast CSV reader




def slow_runs(path: Path, columns=None, monkeypatch=None):
    """The row-by-row reader (the fast one switched off)."""
    monkeypatch.setattr(_fastcsv, "FAST_BYTES", 1 << 62)
    try:
        return load_runs(path, columns)
    finally:
        monkeypatch.undo()


def assert_same_runs(a, b):
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            assert x is not None and y is not None, f.name
            assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=True), f.name
        else:
            assert x == y, f.name


def test_a_large_csv_reads_the_same_through_numpy(tmp_path, monkeypatch):
    rng = np.random.default_rng(5)
    n = 30_000
    lines = ["Run,P,tokens,loss,weight_bits,post_bits,post_loss"]
    for i in range(n):
        bits = "" if i % 3 else str(int(rng.integers(3, 9)))
        post = ("", "") if i % 5 else ("4", f"{3.5 + rng.random():.6f}")
        lines.append(f"r{i},{rng.uniform(1e7, 1e10):.9g},{rng.uniform(1e9, 1e12):.9g},{2 + rng.random():.12g},{bits},{post[0]},{post[1]}")
    path = tmp_path / "big.csv"
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size > _fastcsv.FAST_BYTES
    fast = load_runs(path, {"params": "P"})
    assert fast.n == n and np.isnan(fast.weight_bits).sum() == n - len(range(0, n, 3))
    assert_same_runs(fast, slow_runs(path, {"params": "P"}, monkeypatch))


@pytest.mark.parametrize(
    "body, message, numeric",
    [
        ("2e8,2e9,nan\n", "line 4: loss is nan", True),
        ("-2e8,2e9,3.0\n", "line 4: params = -2e\\+08 must be positive", True),
        ("2e8,0,3.0\n", "line 4: tokens = 0 must be positive", True),
        ("1e8,1e9,3.1\n", "line 2 and line 4 are the same run", True),
        ("2e8,2e9,\n", "line 4: loss is empty", False),  # not numbers: left to the row-by-row reader
        ("2e8,2e9,abc\n", "line 4: loss = 'abc' is not a number", False),
        ("220M,2e9,3.3\n", None, False),  # a count with a suffix: valid
    ],
)
def test_the_fast_reader_reports_what_the_row_by_row_reader_reports(tmp_path, monkeypatch, body, message, numeric):
    path = tmp_path / "runs.csv"
    path.write_text("params,tokens,loss\n1e8,1e9,3.1\n1.5e8,1e9,3.0\n" + body + "3e8,3e9,2.9\n")
    raw = path.read_bytes()
    if not numeric:
        assert _fastcsv.read_csv(path, raw, {}, "x") is None
    if message is None:
        assert slow_runs(path, None, monkeypatch).params[2] == 220e6
        return
    with pytest.raises(PrecplanError, match=message) as slow:
        slow_runs(path, None, monkeypatch)
    if numeric:
        with pytest.raises(PrecplanError) as fast:
            _fastcsv.read_csv(path, raw, {}, "x")
        assert str(fast.value) == str(slow.value)


# ------------------------------------------------------------------ subsample, then refine on all rows

HOFFMANN = load_law("hoffmann2022")


def synthetic_runs(n: int, seed: int = 0, noise: float = 0.01) -> list[dict]:
    """Runs of Hoffmann et al.'s law over 30M-10B parameters and 1B-1T tokens (log-uniform), noisy."""
    rng = np.random.default_rng(seed)
    N = np.exp(rng.uniform(np.log(3e7), np.log(1e10), n))
    D = np.exp(rng.uniform(np.log(1e9), np.log(1e12), n))
    L = HOFFMANN.loss(N, D) * np.exp(rng.normal(0, noise, n))
    return [{"params": a, "tokens": b, "loss": c} for a, b, c in zip(N, D, L)]


@pytest.mark.slow
def test_subsample_then_refine_reaches_the_full_grid_objective():
    runs = synthetic_runs(700, seed=4)
    full = fit_law(runs, grid="coarse", subsample=0)
    fast = fit_law(runs, grid="coarse", subsample=250)
    assert full.stages["base"]["grid_rows"] == 700 and fast.stages["base"]["grid_rows"] == 250
    assert fast.stages["base"]["rows"] == 700
    f_full, f_fast = full.stages["base"]["objective"], fast.stages["base"]["objective"]
    assert f_fast <= f_full * (1 + 1e-9)
    for name in BASE:
        assert fast.coefficients[name] == pytest.approx(full.coefficients[name], rel=1e-5), name
    assert any("representative 250-row subsample" in n for n in fast.notes)
    assert not any("subsample" in n for n in full.notes)


def test_representative_rows_span_every_feature():
    rng = np.random.default_rng(0)
    feats = np.stack([rng.lognormal(0, 2, 50_000), rng.lognormal(0, 2, 50_000)], axis=1)
    idx = representative_rows(feats, 200)
    assert idx.size == 200 and np.unique(idx).size == 200
    for j in range(2):  # the extremes are kept, and the subsample fills the range evenly by rank
        assert feats[:, j].argmin() in idx and feats[:, j].argmax() in idx
        ranks = np.argsort(np.argsort(feats[:, j]))[idx] / feats.shape[0]
        assert np.histogram(ranks, bins=4, range=(0, 1))[0].min() >= 35
    assert np.array_equal(idx, representative_rows(feats, 200))
    assert np.array_equal(representative_rows(feats[:150], 200), np.arange(150))


def test_the_chunked_objective_equals_the_one_pass_objective(monkeypatch):
    runs = synthetic_runs(1000, seed=2)
    N, D, L = (np.array([r[k] for r in runs]) for k in ("params", "tokens", "loss"))
    w = np.random.default_rng(1).random(1000)
    x = np.array([[6.0, 6.0, 0.5, 0.34, 0.28], [5.0, 7.0, 0.4, 0.3, 0.3]])
    whole = Objective(ChinchillaModel(N, D), np.log(L), w).batch(x, np.arange(2))
    monkeypatch.setattr(_objective, "ROW_CHUNK", 64)
    chunked = Objective(ChinchillaModel(N, D), np.log(L), w).batch(x, np.arange(2))
    np.testing.assert_allclose(chunked[0], whole[0], rtol=1e-12)
    np.testing.assert_allclose(chunked[1], whole[1], rtol=1e-10, atol=1e-14)
