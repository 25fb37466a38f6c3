"""`ptq-risk --plot`: a valid image of the requested format holding the expected series."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("matplotlib")

from precplan.cli import app  # noqa: E402
from precplan.laws._file import load_law  # noqa: E402
from precplan.plots._common import series_labels  # noqa: E402
from precplan.plots._ptq import BEFORE_LABEL, D_CRIT_LABEL, curve_label, plot_ptq_curves  # noqa: E402
from precplan.ptq._risk import degradation_curves, plot_token_grid  # noqa: E402
from oracles import ptq_argmin  # noqa: E402
from reference import ASSUMED_C, KUMAR  # noqa: E402

MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF-"}


def is_image(data: bytes, fmt: str) -> bool:
    if fmt == "svg":
        head = data[:400].lstrip()
        return head.startswith(b"<?xml") and b"<svg" in data[:2000] and data.rstrip().endswith(b"</svg>")
    return data.startswith(MAGIC[fmt])


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_cli_writes_a_valid_image(tmp_path, fmt):
    path = tmp_path / f"ptq.{fmt}"
    res = CliRunner().invoke(app, ["ptq-risk", "--params", "7B", "--tokens", "2T", "--posts", "3,4,8", "--plot", str(path)])
    assert res.exit_code == 0, res.output
    assert is_image(path.read_bytes(), fmt)
    assert not any(p.name != path.name for p in tmp_path.iterdir())  # atomic write left no temp file


@pytest.mark.slow
def test_sweep_plot_with_json(tmp_path):
    path = tmp_path / "sweep.png"
    res = CliRunner().invoke(app, ["ptq-risk", "-N", "220M", "-D", "1B:100B:9", "--json", "--plot", str(path)])
    assert res.exit_code == 0, res.output
    assert res.stdout.lstrip().startswith("{")  # the plot does not pollute the JSON
    assert is_image(path.read_bytes(), "png")


def test_figure_holds_expected_series():
    law = load_law("kumar2024")
    posts = ["int3", "4", "8"]
    grid = plot_token_grid([2e12], [3.5e10, 1.9e11, 1.7e14])
    curves = degradation_curves(law, 7e9, grid, posts, planned_tokens=2e12)
    fig = plot_ptq_curves(curves, highlight=4.0)
    labels = series_labels(fig)
    assert any(lbl.startswith(BEFORE_LABEL) for lbl in labels)
    for name in ("int3", "4-bit", "8-bit"):
        assert labels.count(curve_label(name)) == 1
    assert D_CRIT_LABEL in labels and "planned D = 2T" in labels
    # the D_crit stars sit at the minimum of each post-PTQ curve (independent numerical argmin)
    ax = fig.axes[0]
    stars = [col for col in ax.collections if col.get_label() == D_CRIT_LABEL][0].get_offsets()
    c = dict(KUMAR, C_w=ASSUMED_C, C_a=ASSUMED_C, C_kv=ASSUMED_C)
    expected = [ptq_argmin(c, 7e9, b) for b in (3.0, 4.0, 8.0)]
    np.testing.assert_allclose(np.asarray(stars)[:, 0], expected, rtol=1e-6)
    # each star is the lowest point of its curve on the drawn grid (up to grid resolution)
    for i, line in enumerate(ax.lines[1:4]):
        y = np.asarray(line.get_ydata())
        assert np.asarray(stars)[i, 1] <= y.min() + 1e-12
    # a 16-bit model follows eq. 2 (robustness 1): its footer names the law and no assumption;
    # trained at 8 bits the robustness term uses the assumed C_x, and the footer says so
    assert "kumar2024" in fig.texts[0].get_text() and "ASSUMED" not in fig.texts[0].get_text()
    fig = plot_ptq_curves(degradation_curves(law, 7e9, grid, posts, 8, 8, 8, planned_tokens=2e12), highlight=4.0)
    assert "kumar2024" in " ".join(t.get_text() for t in fig.texts) and "ASSUMED" in fig.texts[0].get_text()
    assert ax.get_xscale() == "log" and ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    from precplan.plots._common import pyplot

    pyplot().close(fig)


def test_curves_name_assumed_constants_only_when_they_are_used():
    """A 16-bit model's curves follow eq. 2 (robustness 1): no assumed constant; trained at 8 bits, the
    robustness term uses C_w, C_a, C_kv, and the plot's footer must say so."""
    from precplan import load_law
    from precplan.ptq._risk import degradation_curves

    law = load_law("kumar2024")
    grid = np.logspace(10, 13, 5)
    assert degradation_curves(law, 7e9, grid, [3, 4]).assumed == []
    assert degradation_curves(law, 7e9, grid, [3, 4], 8, 8, 8).assumed == ["C_w", "C_a", "C_kv"]
