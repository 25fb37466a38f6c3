"""Plot for ``ptq-risk``: post-PTQ loss vs training tokens for each serving precision, with
each curve's minimum, the critical data size D_crit (Kumar et al. 2024, eq. 13), marked;
and the PTQ degradation vs tokens on log-log axes (the paper's figure 3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from precplan.plots._common import footer, new_figure
from precplan.ptq import PtqCurves
from precplan.units import format_count

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["BEFORE_LABEL", "D_CRIT_LABEL", "curve_label", "plot_ptq_curves"]

BEFORE_LABEL = "before PTQ"
D_CRIT_LABEL = "D_crit (best tokens at each precision)"


def curve_label(name: str) -> str:
    """Legend label of one serving precision's post-PTQ loss curve."""
    return f"PTQ to {name}"


def plot_ptq_curves(c: PtqCurves, highlight: float | None = None) -> "Figure":
    """Build (and return) the ptq-risk figure from :func:`precplan.ptq._risk.degradation_curves` output.
    ``highlight``: the headline serving precision (drawn thicker)."""
    fig, (ax, ax_deg) = new_figure(ncols=2)
    b = c.bits
    trained = f"trained at {b.weights:g}/{b.activations:g}/{b.kv:g} bits (w/a/KV)"
    import matplotlib  # already imported (headless) by new_figure

    cmap = matplotlib.colormaps["plasma"]
    colors = [cmap(0.85 * i / max(len(c.post_bits) - 1, 1)) for i in range(len(c.post_bits))]

    ax.plot(c.tokens, c.loss_before, color="black", lw=2, ls="--", label=f"{BEFORE_LABEL} ({trained})")
    for i, name in enumerate(c.post_names):
        lw = 2.6 if highlight is not None and c.post_bits[i] == highlight else 1.4
        ax.plot(c.tokens, c.loss_after[i], color=colors[i], lw=lw, label=curve_label(name))
        if c.loss_after_band is not None and highlight is not None and c.post_bits[i] == highlight:
            ax.fill_between(c.tokens, c.loss_after_band[i, 0], c.loss_after_band[i, 1], color=colors[i], alpha=0.2, lw=0,
                            label=f"{c.band_level:.0%} interval (coefficient samples)")
        ax_deg.plot(c.tokens, c.degradation[i], color=colors[i], lw=lw, label=f"_{name}")
    lo, hi = c.tokens.min(), c.tokens.max()
    inside = np.isfinite(c.d_crit) & (c.d_crit >= lo) & (c.d_crit <= hi)
    if inside.any():
        ax.scatter(
            c.d_crit[inside], c.loss_at_d_crit[inside], marker="*", s=120, zorder=5,
            color=[colors[i] for i in np.flatnonzero(inside)], edgecolors="black", linewidths=0.6,
            label=D_CRIT_LABEL,
        )
        for i in np.flatnonzero(inside):
            ax_deg.axvline(c.d_crit[i], color=colors[i], lw=0.8, ls=":")
    if c.planned_tokens is not None:
        label = f"planned D = {format_count(c.planned_tokens)}"
        ax.axvline(c.planned_tokens, color="0.4", lw=1.2, ls="-.", label=label)
        ax_deg.axvline(c.planned_tokens, color="0.4", lw=1.2, ls="-.", label="_" + label)

    finite = np.concatenate([c.loss_before[np.isfinite(c.loss_before)], c.loss_at_d_crit[np.isfinite(c.loss_at_d_crit)]])
    if finite.size:
        bottom = float(finite.min())
        top = float(np.nanmax(np.where(np.isfinite(c.loss_before), c.loss_before, np.nan)))
        span = max(top - bottom, 1e-3)
        ax.set_ylim(bottom - 0.05 * span, top + 0.6 * span)
    ax.set_xscale("log")
    ax.set_xlabel("training tokens D")
    ax.set_ylabel("validation loss after PTQ (nats/token)")
    ax.set_title(f"Post-PTQ loss vs training tokens, N = {format_count(c.params)} params")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7, loc="upper right")

    ax_deg.set_xscale("log")
    ax_deg.set_yscale("log")
    ax_deg.set_xlabel("training tokens D")
    ax_deg.set_ylabel("PTQ degradation delta_PTQ (nats/token)")
    ax_deg.set_title("Degradation grows with data (dotted: D_crit)")
    ax_deg.grid(True, which="both", alpha=0.25)
    footer(fig, c.law, c.assumed, extra=trained)
    return fig
