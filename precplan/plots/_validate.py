"""``validate --plot``: measured vs predicted loss, and loss against training bits for each N."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from precplan.plots._common import footer, new_figure
from precplan.units import format_count

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from precplan.validate import ValidationReport

__all__ = ["KINDS", "validate_figure"]

KINDS = (  # kind, legend label, marker, z-order (training runs drawn over the many PTQ points)
    ("16-bit", "16-bit runs (base fit)", "o", 4),
    ("quantized", "quantized training", "s", 3),
    ("ptq", "post-training quantization", "^", 2),
)


def validate_figure(rep: "ValidationReport") -> "Figure":
    """Left: every measured loss against the law's prediction, with the identity line.
    Right: final loss against training weight bits, one colour per N (measured markers, the
    law's predictions dashed), at the D with the most weight-bit runs for that N."""
    fig, (ax1, ax2) = new_figure(ncols=2)
    lo, hi = float("inf"), float("-inf")
    for kind, label, marker, z in KINDS:
        pts = [c for c in rep.comparisons if c.kind == kind and c.error is not None]
        if pts:
            xs, ys = [c.measured for c in pts], [c.predicted for c in pts]
            ax1.scatter(xs, ys, marker=marker, s=22, alpha=0.8, zorder=z, label=f"{label} ({len(pts)})")
            lo, hi = min(lo, *xs, *ys), max(hi, *xs, *ys)
    if lo < hi:
        pad = 0.03 * (hi - lo)
        ax1.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.4", lw=1, ls="--", label="identity (predicted = measured)")
        r2 = rep.quality.get("all", {}).get("r2")
        if r2 is not None:
            ax1.text(0.03, 0.95, f"R^2 (all) = {r2:.3f}", transform=ax1.transAxes, va="top", fontsize=9)
    else:
        ax1.text(0.5, 0.5, "no predictions: the base law could not be fitted", ha="center", transform=ax1.transAxes)
    ax1.set_xlabel("measured validation loss (nats/token)")
    ax1.set_ylabel(f"predicted loss, {rep.law} (nats/token)")
    ax1.set_title("Measured vs predicted loss")
    ax1.legend(fontsize=8, loc="lower right")

    by_nd: dict[tuple[float, float], dict[int, object]] = defaultdict(dict)
    for c in rep.comparisons:
        if c.kind in ("16-bit", "quantized") and c.activation_bits == 16 and c.kv_bits == 16:
            by_nd[(c.params, c.tokens)][c.weight_bits] = c
    best: dict[float, tuple[float, dict[int, object]]] = {}
    for (N, D), runs in by_nd.items():
        if len(runs) >= 2 and (N not in best or len(runs) > len(best[N][1])):
            best[N] = (D, runs)
    for N in sorted(best):
        D, runs = best[N]
        bits = sorted(runs)
        name = f"N={format_count(N)}, D={format_count(D)}"
        line = ax2.plot(bits, [runs[b].measured for b in bits], marker="o", ls="-", label=f"{name} measured")[0]
        pred = [(b, runs[b].predicted) for b in bits if runs[b].error is not None]
        if pred:
            ax2.plot([b for b, _ in pred], [p for _, p in pred], ls="--", marker="x", color=line.get_color(),
                     label=f"{name} predicted")
    if not best:
        ax2.text(0.5, 0.5, "no N with runs at two or more weight precisions", ha="center", transform=ax2.transAxes)
    ax2.set_xlabel("training weight precision (bits; activations and KV at 16)")
    ax2.set_ylabel("validation loss (nats/token)")
    ax2.set_title("Loss vs weight bits, per model size N")
    ax2.legend(fontsize=7)
    footer(fig, rep.law, rep.assumed, extra=f"{rep.runs} runs; data: {'; '.join(rep.data)[:80]}")
    return fig
