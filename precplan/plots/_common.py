"""What every plot shares: lazy headless matplotlib, a footer naming the law, atomic saving."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from precplan.errors import PrecplanError
from precplan.io import atomic_write_bytes, check_output_path

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = [
    "FORMATS", "MISSING", "check_plot_path", "footer", "new_figure", "plot_format", "pyplot", "save_figure",
    "series_labels",
]

FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}


MISSING = "plotting needs matplotlib: pip install 'precplan[plot]' (or pip install matplotlib)"


def plot_format(path: str | Path) -> str:
    """The image format of a plot path (.png, .svg or .pdf), or a one-line error."""
    p = Path(path)
    if not str(path).strip():
        raise PrecplanError("--plot: the file name is empty (give a file name, e.g. --plot result.png)")
    if p.suffix.lower() not in FORMATS:
        raise PrecplanError(f"--plot {p}: unknown image format {p.suffix or '(none)'!r} (use .png, .svg or .pdf)")
    return FORMATS[p.suffix.lower()]


def check_plot_path(path: str | Path, inputs: Iterable[Any] = (), force: bool = False) -> Path:
    """Fail early (before long work) on a plot we could not or must not write: an unknown image
    format, no matplotlib (looked up, not imported: start-up stays light), or a path refused by
    :func:`precplan.io.check_output_path` (a folder, an input, an existing file without --force)."""
    from importlib.util import find_spec

    plot_format(path)
    if find_spec("matplotlib") is None:
        raise PrecplanError(MISSING)
    return check_output_path(path, "--plot", inputs, force)


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend, or a clear error when the extra is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
    except ImportError:
        raise PrecplanError(MISSING) from None
    return plt


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 6.4, height: float = 4.6) -> tuple["Figure", Any]:
    """A figure with ``nrows`` x ``ncols`` axes (axes returned as a flat list)."""
    plt = pyplot()
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    return fig, [ax for row in axes for ax in row]


def footer(fig: "Figure", law_id: str, assumed: Iterable[str] = (), extra: str = "") -> None:
    """Name the law and any assumed constants at the bottom of the figure."""
    assumed = list(assumed)
    text = f"law: {law_id}"
    if assumed:
        text += f"  |  uses ASSUMED constants (not reported by any paper): {', '.join(assumed)}"
    if extra:
        text += f"  |  {extra}"
    fig.text(0.01, 0.005, text, fontsize=7, color="0.35", ha="left", va="bottom")


def save_figure(fig: "Figure", path: str | Path) -> Path:
    """Render ``fig`` to ``path`` (.png/.svg/.pdf) atomically and close it."""
    p = Path(path)
    fmt = plot_format(p)
    buf = io.BytesIO()
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(buf, format=fmt, dpi=150)
    pyplot().close(fig)
    return atomic_write_bytes(p, buf.getvalue())


def series_labels(fig: "Figure") -> list[str]:
    """Labels of every line/collection in the figure (tests check expected series this way)."""
    labels: list[str] = []
    for ax in fig.axes:
        for artist in list(ax.lines) + list(ax.collections):
            label = artist.get_label()
            if label and not label.startswith("_"):
                labels.append(label)
    return labels
