"""The proposal as a picture: existing and proposed runs in the (N, D) plane, and the interval
on the target before and after the round. matplotlib is imported inside (the plot extra)."""

from __future__ import annotations

from typing import Any

__all__ = ["proposal_figure"]


def proposal_figure(proposal: Any, runs: Any = None):  # -> matplotlib Figure
    """Left: runs so far (grey) and proposed runs (red) by N and D, with lines of constant
    6 N D at the target budget. Right: the target's interval before and after (active mode)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt  # the CLI checked the plot extra before any work (check_outputs)

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 4.2))
    if runs is not None:
        ax.scatter(runs.params, runs.tokens, c="0.6", s=14, label="runs so far")
    ax.scatter([r.params for r in proposal.runs], [r.tokens for r in proposal.runs], c="tab:red", s=36, marker="D", label="proposed")
    ax.set_xscale("log"), ax.set_yscale("log"), ax.set_xlabel("parameters N"), ax.set_ylabel("tokens D")
    from matplotlib.ticker import NullFormatter

    for axis in (ax.xaxis, ax.yaxis, bx.xaxis):
        axis.set_minor_formatter(NullFormatter())  # minor log-tick labels overlap
    ax.legend(loc="best", fontsize=8)
    ax.set_title("runs", fontsize=10)
    if proposal.interval_before is not None:
        for y, (lo, hi), label in ((1, proposal.interval_before, "before"), (0, proposal.interval_after, "expected after")):
            bx.plot([lo, hi], [y, y], lw=6, solid_capstyle="butt", label=label)
        if proposal.estimate is not None:
            bx.axvline(proposal.estimate, c="k", lw=1, ls="--", label="fit")
        bx.set_yticks([0, 1], ["after", "before"]), bx.set_ylim(-1, 2)
        bx.set_xscale("log" if proposal.quantity.startswith("N*") else "linear")
        bx.set_xlabel(proposal.quantity)
        bx.set_title(f"{proposal.level:.0%} interval", fontsize=10)
    else:
        bx.text(0.5, 0.5, "seed design: no fit yet", ha="center", va="center", transform=bx.transAxes)
        bx.set_axis_off()
    fig.tight_layout()
    return fig
