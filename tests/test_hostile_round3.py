"""Hostile input, round three (issue 23): hardware catalogs, GPU budgets, serving options, law
lists, training curves, validate's executors and devices, --data.

Same contract as tests/test_hostile_inputs.py: each case ends in exactly one line on stderr,
``error: ...``, exit code 2, no traceback, no numpy repr, and the working folder exactly as it
was. The machine is made the same for every case (no CUDA GPU visible, no SLURM on PATH), so
the verdicts do not depend on where the tests run. Implausible but legal values (an MFU under
1%, a batch of a billion) are the other side: a correct answer plus exactly one warning line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from precplan.cli import app

from oracles import STORE_LINE, assert_refused, snapshot

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # hundreds of invocations: CI runs them, the quick loop skips them

GOOD_CATALOG = """schema: precplan-hardware/1
gpus:
  toy:
    name: Toy GPU
    aliases: [toy-gpu]
    memory: {bytes: 8.0e+10, source: "test"}
    bandwidth: {bytes_per_s: 3.0e+12, source: "test"}
    formats:
      bf16: {flops: 1.0e+15, bits: 16, source: "test"}
      fp8: {flops: 2.0e+15, bits: 8, source: "test"}
"""
GPU_HEAD = """schema: precplan-hardware/1
gpus:
  toy:
    name: Toy GPU
    memory: {bytes: MEM, source: "test"}
    bandwidth: {bytes_per_s: BW, source: "test"}
    formats:
