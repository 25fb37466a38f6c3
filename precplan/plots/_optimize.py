"""``optimize --plot``: draw :class:`~precplan.optimize._curves.Curves` (no law math here)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from precplan.plots._common import footer, new_figure
from precplan.units import format_count

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from precplan.optimize import Curves

__all__ = ["plot_optimize"]


def plot_optimize(c: "Curves") -> "Figure":
    """Loss (or lifetime compute) curves with the optimum marked; a P* panel for budget plans."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    with_pstar = bool(c.pstar)
    fig, axes = new_figure(ncols=2 if with_pstar else 1)
    ax = axes[0]
    if c.kind == "hardware":  # cost (c.x) against each format's predicted loss (the series)
        for label, loss in c.series.items():
            ax.plot(loss, c.x, lw=1.6, label=label)
        ax.scatter(c.optimum_x, c.optimum_y, marker="*", s=140, zorder=5, color="crimson", label="chosen plan")
        ax.set_yscale("log")
        ax.set_xlabel(c.x_label)
        ax.set_ylabel(c.y_label)
        ax.set_title(c.title, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        footer(fig, c.law, c.assumed, extra="cost model: hardware (each format at its dense peak x MFU)")
        return fig
    for label, y in c.series.items():
        style = {"color": "black", "lw": 2.2, "ls": "--"} if label == "optimum" else {"lw": 1.6}
        ax.plot(c.x, y, label=label, **style)
    for label, (mx, my) in c.markers.items():
        ax.scatter(mx, my, marker="s", s=36, zorder=4, label=label, color="tab:gray")
    ax.scatter(c.optimum_x, c.optimum_y, marker="*", s=140, zorder=5, color="crimson", label="planned optimum")
    if c.optimum_band is not None:
        bx, lo, hi = c.optimum_band
        if len(bx) >= 2:
            ax.fill_between(bx, lo, hi, color="crimson", alpha=0.15, lw=0, label=c.band_label)
        else:  # one budget: an error bar on its star
            ax.errorbar(bx, (lo + hi) / 2, yerr=(hi - lo) / 2, fmt="none", ecolor="crimson", capsize=4, label=c.band_label)
    if c.kind in ("budget", "params", "target-loss"):
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
    if c.kind == "target-loss":  # parameters span less than two decades: label 2B, 5B, 10B, ...
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: format_count(v)))
    if c.y_log:
        ax.set_yscale("log")
    if c.y_limits is not None:
        ax.set_ylim(*c.y_limits)
    ax.set_xlabel(c.x_label)
    ax.set_ylabel(c.y_label)
    ax.set_title(c.title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    if with_pstar:
        ax2 = axes[1]
        for label, y in c.pstar.items():
            if label == "ln C trend" and c.trend is not None:
                a, b = c.trend
                label = f"ln C trend: {a:.2f} + {b:.3f} ln C"
                ax2.plot(c.x, y, ls=":", color="black", label=label)
            elif label == "P*":
                ax2.step(c.x, y, where="mid", lw=1.8, label="P* (searched bits)")
            else:
                ax2.plot(c.x, y, lw=1.6, label=label)
        ax2.set_xscale("log")
        ax2.set_xlabel(c.x_label)
        ax2.set_ylabel("optimal training precision P* (bits)")
        ax2.set_title("optimal training precision vs budget", fontsize=10)
        ax2.grid(True, which="both", alpha=0.3)
        ys = np.concatenate([np.asarray(v, dtype=float) for v in c.pstar.values()])
        ax2.set_ylim(np.nanmin(ys) - 1, np.nanmax(ys) + 1)
        ax2.legend(fontsize=8)
    footer(fig, c.law, c.assumed, extra="FLOPs are 16-bit-equivalent: C = (6/16) N D P")
    return fig
