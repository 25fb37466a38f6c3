"""The bundled PTQ laws on model families they were not fit on.

For each bundled law with PTQ terms: per model family of the GPTQ per-channel rows of
data/ptq_measurements.csv (the rows kumar2024-ptq-real is fit on), the median of predicted /
measured degradation and how many rows land within 2x. kumar2024 (and its float variant) never
saw these rows, so every row is held out. kumar2024-ptq-real is refit with one family left out
and scored on that family (leave one family out), with the fold's constants printed.

    python docs/ptq_holdout.py                       # the table (docs/science.md, laws show)
    python docs/ptq_holdout.py --yaml                # the provenance.holdout block of laws/kumar2024-ptq-real.yaml
    python docs/ptq_holdout.py --bootstrap 200       # the samples block: refits on families drawn with replacement

Takes about a minute (five refits); --bootstrap N about N x 3-10 s.
"""

from __future__ import annotations

import argparse

import numpy as np

from precplan.laws import PTQ, bundled_names, load_law
from precplan.ptq import FITTED, calibration_rows, family_bootstrap, family_errors, leave_one_family_out

CALIBRATED = "kumar2024-ptq-real"
LOFO_METHOD = ("the four PTQ constants (C_T, gamma_D, gamma_N, gamma_post) refit on the other families' GPTQ"
               " per-channel rows, kumar2024's other constants held; scored on the left-out family (python docs/ptq_holdout.py)")


def table(rows: list[tuple[str, list]]) -> str:
    """Markdown: one row per law and family, then the law's total."""
    out = ["| law | family | rows | median predicted/measured | within 2x |", "|---|---|---:|---:|---:|"]
    for law_id, errs in rows:
        for e in errs:
            out.append(f"| {law_id} | {e.family} | {e.rows} | {e.median_ratio:.2f} | {e.within_2x} |")
        out.append(f"| {law_id} | **all** | {sum(e.rows for e in errs)} | - | **{sum(e.within_2x for e in errs)}** |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--yaml", action="store_true", help="print the provenance.holdout block for the calibrated law")
    parser.add_argument("--bootstrap", type=int, default=0, help="print a samples block of this many family-bootstrap refits")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    if args.bootstrap:
        values = family_bootstrap(args.bootstrap, args.seed)
        print("samples:")
        print(f"  method: >-\n    cluster bootstrap over model families: {args.bootstrap} refits of {', '.join(FITTED)} (precplan fit"
              f" --form ptq --law kumar2024) on the {len(calibration_rows())} GPTQ per-channel rows of the five families"
              f" (OPT, BLOOM, LLaMA-1, Llama-2, Llama-3) drawn with replacement, draws with fewer than 3 distinct families"
              f" redrawn; numpy.random.default_rng({args.seed}); python docs/ptq_holdout.py --bootstrap {args.bootstrap}")
        print(f"  names: [{', '.join(FITTED)}]")
        print("  values: |")
        for row in values:
            print("    " + " ".join(f"{x:.6g}" for x in row))
        return
    lofo = leave_one_family_out()
    if args.yaml:
        print("  holdout:")
        print(f"    method: \"{LOFO_METHOD}\"")
        print("    families:")
        for e in lofo:
            c = ", ".join(f"{k}: {v:.3g}" for k, v in e.constants.items())
            print(f"      {e.family}: {{rows: {e.rows}, median_ratio: {e.median_ratio:.3f}, within_2x: {e.within_2x}, constants: {{{c}}}}}")
        return
    rows, seen = [], {}
    for name in bundled_names():
        law = load_law(name)
        if not law.has_ptq or name == CALIBRATED:
            continue
        terms = tuple(law.c(k) for k in PTQ)
        if terms in seen:  # the same PTQ terms predict the same for these 16-bit-trained models
            print(f"{name}: same PTQ terms as {seen[terms]}")
            continue
        seen[terms] = name
        rows.append((name, family_errors(law)))
    rows.append((f"{CALIBRATED} (held out)", lofo))
    print(table(rows))
    print("\nconstants of each fold (fit without that family):")
    for e in lofo:
        print(f"  without {e.family:8}: " + ", ".join(f"{k} {v:.3g}" for k, v in e.constants.items()))
    c = np.array([[e.constants[k] for k in FITTED] for e in lofo])
    print("  spread over folds: " + ", ".join(f"{k} {lo:.3g}..{hi:.3g}" for k, lo, hi in zip(FITTED, c.min(0), c.max(0))))


if __name__ == "__main__":
    main()
