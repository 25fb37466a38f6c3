"""``optimize --plot``: real image files of the requested format, holding the expected series."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from precplan import load_law
from precplan.cli import app
from precplan.optimize._planner import make_planner
from precplan.optimize._curves import plan_curves

pytest.importorskip("matplotlib")

from precplan.plots._common import series_labels  # noqa: E402
from precplan.plots._optimize import plot_optimize  # noqa: E402

MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".pdf": b"%PDF-"}


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_cli_writes_a_valid_image(tmp_path, suffix):
    path = tmp_path / f"plan{suffix}"
    result = CliRunner().invoke(app, ["optimize", "--budget", "1e21", "--plot", str(path)])
    assert result.exit_code == 0, result.output
    data = path.read_bytes()
    if suffix == ".svg":
        assert b"<svg" in data[:2000] and data.rstrip().endswith(b"</svg>")
    else:
        assert data.startswith(MAGIC[suffix])
    if suffix == ".png":  # a real raster: the IHDR chunk gives a sensible size
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert width > 500 and height > 300


def figure_for(law_name="kumar2024", budget=None, **options):
    planner = make_planner(load_law(law_name), has_budget=budget is not None, **options)
    plans = planner.plans(budget)
    return plan_curves(planner, plans), plot_optimize(plan_curves(planner, plans))


def test_budget_plot_has_each_precision_the_optimum_and_pstar():
    curves, fig = figure_for(budget=np.array([1e21]))
    labels = series_labels(fig)
    for label in ("4-bit", "8-bit", "16-bit", "optimum", "planned optimum", "P* (searched bits)"):
        assert label in labels
    assert np.all(curves.pstar["P*"] == 7.0)
    # the optimum curve is the lower envelope of the precisions (reducible loss plotted)
    assert np.all(curves.series["optimum"] <= np.minimum(curves.series["8-bit"], curves.series["16-bit"]) + 1e-12)
    assert any(ax.get_xscale() == "log" for ax in fig.axes)


def test_params_plot_has_pstar_and_its_ln_c_trend():
    curves, fig = figure_for(budget=np.logspace(19, 22, 4), params=1e9, bits_range=(3, 32))
    labels = series_labels(fig)
    assert "P* (continuous)" in labels
    assert any(label.startswith("ln C trend") for label in labels)
    intercept, slope = curves.trend
    assert slope > 0  # P* grows with ln C
    cont = curves.pstar["P* (continuous)"]
    assert np.all(np.diff(cont) > 0)
    assert np.max(np.abs(cont - (intercept + slope * np.log(curves.x)))) < 1.0


def test_target_loss_plot_marks_the_inference_blind_plan():
    _, fig = figure_for("sardana2024", target_loss=2.05, inference_tokens=2e12)
    labels = series_labels(fig)
    assert {"16-bit", "training-optimal (inference-blind)", "planned optimum"} <= set(labels)


def test_memory_plot_marks_the_compared_precisions():
    curves, fig = figure_for(memory=880e6, tokens=16e9)
    assert {"loss at the largest model that fits", "compared precisions", "planned optimum"} <= set(series_labels(fig))
    bits, losses = curves.markers["compared precisions"]
    assert list(bits) == [4, 6, 8, 16, 32]
    assert curves.optimum_y[0] <= losses.min()


def test_sampled_law_sweep_plot_has_the_optimum_interval():
    """A law with coefficient samples: the optimum's loss interval (central 80% of the samples'
    optima) brackets each planned loss, and a 10,000-budget sweep draws at most 60 markers."""
    from precplan.laws import compose
    from precplan.optimize._uncertainty import annotate_sweep

    law = compose(load_law("kumar2024"), load_law("besiroglu2024"))
    planner = make_planner(law, has_budget=True)
    sweep = annotate_sweep(planner, planner.sweep(np.logspace(20, 24, 9)))
    c = plan_curves(planner, sweep)
    bx, lo, hi = c.optimum_band
    E = law.c("E")
    assert np.all(lo <= sweep.loss - E) and np.all(sweep.loss - E <= hi) and np.all(hi > lo)
    assert "80%" in c.band_label
    plot_optimize(c)  # draws
    big = plan_curves(make_planner(load_law("kumar2024"), has_budget=True), make_planner(load_law("kumar2024"), has_budget=True).sweep(np.logspace(19, 25, 10_000)))
    assert big.optimum_x.size == 60 and big.optimum_band is None
