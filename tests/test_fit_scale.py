"""fit at scale: the bundled 47-run fit is unchanged, large data take the subsample-then-refine
path and reach the objective of the full grid, the chunked objective equals the one-pass one,
and the fast CSV reader gives the same runs (and the same errors) as the row-by-row one."""

from __future__ import annotations

import pytest

from precplan.fit._fit import fit_law

from fit_helpers import SARDANA, SARDANA_COLUMNS

# precplan fit --example sardana2024 --json, recorded before the scale work (commit 189590e):
# Hoffmann's full 4,500-start grid on all 47 runs.
SARDANA_FIT = {"E": 1.4629631473095435, "A": 35.38830019688386, "B": 133.01984743294275,
               "alpha": 0.1788381532128533, "beta": 0.23160186945756742}


def test_sardana_coefficients_are_those_of_the_full_grid_fit():
    result = fit_law(SARDANA, columns=SARDANA_COLUMNS)
    assert result.stages["base"]["starts"] == 4500 and result.stages["base"]["rows"] == 47
    for name, value in SARDANA_FIT.items():
        assert result.coefficients[name] == pytest.approx(value, rel=1e-6), name


# ------------------------------------------------------------------ the fast CSV reader
import dataclasses  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from precplan.errors import PrecplanError  # noqa: E402
from precplan.fit import _fastcsv  # noqa: E402
from precplan.fit._runs import load_runs  # noqa: E402


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
