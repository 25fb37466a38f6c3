"""What every --plot shares: a clear exit-2 line before any work when matplotlib is missing or
the format is unknown."""

from __future__ import annotations

import sys

import pytest

from precplan.cli import app

PLOT_COMMANDS = [
    ["optimize", "--budget", "1e21"],
    ["ptq-risk", "--params", "7B", "--tokens", "2T"],
    ["fit", "runs.csv"],
    ["validate", "--report", "."],
]


@pytest.mark.parametrize("args", PLOT_COMMANDS, ids=lambda a: a[0])
def test_missing_matplotlib_is_one_line_exit_2(runner, monkeypatch, tmp_path, args) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if the plot extra were not installed
    result = runner.invoke(app, [*args, "--plot", str(tmp_path / "out.png")])
    assert result.exit_code == 2, result.output
    assert "pip install 'precplan[plot]'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("args", PLOT_COMMANDS, ids=lambda a: a[0])
def test_unknown_image_format_is_one_line_exit_2(runner, tmp_path, args) -> None:
    result = runner.invoke(app, [*args, "--plot", str(tmp_path / "out.gif")])
    assert result.exit_code == 2, result.output
    assert "unknown image format '.gif'" in result.stderr