"""


def _catalog(mem: str = "8.0e+10", bw: str = "3.0e+12", formats: str = "      bf16: {flops: 1.0e+15, bits: 16, source: t}\n",
             extra: str = "") -> str:
    return GPU_HEAD.replace("MEM", mem).replace("BW", bw) + formats + extra


def _fmt(name: str, flops: str = "1.0e+15", bits: str = "16") -> str:
    return f"      {name}: {{flops: {flops}, bits: {bits}, source: t}}\n"


BF16 = _fmt("bf16")
# Catalogs that must be refused, each for its own reason.
BAD_CATALOGS: dict[str, str | bytes] = {
    "bomb": 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
            + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))
            + "schema: precplan-hardware/1\ngpus: *i\n",
    "anchor-on-gpu": GOOD_CATALOG.replace("  toy:\n", "  toy: &t\n"),
    "alias-second-gpu": GOOD_CATALOG.replace("  toy:\n", "  toy: &t\n") + "  toy2: *t\n",
    "merge-key": GOOD_CATALOG.replace("  toy:\n", "  toy: &t\n") + "  toy2:\n    <<: *t\n    name: Toy 2\n",
    "anchor-scalar": GOOD_CATALOG.replace("name: Toy GPU", "name: &n Toy GPU"),
    "deep-flow": "schema: precplan-hardware/1\ngpus: " + "[" * 10_000 + "]" * 10_000 + "\n",
    "deep-flow-unclosed": "schema: precplan-hardware/1\ngpus: " + "[" * 200_000 + "\n",
    "deep-block": "schema: precplan-hardware/1\ngpus:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(40)) + "  " * 41 + "v: 1\n",
    "big": "# padding\n" * 120_000 + GOOD_CATALOG,
    "latin1": GOOD_CATALOG.replace("Toy GPU", "Toy caf\xe9").encode("latin-1"),
    "binary": bytes(range(256)) * 4,
    "nul": GOOD_CATALOG.encode().replace(b"Toy GPU", b"Toy\x00GPU"),
    "empty": "",
    "list": "- 1\n- 2\n",
    "scalar": "just text\n",
    "malformed": "schema: precplan-hardware/1\ngpus: [unclosed\n",
    "tabs": "schema: precplan-hardware/1\ngpus:\n\t- x\n",
    "python-tag": "schema: !!python/object/apply:os.system ['true']\ngpus: {}\n",
    "dup-gpu-id": GOOD_CATALOG + GOOD_CATALOG.split("gpus:\n", 1)[1].replace("Toy GPU", "Toy GPU again"),
    "dup-gpu-id-case": GOOD_CATALOG + GOOD_CATALOG.split("gpus:\n", 1)[1].replace("  toy:", "  TOY:").replace("[toy-gpu]", "[]"),
    "dup-top-key": GOOD_CATALOG + "schema: precplan-hardware/1\n",
    "dup-name-key": GOOD_CATALOG.replace("    name: Toy GPU\n", "    name: Toy GPU\n    name: Other\n"),
    "dup-format": _catalog(formats=BF16 + _fmt("bf16", "2.0e+15")),
    "dup-flops-key": _catalog(formats="      bf16: {flops: 1.0e+15, flops: 2.0e+15, bits: 16, source: t}\n"),
    "alias-is-other-id": GOOD_CATALOG + GOOD_CATALOG.split("gpus:\n", 1)[1].replace("  toy:", "  toy2:").replace("[toy-gpu]", "[toy]"),
    "bf16-bits-4": _catalog(formats=_fmt("bf16", bits="4")),
    "fp8-bits-16": _catalog(formats=BF16 + _fmt("fp8", "2.0e+15", "16")),
    "fp4-bits-8": _catalog(formats=BF16 + _fmt("fp4", "4.0e+15", "8")),
    "fp6-bits-4": _catalog(formats=BF16 + _fmt("fp6", "4.0e+15", "4")),
    "int8-bits-4": _catalog(formats=BF16 + _fmt("int8", "2.0e+15", "4")),
    "int4-bits-8": _catalog(formats=BF16 + _fmt("int4", "4.0e+15", "8")),
    "fp16-bits-8": _catalog(formats=_fmt("fp16", bits="8")),
    "tf32-bits-19": _catalog(formats=BF16 + _fmt("tf32", "5.0e+14", "19")),
    "bits-text": _catalog(formats=_fmt("bf16", bits="sixteen")),
    "bits-bool": _catalog(formats=_fmt("bf16", bits="true")),
    "flops-1e-300": _catalog(formats=_fmt("bf16", "1.0e-300")),
    "flops-tiny-fp8": _catalog(formats=BF16 + _fmt("fp8", "1.0e-300", "8")),
    "flops-1e30": _catalog(formats=_fmt("bf16", "1.0e+30")),
    "flops-inf": _catalog(formats=_fmt("bf16", ".inf")),
    "flops-nan": _catalog(formats=_fmt("bf16", ".nan")),
    "flops-negative": _catalog(formats=_fmt("bf16", "-1.0e+15")),
    "flops-zero": _catalog(formats=_fmt("bf16", "0")),
    "flops-text": _catalog(formats=_fmt("bf16", "fast")),
    "memory-1": _catalog(mem="1"),
    "memory-1e-300": _catalog(mem="1.0e-300"),
    "memory-1e300": _catalog(mem="1.0e+300"),
    "memory-inf": _catalog(mem=".inf"),
    "memory-negative": _catalog(mem="-8.0e+10"),
    "bandwidth-1e-300": _catalog(bw="1.0e-300"),
    "bandwidth-zero": _catalog(bw="0"),
    "bandwidth-1e300": _catalog(bw="1.0e+300"),
    "no-16-bit": _catalog(formats=_fmt("fp8", "2.0e+15", "8")),
    "unknown-format": _catalog(formats=BF16 + _fmt("fp12", "2.0e+15", "12")),
    "unknown-gpu-key": GOOD_CATALOG.replace("    name: Toy GPU\n", "    name: Toy GPU\n    colour: green\n"),
    "missing-source": _catalog(formats="      bf16: {flops: 1.0e+15, bits: 16}\n"),
    "empty-source": _catalog(formats="      bf16: {flops: 1.0e+15, bits: 16, source: ''}\n"),
    "schema-wrong": GOOD_CATALOG.replace("precplan-hardware/1", "precplan-hardware/9"),
    "schema-missing": GOOD_CATALOG.replace("schema: precplan-hardware/1\n", ""),
    "gpus-empty": "schema: precplan-hardware/1\ngpus: {}\n",
    "gpus-list": "schema: precplan-hardware/1\ngpus: [toy]\n",
    "id-multiple": GOOD_CATALOG.replace("  toy:", "  2xtoy:"),
    "id-space": GOOD_CATALOG.replace("  toy:", "  'toy gpu':"),
    "native-text": _catalog(formats="      bf16: {flops: 1.0e+15, bits: 16, source: t, native: 'yes'}\n"),
    "aliases-not-list": GOOD_CATALOG.replace("[toy-gpu]", "toy-gpu"),
    "formats-list": _catalog(formats="      - bf16\n"),
}
# Catalog commands: each reads the file its own way (list, JSON list, show, plan on it, serve on it).
CATALOG_COMMANDS = {
    "list": ["hardware", "list", "--hardware", "{}"],
    "list-json": ["hardware", "list", "--json", "--hardware", "{}"],
    "show": ["hardware", "show", "toy", "--hardware", "{}"],
    "optimize": ["optimize", "--budget", "1e21", "--gpu", "toy", "--hardware", "{}"],
    "target": ["optimize", "--target-loss", "3", "--gpu", "toy", "--hardware", "{}", "--json"],
}

CURVES = "run,params,tokens_seen,loss,step\n"


def _curve_rows(rows: list[tuple]) -> str:
    return CURVES + "".join(",".join(str(x) for x in r) + "\n" for r in rows)


GOOD_CURVE = [("r1", 1e8, t, 3.0 + 1e3 / t ** 0.3, i + 1) for i, t in enumerate((2e10, 4e10, 8e10))] + \
             [("r2", 2e8, t, 2.9 + 1e3 / t ** 0.3, i + 1) for i, t in enumerate((2e10, 4e10, 8e10))]
CURVE_FILES = {
    "tokens-fall.csv": _curve_rows(GOOD_CURVE[:2] + [("r1", 1e8, 1.5e10, 3.1, 3)] + GOOD_CURVE[3:]),
    "tokens-fall-first.csv": _curve_rows([("r1", 1e8, 8e10, 3.0, 1), ("r1", 1e8, 4e10, 3.1, 2), ("r1", 1e8, 2e10, 3.2, 3)]
                                         + GOOD_CURVE[3:]),
    "same-tokens.csv": _curve_rows(GOOD_CURVE + [("r1", 1e8, 4e10, 3.9, 4)]),
    "same-tokens-nostep.csv": "run,params,tokens_seen,loss\n" + "".join(f"{r[0]},{r[1]},{r[2]},{r[3]}\n" for r in GOOD_CURVE)
                              + "r2,2e8,8e10,2.5\n",
    "numeric-ids.csv": _curve_rows([("7", 1e8, 2e10, 3.2, 1), ("7", 2e8, 4e10, 3.1, 2)] + GOOD_CURVE[3:]),
    "same-tokens.tsv": (CURVES + "".join(",".join(str(x) for x in r) + "\n" for r in GOOD_CURVE + [("r2", 2e8, 2e10, 9.9, 9)])
                        ).replace(",", "\t"),
}


def _store(lines: list[dict]) -> str:
    return "".join(json.dumps(rec) + "\n" for rec in lines)


def _make_files(d: Path) -> None:
    (d / "hw.yaml").write_text(GOOD_CATALOG)
    (d / "runs.csv").write_text("params,tokens,loss\n" + "".join(
        f"{n:.6g},{t:.6g},{2.0 + 400 / n ** 0.3 + 400 / t ** 0.3:.6f}\n" for n in (2e7, 5e7, 1e8, 2e8) for t in (1e9, 3e9, 1e10)))
    (d / "good-curves.csv").write_text(_curve_rows(GOOD_CURVE))
    (d / "cat").mkdir()
    for name, text in BAD_CATALOGS.items():
        (d / "cat" / f"{name}.yaml").write_bytes(text if isinstance(text, bytes) else text.encode())
    for name, text in CURVE_FILES.items():
        (d / name).write_text(text)
    (d / "folder").mkdir()
    os.mkfifo(d / "fifo")
    good = [dict(STORE_LINE, run_id=f"r{i}", params=1e6 * (i + 1)) for i in range(5)]
    (d / "store_good").mkdir()
    (d / "store_good" / "runs.jsonl").write_text(_store(good))
    twice = [dict(rec, checkpoints=[{"step": 1, "tokens_seen": 1e6, "loss": 4.0}, {"step": 2, "tokens_seen": 1e6, "loss": 3.9}])
             for rec in good]
    (d / "store_twice").mkdir()
    (d / "store_twice" / "runs.jsonl").write_text(_store(twice))
    back = [dict(rec, checkpoints=[{"step": 2, "tokens_seen": 1e6, "loss": 4.0}, {"step": 1, "tokens_seen": 2e6, "loss": 3.9}])
            for rec in good]
    (d / "store_back").mkdir()
    (d / "store_back" / "runs.jsonl").write_text(_store(back))
    (d / "halftrain").mkdir()
    (d / "halftrain" / "train.bin").write_bytes(b"\x01\x00" * 64)
    (d / "halfval").mkdir()
    (d / "halfval" / "val.bin").write_bytes(b"\x01\x00" * 64)
    (d / "textdata").mkdir()
    (d / "textdata" / "a.txt").write_text("hello world\n" * 100)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("hostile3")
    _make_files(d)
    return d


CASES: list[tuple[str, list[str], tuple[str, ...]]] = []


def case(cid: str, *argv: str, hide: tuple[str, ...] = ()) -> None:
    """A hostile invocation; ``hide``: Python modules made absent for it (ray, submitit)."""
    CASES.append((cid, list(argv), hide))


# ---- hardware catalogs: every hostile file, through every command that reads one
for cname in BAD_CATALOGS:
    for kind, argv in CATALOG_COMMANDS.items():
        case(f"catalog-{cname}-{kind}", *[a.replace("{}", f"cat/{cname}.yaml") for a in argv])
for i, path in enumerate(["missing.yaml", "folder", "/dev/zero", "fifo", "", " ", "hw\nyaml"]):
    case(f"catalog-path-{i}-list", "hardware", "list", "--hardware", path)
    case(f"catalog-path-{i}-optimize", "optimize", "--budget", "1e21", "--gpu", "toy", "--hardware", path)
case("catalog-unknown-gpu", "optimize", "--budget", "1e21", "--gpu", "h100", "--hardware", "hw.yaml")
# --hardware without --gpu: nothing would read it
for i, path in enumerate(["hw.yaml", "missing.yaml", "cat/bomb.yaml"]):
    case(f"hardware-no-gpu-budget-{i}", "optimize", "--budget", "1e21", "--hardware", path)
    case(f"hardware-no-gpu-target-{i}", "optimize", "--target-loss", "3", "--hardware", path)
    case(f"hardware-no-gpu-sweep-{i}", "optimize", "--budget", "1e19:1e21:3", "--hardware", path, "--json")
    case(f"hardware-no-gpu-memory-{i}", "optimize", "--budget", "1e21", "--serve-memory", "80GB", "--hardware", path)
# the catalog is an input: never an output, --force or not
for i, out in enumerate(["hw.yaml", "./hw.yaml", "folder/../hw.yaml"]):
    case(f"catalog-clobber-csv-{i}", "optimize", "--budget", "1e21", "--gpu", "toy", "--hardware", "hw.yaml", "--csv", out, "--force")
case("catalog-clobber-csv-sweep", "optimize", "--budget", "1e19:1e21:3", "--gpu", "toy", "--hardware", "hw.yaml", "--csv", "hw.yaml", "--force")
case("catalog-clobber-fit-out", "optimize", "--budget", "1e21", "--gpu", "toy", "--hardware", "hw.yaml", "--csv", "hw.yaml")

# ---- validate: every count bounded, stated in the message
for i, v in enumerate(["0", "-1", "101", "1000000000", str(2**40)]):
    case(f"validate-seeds-{i}-list", "validate", "--list", "--preset", "ci", "--seeds", v)
    case(f"validate-seeds-{i}-train", "validate", "--preset", "ci", "--out", "new-out", "--seeds", v)
for i, v in enumerate(["0", "-1", "1000000"]):
    case(f"validate-runs-per-task-{i}", "validate", "--preset", "ci", "--out", "new-out", "--executor", "slurm:local",
         "--runs-per-task", v)
for i, v in enumerate(["0", "-1", "100000"]):
    case(f"validate-threads-{i}", "validate", "--preset", "ci", "--out", "new-out", "--threads", v)
for i, v in enumerate(["0", "-2", "65"]):
    case(f"validate-gpus-per-node-{i}", "validate", "--preset", "ci", "--out", "new-out", "--executor", "slurm:local",
         "--gpus-per-node", v)
# ---- devices: syntax, contradictions, and what this machine has (no CUDA GPU here)
BAD_DEVICES = ["", " ", ",", "cuda", "gpu", "cuda:", "cuda:x", "cuda:-1", "cuda:0,cuda:0", "cuda:0,,cuda:1", "0",
               "CUDA:0", "cpu,cuda:0", "cuda:99999999999", "all,cpu"]
for i, v in enumerate(BAD_DEVICES):
    case(f"validate-devices-{i}-list", "validate", "--list", "--preset", "ci", "--devices", v)
    case(f"validate-devices-{i}-train", "validate", "--preset", "ci", "--out", "new-out", "--devices", v)
for i, v in enumerate(["cuda:0", "cuda:1", "all", "cuda:0,cuda:1"]):
    case(f"validate-devices-absent-{i}", "validate", "--preset", "ci", "--out", "new-out", "--devices", v)
case("validate-device-cuda-absent", "validate", "--preset", "ci", "--out", "new-out", "--device", "cuda")
case("validate-devices-cpu-device-cuda", "validate", "--preset", "ci", "--out", "new-out", "--devices", "cpu", "--device", "cuda")
case("validate-devices-cpu-device-cuda-list", "validate", "--list", "--preset", "ci", "--devices", "cpu", "--device", "cuda")
case("validate-devices-cuda-device-cpu", "validate", "--preset", "ci", "--out", "new-out", "--devices", "cuda:0", "--device", "cpu")
case("validate-devices-all-device-cpu", "validate", "--list", "--preset", "ci", "--devices", "all", "--device", "cpu")
case("validate-devices-slurm", "validate", "--preset", "ci", "--out", "new-out", "--devices", "cpu", "--executor", "slurm:local")
case("validate-devices-ray", "validate", "--preset", "ci", "--out", "new-out", "--devices", "cpu", "--executor", "ray")
for i, v in enumerate(["gpu", "CUDA", "", "cuda:0"]):
    case(f"validate-device-{i}", "validate", "--list", "--preset", "ci", "--device", v)
# ---- executors: one line saying what is missing, before the results folder exists
TRAIN = ("validate", "--preset", "ci", "--out", "new-out")
for i, v in enumerate(["bogus", "", "SLURM", "local ", "slurm:remote", "ray:local"]):
    case(f"validate-executor-{i}", *TRAIN, "--executor", v)
    case(f"validate-executor-{i}-list", "validate", "--list", "--preset", "ci", "--executor", v)
case("validate-slurm-no-srun", *TRAIN, "--executor", "slurm")
case("validate-slurm-no-srun-partition", *TRAIN, "--executor", "slurm", "--partition", "gpu")
case("validate-ray-no-ray", *TRAIN, "--executor", "ray", hide=("ray",))
case("validate-ray-no-ray-runs", *TRAIN, "--executor", "ray", "--runs-per-task", "2", hide=("ray",))
case("validate-slurm-local-no-submitit", *TRAIN, "--executor", "slurm:local", hide=("submitit",))
case("validate-slurm-no-submitit", *TRAIN, "--executor", "slurm", hide=("submitit",))
for i, v in enumerate(["bogus", "0", "-5", "1:2:3:4", "1:xx", "", "0:00:00", "-1-00:00:00", "1.5"]):
    case(f"validate-time-{i}", *TRAIN, "--executor", "slurm:local", "--time", v)
for i, v in enumerate(["bad", "=x", "", "=", "account"]):
    case(f"validate-slurm-param-{i}", *TRAIN, "--executor", "slurm:local", "--slurm-param", v)
for opt, v in (("--time", "10"), ("--partition", "gpu"), ("--slurm-param", "account=x"), ("--gpus-per-node", "2"),
               ("--runs-per-task", "2")):
    case(f"validate-local{opt}", *TRAIN, opt, v)
    case(f"validate-local{opt}-list", "validate", "--list", "--preset", "ci", opt, v)
for opt, v in (("--time", "10"), ("--partition", "gpu"), ("--slurm-param", "account=x")):
    case(f"validate-ray{opt}", *TRAIN, "--executor", "ray", opt, v)
# ---- --report only reads: a training option with it does nothing
for opt, v in (("--seeds", "3"), ("--executor", "bogus"), ("--executor", "slurm"), ("--executor", "local"), ("--devices", "cpu"),
               ("--device", "cpu"), ("--time", "10"), ("--threads", "2"), ("--ptq", "gptq"), ("--partition", "gpu"),
               ("--slurm-param", "a=b"), ("--runs-per-task", "2"), ("--gpus-per-node", "2")):
    case(f"validate-report{opt}-{v}", "validate", "--report", "store_good", opt, v)
case("validate-report-compile", "validate", "--report", "store_good", "--compile")
# ---- --data: what it is, said accurately; never the results folder
for name in ("/dev/zero", "fifo", "halftrain", "halfval", "/dev/null"):
    tag = name.strip("/").replace("/", "_")
    case(f"validate-data-{tag}-list", "validate", "--list", "--preset", "ci", "--data", name)
    case(f"validate-data-{tag}-train", *TRAIN, "--data", name)
for i, (data, out) in enumerate([("textdata", "textdata"), ("textdata", "textdata/results"), ("textdata", "./textdata"),
                                 (".", "new-out"), ("textdata/", "textdata/x/y")]):
    case(f"validate-data-out-{i}", "validate", "--preset", "ci", "--data", data, "--out", out)
# ---- curves: one story per run
for name in CURVE_FILES:
    case(f"fit-curves-{name}", "fit", name)
    case(f"fit-curves-{name}-forced", "fit", name, "--curves", "--min-tokens", "0")
case("validate-curves-out-twice", "validate", "--report", "store_twice", "--curves-out", "curves.csv")
case("validate-curves-out-back", "validate", "--report", "store_back", "--curves-out", "curves.csv")
# ---- fit: curve options on final losses do nothing
for i, opts in enumerate([("--min-tokens", "1e9"), ("--skip-fraction", "0.1"), ("--min-tokens", "0"),
                          ("--skip-fraction", "0"), ("--min-tokens", "1e9", "--skip-fraction", "0.2")]):
    case(f"fit-final-losses-{i}", "fit", "runs.csv", *opts)
    case(f"fit-no-curves-{i}", "fit", "good-curves.csv", "--no-curves", *opts)
# ---- optimize: options that do nothing in the chosen mode
for opt, v in (("--serve-kv", "4"), ("--serve-activations", "8"), ("--serve-kv", "fp8")):
    case(f"optimize{opt}-{v}-budget", "optimize", "--budget", "1e21", opt, v)
    case(f"optimize{opt}-{v}-target", "optimize", "--target-loss", "3", opt, v)
    case(f"optimize{opt}-{v}-memory", "optimize", "--budget", "1e21", "--memory", "8GB", opt, v)
    case(f"optimize{opt}-{v}-sweep", "optimize", "--budget", "1e19:1e21:3", opt, v, "--json")
for i, g in enumerate(["h100,b200", "a100,h100,b200", "h100, b200"]):
    case(f"optimize-json-columns-gpus-{i}", "optimize", "--budget", "1e21", "--gpu", g, "--json-columns")
# ---- extreme numbers: refused as what they are, never a RuntimeWarning
for opt in ("--input-tokens", "--output-tokens", "--context", "--batch"):
    for i, v in enumerate(["inf", "-inf", "nan", "1e400"]):
        case(f"optimize{opt}-nonfinite-{i}", "optimize", "--budget", "1e21", "--gpu", "h100", opt, v)
for opt in ("--input-tokens", "--output-tokens", "--context"):
    case(f"optimize{opt}-huge", "optimize", "--budget", "1e21", "--gpu", "h100", opt, "1e12")
    case(f"optimize{opt}-inf-inference", "optimize", "--budget", "1e23", "--gpu", "h100", "--inference-tokens", "1e12", opt, "inf")
for i, v in enumerate(["1e-300", "1e-5", "1e7", "1e300", "0.00001"]):
    case(f"optimize-price-absurd-{i}", "optimize", "--budget", "1e21", "--gpu", "h100", "--price", v)
case("optimize-price-absurd-second", "optimize", "--budget", "1e21", "--gpu", "h100,b200", "--price", "2,1e-300")
case("optimize-price-absurd-dollars", "optimize", "--dollars", "1e6", "--gpu", "h100", "--price", "1e-300")
# ---- a newline in a name: still one line
for i, argv in enumerate([["fit", "a\nb.csv"], ["laws", "show", "x\ny.yaml"], ["predict", "-N", "7B", "-D", "1T", "--law", "a\nb.yaml"],
                          ["optimize", "--budget", "1e21", "--csv", "no\ndir/x.csv"], ["validate", "--report", "a\nb"],
                          ["optimize", "--budget", "1e21", "--plot", "new\nplot.txt"], ["fit", "runs.csv", "--out", "x\ny/law.yaml"]]):
    case(f"newline-path-{i}", *argv)


def test_corpus_is_wide() -> None:
    assert len(CASES) >= 300
    assert len({cid for cid, _, _ in CASES}) == len(CASES)  # ids are unique
    assert len({(tuple(argv), hide) for _, argv, hide in CASES}) == len(CASES)  # and so are the invocations


@pytest.fixture
def machine(monkeypatch, tmp_path):
    """The same machine for every case: no CUDA GPU visible, no SLURM on PATH."""
    import precplan.cli._checks_round3 as checks

    monkeypatch.setattr(checks, "_gpu_count", lambda: 0)
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("COLUMNS", "100")


def _hide(monkeypatch, names: tuple[str, ...]) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in names else real(name, *a))


@pytest.mark.parametrize("argv,hide", [(argv, hide) for _, argv, hide in CASES], ids=[cid for cid, _, _ in CASES])
def test_bad_invocation_is_one_line_and_exit_2(workdir: Path, argv: list[str], hide, machine, monkeypatch) -> None:
    monkeypatch.chdir(workdir)
    _hide(monkeypatch, hide)
    before = snapshot(workdir)
    result = CliRunner().invoke(app, argv)
    after = snapshot(workdir)
    assert_refused(result, argv, before, after)


def test_refusals_say_what_is_wrong(workdir: Path, machine, monkeypatch) -> None:
    """The messages the issue asked for, each naming its cause (not a neighbouring one)."""
    monkeypatch.chdir(workdir)

    def err(*argv: str, hide: tuple[str, ...] = ()) -> str:
        with monkeypatch.context() as m:
            _hide(m, hide)
            r = CliRunner().invoke(app, list(argv))
        assert r.exit_code == 2, r.stderr
        return r.stderr

    assert "anchors and aliases" in err("hardware", "list", "--hardware", "cat/bomb.yaml")
    assert "given twice" in err("hardware", "list", "--hardware", "cat/dup-gpu-id.yaml")
    assert "16" in err("hardware", "list", "--hardware", "cat/bf16-bits-4.yaml") and "contradicts" in err(
        "hardware", "list", "--hardware", "cat/bf16-bits-4.yaml")
    assert "plausible" in err("hardware", "list", "--hardware", "cat/flops-1e-300.yaml")
    assert "input" in err("optimize", "--budget", "1e21", "--gpu", "toy", "--hardware", "hw.yaml", "--csv", "hw.yaml", "--force")
    assert "--gpu" in err("optimize", "--budget", "1e21", "--hardware", "missing.yaml")
    assert "100" in err("validate", "--seeds", "1000000000", "--list")
    assert "not on this machine" in err(*TRAIN, "--devices", "cuda:0")
    assert "SLURM" in err(*TRAIN, "--executor", "slurm") and "srun" in err(*TRAIN, "--executor", "slurm")
    assert "pip install" in err(*TRAIN, "--executor", "ray", hide=("ray",))
    assert "training option" in err("validate", "--report", "store_good", "--seeds", "3")
    assert "not a finite number" in err("optimize", "--budget", "1e21", "--gpu", "h100", "--input-tokens", "inf")
    assert "train.bin but no val.bin" in err("validate", "--list", "--preset", "ci", "--data", "halftrain")
    assert "device, pipe" in err("validate", "--list", "--preset", "ci", "--data", "fifo")
    assert "device, pipe" in err("validate", "--list", "--preset", "ci", "--data", "/dev/zero")
    assert "training data" in err("validate", "--preset", "ci", "--data", "textdata", "--out", "textdata/results")
    assert "tokens_seen falling" in err("fit", "tokens-fall.csv")
    assert "different losses" in err("fit", "same-tokens.csv")
    assert "different losses" in err("validate", "--report", "store_twice", "--curves-out", "curves.csv")
    assert "'7'" in err("fit", "numeric-ids.csv")
    assert "a\\nb.csv" in err("fit", "a\nb.csv")


# ---- implausible but legal: the answer, and exactly one more warning line
PLAUSIBLE = ["optimize", "--budget", "1e21", "--gpu", "h100", "--json"]
ODD = [("--mfu", "0.0001"), ("--mfu", "0.005"), ("--prefill-mfu", "0.001"), ("--batch", "1e9"), ("--batch", "1e6"),
       ("--context", "1e8"), ("--context", "1e9")]


@pytest.mark.parametrize("opt,value", ODD, ids=[f"{o}={v}" for o, v in ODD])
def test_implausible_value_answers_with_one_warning(workdir: Path, machine, monkeypatch, opt: str, value: str) -> None:
    monkeypatch.chdir(workdir)
    base = CliRunner().invoke(app, PLAUSIBLE)
    odd = CliRunner().invoke(app, PLAUSIBLE + [opt, value])
    assert base.exit_code == 0 and odd.exit_code == 0, odd.stderr
    extra = [line for line in odd.stderr.splitlines() if line not in base.stderr.splitlines()]
    assert len(extra) == 1 and extra[0].startswith("warning: "), odd.stderr
    assert (opt in extra[0]) if "mfu" in opt else ("KV cache" in extra[0] and "larger than" in extra[0]), extra
    assert "RuntimeWarning" not in odd.stderr
    plan = json.loads(odd.stdout)
    assert plan["gpu_hours"] is not None and plan["gpu_hours"] > 0
    if opt == "--mfu":  # GPU-hours scale as 1/MFU: the answer is computed, not just warned about
        ratio = plan["gpu_hours"] / json.loads(base.stdout)["gpu_hours"]
        assert ratio == pytest.approx(0.5 / float(value), rel=1e-6)


def test_law_list_json_warnings_reach_stderr(workdir: Path, monkeypatch) -> None:
    """README: with --json the warnings are in the JSON and on stderr, for every law of a list."""
    monkeypatch.chdir(workdir)
    for argv in (["optimize", "--budget", "1e21"], ["predict", "-N", "7B", "-D", "1T"], ["ptq-risk", "-N", "7B", "-D", "1T"]):
        r = CliRunner().invoke(app, argv + ["--law", "kumar2024,besiroglu2024", "--json"])
        assert r.exit_code == 0, r.stderr
        inside = [w for item in json.loads(r.stdout) for w in (item.get("warnings") or [])]
        assert inside, r.stdout[:300]
        for w in inside:
            assert f"warning: {w}" in r.stderr.replace("\n", " ") or w[:60] in r.stderr, (argv, w)


def test_report_does_not_depend_on_store_order(workdir: Path, tmp_path: Path, monkeypatch) -> None:
    """A resumed store reads its lines in another order; its comparisons are the same, by run id."""
    from precplan.laws import load_law
    from precplan.validate import analyze

    recs = [dict(STORE_LINE, run_id=f"r{i:02d}", params=1e6 * (1 + i % 5), tokens=1e7 * (1 + i // 5),
                 loss=3.0 + 10 / (1 + i % 5) ** 0.3 + 5 / (1 + i // 5) ** 0.3) for i in range(15)]
    law = load_law("kumar2024")
    a = analyze(recs, law, grid="coarse")
    b = analyze(list(reversed(recs)), law, grid="coarse")
    ids = [c.run_id for c in a.comparisons]
    assert ids == sorted(ids)
    assert ids == [c.run_id for c in b.comparisons]
