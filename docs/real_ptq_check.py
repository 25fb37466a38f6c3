"""How well do the bundled laws' PTQ terms predict published PTQ on real models?

For each bundled law with post-training-quantization terms, and each quantizer (RTN, GPTQ,
AWQ) and bit count in ``data/ptq_measurements.csv``: the number of rows and the median ratio of
the law's predicted degradation (Kumar et al. 2024, eq. 2, at the row's total N, D and bits,
trained in 16 bit) to the measured one, ln(ppl_after) - ln(ppl_before) on WikiText-2. Then the
Llama-3-8B int4 GPTQ row (per-channel if present, else g128). Caveats: data/README.md.
kumar2024-ptq-real's rows here are in-sample; its held-out (leave-one-family-out) errors:
python docs/ptq_holdout.py.

    python docs/real_ptq_check.py
    python docs/real_ptq_check.py --runs-csv runs.csv    # also write the runs that laws/kumar2024-ptq-real.yaml was fit on

The runs CSV holds the GPTQ per-channel rows with 0 <= delta_loss <= 1 as ``params, tokens, loss,
post_bits, post_loss`` with loss = ln(ppl_before) and post_loss = ln(ppl_after) (nats/token), the
columns ``precplan fit --form ptq --law kumar2024`` reads.
"""

from __future__ import annotations

import argparse
import csv
import math

import numpy as np

from precplan.laws import PTQ, bundled_names, load_law
from precplan.ptq import COLLAPSED, METHODS, measurements, predicted_degradation


def _median(x: np.ndarray) -> str:
    return f"{np.median(x):8.3g}" if x.size else "       -"


def _spread(x: np.ndarray) -> str:
    """10th-90th percentile of the ratios."""
    return f"{np.percentile(x, 10):6.2g}-{np.percentile(x, 90):<6.2g}" if x.size > 1 else "     -       "


def write_runs(path: str) -> int:
    """The GPTQ per-channel rows (not collapsed) as a ``precplan fit`` runs CSV; returns the row count."""
    rows = [m for m in measurements() if m.method == "gptq" and m.group == "per-channel" and m.delta_loss <= COLLAPSED]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["params", "tokens", "loss", "post_bits", "post_loss"])
        for m in rows:
            w.writerow([f"{m.params:g}", f"{m.tokens:g}", f"{math.log(m.ppl_before):.6f}", f"{m.bits:g}",
                        f"{math.log(m.ppl_after):.6f}"])
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-csv", help="also write the GPTQ per-channel rows as a precplan fit runs CSV here")
    args = parser.parse_args()
    if args.runs_csv:
        print(f"wrote {write_runs(args.runs_csv)} GPTQ per-channel rows to {args.runs_csv}")
    rows = measurements()
    measured = np.array([m.delta_loss for m in rows])
    method = np.array([m.method for m in rows])
    bits = np.array([m.bits for m in rows])
    per_channel = np.array([m.group == "per-channel" for m in rows])
    usable = (measured > 0) & (measured <= COLLAPSED)  # a ratio needs a nonzero measurement
    laws = [load_law(name) for name in bundled_names()]
    laws = [law for law in laws if law.has_ptq]
    print(f"{len(rows)} measurements; ratio = predicted / measured delta loss (nats/token);"
          f" rows with measured = 0 or > {COLLAPSED:g} nats left out of the medians")
    seen: dict[tuple, str] = {}
    for law in laws:
        terms = tuple(law.c(name) for name in PTQ)
        if terms in seen:  # trained in 16 bit, only the PTQ terms enter the prediction
            print(f"\n{law.id}: same PTQ terms as {seen[terms]}, so the same predictions for these 16-bit-trained models")
            continue
        seen[terms] = law.id
        ratio = predicted_degradation(law, rows) / np.where(measured > 0, measured, np.nan)
        print(f"\n{law.id}")
        print(f"  {'method':6} {'bits':>4} {'rows':>5} {'used':>5} {'median':>8} {'p10-p90':^13} | {'per-ch':>6} {'median':>8}")
        for meth in METHODS:
            for b in sorted(set(bits[method == meth])):
                sel = (method == meth) & (bits == b)
                use = sel & usable
                pc = use & per_channel
                print(
                    f"  {meth:6} {b:4g} {sel.sum():5d} {use.sum():5d} {_median(ratio[use])} {_spread(ratio[use])} |"
                    f" {pc.sum():6d} {_median(ratio[pc])}"
                )
        use = usable
        print(f"  {'all':6} {'':4} {len(rows):5d} {use.sum():5d} {_median(ratio[use])} {_spread(ratio[use])} |"
              f" {(use & per_channel).sum():6d} {_median(ratio[use & per_channel])}")
        family = np.array([m.family for m in rows])
        for fam in dict.fromkeys(family):
            sel = usable & (family == fam) & (method == "gptq")
            tpp = np.median([m.tokens / m.params for m, f in zip(rows, sel) if f]) if sel.any() else float("nan")
            print(f"  gptq, {fam:8} {sel.sum():3d} rows, ~{tpp:5.0f} tokens/param: median ratio {_median(ratio[sel]).strip()}")
        llama = [i for i, m in enumerate(rows) if m.model == "Llama-3-8B" and m.method == "gptq" and m.bits == 4]
        pick = next((i for i in llama if rows[i].group == "per-channel"), llama[0] if llama else None)
        if pick is not None:
            m = rows[pick]
            pred = predicted_degradation(law, [m])[0]
            print(
                f"  Llama-3-8B int4 GPTQ {m.group}: predicted {pred:.4f}, measured {m.delta_loss:.4f}"
                f" (ppl {m.ppl_before:g} -> {m.ppl_after:g}), ratio {pred / m.delta_loss:.3g}"
                f"  [{m.citation}, {m.table}]"
            )


if __name__ == "__main__":
    main()
