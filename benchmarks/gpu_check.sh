#!/usr/bin/env bash
# One check of precplan validate on a CUDA machine, in under 8 minutes:
#   1. the CUDA-only tests (pytest -m cuda),
#   2. the fake-quantization step overhead, eager and with --compile (target: compiled
#      w4a4kv4 step <= 1.15x the compiled unquantized step),
#   3. a two-run slice of the gpu preset (--shard 0/24: runs 0 and 24, a 1.6M model on 50M
#      tokens and a 3M model with 8-bit weights on 100M tokens) with --devices all,
#   4. the formats preset (bf16, e4m3, e5m2, mxfp4, nvfp4; a 1.6M model on 10M tokens, 2 seeds:
#      10 runs) and each format's loss gap to bf16,
# then one summary. Run from the repository root: bash benchmarks/gpu_check.sh [OUT_DIR]
# Without a CUDA GPU it stops at once, says so, and exits 2 (nothing was checked).
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
OUT=${1:-$(mktemp -d -t precplan-gpu-check-XXXX)}
mkdir -p "$OUT"

if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  echo "gpu_check: no CUDA GPU visible to torch here (or torch missing): nothing checked. Run it on a machine with a CUDA GPU." >&2
  exit 2
fi

START=$(date +%s)
"$PY" -c 'import torch; print("GPU:", ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())), "| torch", torch.__version__)' | tee "$OUT/gpu.txt"

echo "== 1/4 CUDA-only tests"
timeout 150 "$PY" -m pytest -q -p no:cacheprovider -m cuda tests/ > "$OUT/tests.log" 2>&1
TESTS_RC=$?
tail -n 3 "$OUT/tests.log"

echo "== 2/4 step overhead (eager, then torch.compile)"
timeout 120 "$PY" benchmarks/bench_quant_step.py --device cuda --steps 10 --rounds 2 > "$OUT/bench_eager.txt" 2>&1
EAGER_RC=$?
tail -n 1 "$OUT/bench_eager.txt"
timeout 180 "$PY" benchmarks/bench_quant_step.py --device cuda --steps 10 --rounds 2 --compile > "$OUT/bench_compile.txt" 2>&1
COMPILE_RC=$?
tail -n 1 "$OUT/bench_compile.txt"

echo "== 3/4 two runs of the gpu preset on every GPU (--devices all)"
timeout 240 "$PY" -m precplan validate --preset gpu --shard 0/24 --devices all --out "$OUT/slice" --fit-grid coarse --json \
  > "$OUT/slice.json" 2> "$OUT/slice.err"
SLICE_RC=$?
tail -n 2 "$OUT/slice.err"

echo "== 4/4 training formats against bf16 (--preset formats)"
timeout 150 "$PY" -m precplan validate --preset formats --device cuda --out "$OUT/formats" --checkpoints 0 --json \
  > "$OUT/formats.json" 2> "$OUT/formats.err"
FORMATS_RC=$?
tail -n 2 "$OUT/formats.err"

"$PY" - "$OUT" "$TESTS_RC" "$EAGER_RC" "$COMPILE_RC" "$SLICE_RC" "$FORMATS_RC" "$START" <<'EOF'
import json, re, sys, time
from pathlib import Path

out, tests_rc, eager_rc, compile_rc, slice_rc, formats_rc, start = sys.argv[1], *map(int, sys.argv[2:])
out = Path(out)

def last_ratio(name):
    text = (out / name).read_text() if (out / name).exists() else ""
    m = re.search(r"worst ([0-9.]+) \(target <= ([0-9.]+)\): (OK|ABOVE TARGET)", text)
    return f"{m.group(1)}x (target <= {m.group(2)}x, {m.group(3)})" if m else "no result (see " + name + ")"

tests = (out / "tests.log").read_text().strip().splitlines()[-1:] if (out / "tests.log").exists() else ["?"]
lines = [f"GPU: {(out / 'gpu.txt').read_text().strip()}",
         f"CUDA tests: {'passed' if tests_rc == 0 else 'FAILED (rc %d)' % tests_rc}: {tests[0] if tests else ''}",
         f"quantized/unquantized step, eager: {last_ratio('bench_eager.txt')}",
         f"quantized/unquantized step, torch.compile: {last_ratio('bench_compile.txt')}"]
try:
    doc = json.loads((out / "slice.json").read_text())
    s = doc["sweep"]
    lines.append(f"gpu preset slice (--devices all): ran {s['ran']}, skipped {s['skipped']}, diverged {s['diverged']},"
                 f" {s['wall_s']:.0f} s on {s['device']}")
    for c in doc.get("comparisons", []):
        if c["kind"] != "ptq":
            lines.append(f"  N={c['params']:.3g} D={c['tokens']:.3g} bits {c['weight_bits']}/{c['activation_bits']}/{c['kv_bits']}:"
                         f" loss {c['measured']:.4f}")
except Exception as exc:  # noqa: BLE001
    lines.append(f"gpu preset slice: FAILED (rc {slice_rc}; {exc!r}); see {out / 'slice.err'}")
try:
    f = json.loads((out / "formats.json").read_text())
    s = f["sweep"]
    lines.append(f"formats preset: ran {s['ran']}, diverged {s['diverged']}, {s['wall_s']:.0f} s; {f['formats']['verdict']}")
    for r in f["formats"]["rows"]:
        gap = "-" if r["rel_gap"] is None else f"{r['gap']:+.4f} ({100 * r['rel_gap']:+.2f}%)"
        loss = "diverged" if r["mean_loss"] is None else f"{r['mean_loss']:.4f}"
        lines.append(f"  {r['label']:<10} loss {loss} over {r['seeds']} seeds, gap to bf16 {gap},"
                     f" {'-' if r['resolved'] is None else 'resolved' if r['resolved'] else 'within seed noise'}")
except Exception as exc:  # noqa: BLE001
    lines.append(f"formats preset: FAILED (rc {formats_rc}; {exc!r}); see {out / 'formats.err'}")
ok = tests_rc == 0 and eager_rc == 0 and compile_rc == 0 and slice_rc == 0 and formats_rc == 0
lines.append(f"total {time.time() - start:.0f} s; {'ALL OK' if ok else 'SOMETHING FAILED'}; logs in {out}")
print("\n== summary\n" + "\n".join(lines))
sys.exit(0 if ok else 1)
EOF
