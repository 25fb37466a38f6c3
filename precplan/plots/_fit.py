"""The picture of a fit: measured vs fitted loss, residuals against N and D, and the bootstrap
spread of the compute-optimal point. Built from a :class:`precplan.fit._fit.FitResult`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from precplan.plots._common import footer, new_figure
from precplan.units import format_count

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from precplan.fit import FitResult

__all__ = ["FIT_COLOR", "HELD_COLOR", "PTQ_COLOR", "fit_figure"]

FIT_COLOR, HELD_COLOR, PTQ_COLOR = "tab:blue", "tab:red", "tab:green"


def fit_figure(result: "FitResult") -> "Figure":
    """Four panels: measured vs fitted, residual vs N, residual vs D, bootstrap spread of N*, D*."""
    fig, (ax_fit, ax_n, ax_d, ax_boot) = new_figure(ncols=2, nrows=2, width=6.2, height=4.8)
    p, h = result.points, result.holdout_points
    is_post = np.array([k == "post" for k in p.kind], dtype=bool)
    groups = [("training runs (fit)", p, ~is_post, FIT_COLOR, "o")]
    if is_post.any():
        groups.append(("PTQ measurements (fit)", p, is_post, PTQ_COLOR, "s"))
    if h is not None and len(h):
        groups.append(("held-out runs", h, np.ones(len(h), dtype=bool), HELD_COLOR, "^"))

    for label, pts, m, color, marker in groups:
        ax_fit.scatter(pts.measured[m], pts.predicted[m], s=18, color=color, marker=marker, label=label, alpha=0.8)
    values = np.concatenate([np.concatenate([g[1].measured[g[2]], g[1].predicted[g[2]]]) for g in groups])
    values = values[np.isfinite(values)]
    lo, hi = float(values.min()), float(values.max())
    pad = 0.03 * (hi - lo or 1.0)
    ax_fit.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.4", lw=1, ls="--", label="identity (perfect fit)")
    ax_fit.set(xlabel="measured loss (nats/token)", ylabel="fitted loss (nats/token)",
               title=f"Measured vs fitted loss (R$^2$ = {result.r2:.3f})")
    ax_fit.legend(fontsize=8)

    for ax, attr, xlabel in ((ax_n, "params", "parameters N"), (ax_d, "tokens", "training tokens D")):
        for label, pts, m, color, marker in groups:
            ax.scatter(getattr(pts, attr)[m], 100 * pts.relative_error[m], s=18, color=color, marker=marker,
                       label=label, alpha=0.8)
        ax.axhline(0.0, color="0.4", lw=1, ls="--", label="zero residual")
        _count_axis(ax)
        ax.set(xlabel=xlabel, ylabel="residual (fitted - measured) / measured (%)", title=f"Residuals against {xlabel}")
        ax.legend(fontsize=8)

    _bootstrap_panel(ax_boot, result)
    extra = f"data: {result.source.get('path')} ({result.n_rows} rows)"
    footer(fig, result.law.id, result.law.assumed, extra)
    fig.suptitle(f"precplan fit: {result.form} law {result.law.id}", fontsize=12)
    return fig


def _count_axis(ax) -> None:
    """Log x axis labelled 30M, 100M, 2B, ... at 1, 2 and 5 times each power of ten."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: format_count(v)))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())


def _bootstrap_panel(ax, result: "FitResult") -> None:
    """Strip plot: each fitted coefficient's (and N*, D*, P*'s) bootstrap values divided by the full
    fit's value, on a log scale, with the central interval as a bar."""
    boot, o = result.bootstrap, result.optimum
    if boot is None or not boot.samples:
        ax.text(0.5, 0.5, "no bootstrap: run with --bootstrap N\nto see the spread of every coefficient",
                transform=ax.transAxes, ha="center", va="center", fontsize=10, color="0.4")
        ax.set(title="Bootstrap spread", xticks=[], yticks=[])
        return
    full = dict(result.coefficients, **{k: v for k, v in o.items() if k != "budget"})
    names = [k for k in boot.samples if full.get(k)]
    rng = np.random.default_rng(0)
    handles = []
    for i, name in enumerate(names):
        ratio = boot.samples[name] / full[name]
        ok = np.isfinite(ratio) & (ratio > 0)
        x = i + rng.uniform(-0.18, 0.18, ok.sum())
        handles.append(ax.scatter(x, ratio[ok], s=6, alpha=0.3, label=f"bootstrap: {_label(name)}"))
        lo, hi = (boot.intervals[name][0] / full[name], boot.intervals[name][1] / full[name])
        if lo > 0 and hi > 0:
            ax.plot([i, i], [lo, hi], color="black", lw=2.0, label="_interval")
    line = ax.axhline(1.0, color="0.3", lw=1, ls="--", label="full fit")
    ax.set_yscale("log")
    ax.set_xticks(range(len(names)), [_label(n) for n in names], rotation=45, ha="right", fontsize=7)
    ax.set(ylabel="bootstrap value / full-fit value",
           title=f"Bootstrap spread ({boot.used} resamples; bars: {boot.level:.0%} intervals;"
                 f" N*, D* at {o['budget']:.3g} FLOPs)")
    ax.title.set_fontsize(9)
    # one legend entry for all resamples (each coefficient is its own labelled series, named on the x axis)
    ax.legend([handles[0], line], ["bootstrap resamples (one colour per coefficient)", "full fit"], fontsize=7, loc="best")


def _label(name: str) -> str:
    return {"N_opt": "N*", "D_opt": "D*", "P_opt": "P*"}.get(name, name)
