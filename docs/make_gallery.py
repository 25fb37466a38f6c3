"""Regenerate the plot gallery (docs/gallery.md) in docs/gallery/ from the real commands.

Run from the repository root (needs the plot extra; the validate plot reads the committed
quick-preset results in docs/validate-quick/):

    python docs/make_gallery.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = Path("docs") / "gallery"  # relative to ROOT
SARDANA = Path("..") / "shared" / "data" / "external" / "sardana2024_training_runs.csv"  # relative to ROOT

COMMANDS: list[tuple[str, list[str]]] = [
    ("optimize-budget.png", ["optimize", "--budget", "1e19:1e25:25"]),
    ("optimize-fixed-params.png", ["optimize", "--budget", "1e19:1e23:25", "--params", "1B", "--continuous",
                                   "--precisions", "3:32"]),
    ("optimize-memory.png", ["optimize", "--memory", "880MB", "--tokens", "16B"]),
    ("ptq-risk.png", ["ptq-risk", "--params", "7B", "--tokens", "2T", "--posts", "3,4,5,6,8"]),
]
if (ROOT / SARDANA).exists():
    COMMANDS.append(("fit-sardana.png", ["fit", str(SARDANA), "--columns",
                                         'params=Parameters,tokens=Tokens,loss=Smoothed Loss',
                                         "--bootstrap", "200"]))
VALIDATE = Path("docs") / "validate-quick"  # relative to ROOT, as recorded in its report.md
if (ROOT / VALIDATE / "runs.jsonl").exists():
    COMMANDS.append(("validate-quick.png", ["validate", "--report", str(VALIDATE)]))


def main() -> int:
    (ROOT / OUT).mkdir(parents=True, exist_ok=True)
    failed = 0
    for name, args in COMMANDS:
        cmd = [sys.executable, "-m", "precplan", *args, "--plot", str(OUT / name), "--force"]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        status = "ok" if done.returncode == 0 else f"FAILED ({done.returncode}): {done.stderr.strip()[-300:]}"
        failed += done.returncode != 0
        print(f"{name}: {status}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
