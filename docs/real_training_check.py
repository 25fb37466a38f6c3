"""How well do the bundled laws predict real low-precision training runs?

For every bundled law and every comparable row of ``data/lowprec_training_runs.csv``: the law's
predicted relative loss gap (L(format) - L(baseline)) / L(baseline) at the row's total N and D,
the measured gap as the source states it (``~`` about, ``<`` an upper bound), and their ratio.
Then, per law, the median predicted/measured ratio and how many rows lie within 2x, over the
``~`` rows the law can describe, and how many ``<`` bounds it respects. A law that cannot
describe a row's format or baseline shows ``n/a`` (the reason is printed once per law).

Bit-count laws (kumar2024...) predict each format at its bits per element including the scale
(MXFP4 4.25, NVFP4 4.5, FP8 with 128-element blocks 8.125), with weights, activations and KV all
in that format. N is the total parameter count (the MoE rows have no active count in their
source). Caveats: data/README.md.

    python docs/real_training_check.py
"""

from __future__ import annotations

import numpy as np

from precplan.laws import bundled_names, check_law_against_runs, load_law, training_runs


def main() -> None:
    runs = [r for r in training_runs() if r.comparable]
    print("measured runs (comparable rows of data/lowprec_training_runs.csv):")
    for r in runs:
        print(f"  {r.id:<24} N={r.params:8.3g} D={r.tokens:8.3g} {r.format:<14} vs {r.baseline:<14}"
              f" measured {r.describe_gap():>7}  [{r.locator.split(';')[0]}]")
    print()
    header = f"{'law':<20}" + "".join(f"{r.id[:16]:>17}" for r in runs)
    print("predicted relative gap (%), per law and run:")
    print(header)
    summary = []
    for name in bundled_names():
        checks = check_law_against_runs(load_law(name))
        cells = "".join(f"{c.predicted * 100:17.3f}" if c.predicted is not None else f"{'n/a':>17}" for c in checks)
        print(f"{name:<20}{cells}")
        about = [c for c in checks if c.predicted is not None and c.run.relation == "~"]
        bounds = [c for c in checks if c.predicted is not None and c.run.relation == "<"]
        ratios = np.array([c.ratio for c in about], dtype=float)
        reasons = sorted({c.reason for c in checks if c.reason})
        summary.append((name, ratios, sum(bool(c.consistent) for c in about), len(about),
                        sum(bool(c.consistent) for c in bounds), len(bounds), reasons))
    print()
    print(f"{'law':<20}{'~ rows':>7}{'median ratio':>14}{'within 2x':>11}{'<-bounds kept':>15}")
    for name, ratios, ok, n, bok, bn, reasons in summary:
        med = f"{np.median(ratios):.3g}" if ratios.size else "-"
        print(f"{name:<20}{n:>7}{med:>14}{f'{ok}/{n}':>11}{f'{bok}/{bn}':>15}")
    print()
    print("why a law shows n/a:")
    for name, *_, reasons in summary:
        for reason in reasons:
            print(f"  {name}: {reason}")


if __name__ == "__main__":
    main()
