"""Hostile and mistaken invocations of every command and option (README "Bad input").

Each case must end in exactly one line on stderr, ``error: ...``, exit code 2, no traceback,
and leave the working folder exactly as it was: no file created, changed, replaced or left
half-written. The cases run in-process (typer's CliRunner, stdout and stderr kept apart);
tests/test_hostile_streams.py covers what needs real streams (a full disk, a closed stdout).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from precplan.cli import app

from oracles import STORE_LINE, assert_refused, snapshot

ROOT = Path(__file__).resolve().parents[1]
GOOD_RUNS = "params,tokens,loss\n" + "".join(
    f"{n:.6g},{d:.6g},{2.0 + 400 / n ** 0.3 + 400 / d ** 0.3:.6f}\n"
    for n in (2e7, 5e7, 1e8, 2e8) for d in (1e9, 3e9, 1e10)
)

pytestmark = pytest.mark.slow  # hundreds of invocations: CI runs them, the quick loop skips them


def _store(lines: list[dict]) -> str:
    return "".join(json.dumps(rec) + "\n" for rec in lines)


def _make_files(d: Path) -> None:
    """The working folder every case runs in: inputs good and bad, and outputs that exist."""
    (d / "runs.csv").write_text(GOOD_RUNS)
    shutil.copy(ROOT / "laws" / "kumar2024.yaml", d / "law.yaml")
    (d / "existing.yaml").write_text("id: keep-me\n")
    (d / "existing.png").write_bytes(b"\x89PNG keep me")
    (d / "existing.csv").write_text("keep,me\n")
    (d / "folder").mkdir()
    (d / "folder.png").mkdir()
    ro = d / "readonly"
    ro.mkdir()
    # law files that are hostile or broken
    (d / "bomb.yaml").write_text(
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
        + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))
        + "id: *i\n"
    )
    (d / "anchor.yaml").write_text("id: &x kumar\ntitle: t\n")
    (d / "deep.yaml").write_text("id: " + "[" * 10_000 + "]" * 10_000 + "\n")
    (d / "deep1m.yaml").write_text("id: " + "[" * 500_000 + "\n")
    (d / "deepquoted.yaml").write_text("id: " + "['a', " * 2_000 + "\n")
    (d / "deepmap.yaml").write_text("".join("  " * i + f"k{i}:\n" for i in range(40)) + "  " * 40 + "v: 1\n")
    (d / "big.yaml").write_text("# padding\n" * 200_000)
    (d / "latin1.yaml").write_bytes("id: caf\xe9\ntitle: x\n".encode("latin-1"))
    (d / "binary.yaml").write_bytes(bytes(range(256)) * 4)
    (d / "nul.yaml").write_bytes(b"id: a\x00b\n")
    (d / "empty.yaml").write_text("")
    (d / "list.yaml").write_text("- 1\n- 2\n")
    (d / "scalar.yaml").write_text("just text\n")
    (d / "intkeys.yaml").write_text("1: x\n2: y\n")
    (d / "listkey.yaml").write_text("? [a, b]\n: 1\n")
    (d / "malformed.yaml").write_text("id: [unclosed\n")
    (d / "tabs.yaml").write_text("id:\n\t- x\n")
    (d / "python.yaml").write_text("id: !!python/object/apply:os.system ['true']\n")
    law = (ROOT / "laws" / "kumar2024.yaml").read_text()
    (d / "badform.yaml").write_text(law.replace("form: precision", "form: [precision]", 1))
    (d / "badform2.yaml").write_text(law.replace("form: precision", "form: quantum", 1))
    (d / "negcoef.yaml").write_text(law.replace("value: 4.299e3", "value: -4.299e3", 1) if "value: 4.299e3" in law
                                    else law.replace("alpha:", "alpha_x:", 1))
    (d / "badprov.yaml").write_text(law + "provenance: [1, 2]\n")
    (d / "nanrange.yaml").write_text(law.replace("fit_range:", "fit_range_x:", 1))
    # runs files that are hostile or broken
    (d / "empty.csv").write_text("")
    (d / "header.csv").write_text("params,tokens,loss\n")
    (d / "nocols.csv").write_text("a,b,c\n1,2,3\n")
    (d / "latin1.csv").write_bytes("params,tokens,loss\n1e8,1e9,3.5\n# caf\xe9\n".encode("latin-1"))
    (d / "binary.csv").write_bytes(bytes(range(256)) * 8)
    (d / "nul.csv").write_bytes(b"params,tokens,loss\n1e8,1e9,3\x00.5\n")
    (d / "comma.csv").write_text('params,tokens,loss\n1e8,1e9,"3,5"\n2e8,1e9,"3,4"\n')
    (d / "nanloss.csv").write_text("params,tokens,loss\n1e8,1e9,nan\n2e8,1e9,3.4\n")
    (d / "infparams.csv").write_text("params,tokens,loss\ninf,1e9,3.5\n2e8,1e9,3.4\n")
    (d / "negparams.csv").write_text("params,tokens,loss\n-1e8,1e9,3.5\n2e8,1e9,3.4\n")
    (d / "textloss.csv").write_text("params,tokens,loss\n1e8,1e9,abc\n2e8,1e9,3.4\n")
    (d / "dup.csv").write_text("params,tokens,loss\n1e8,1e9,3.5\n1e8,1e9,3.5\n")
    (d / "bigfield.csv").write_text("params,tokens,loss\n" + "1" * 200_000 + ",1e9,3.5\n")
    (d / "deep.jsonl").write_text("[" * 100_000 + "]" * 100_000 + "\n")
    (d / "notobj.jsonl").write_text("1\n2\n")
    (d / "badjson.jsonl").write_text('{"params": 1e8,\n')
    (d / "jsonscalar.json").write_text('[1, 2, 3]\n')
    (d / "postonly.csv").write_text("params,tokens,loss,post_bits\n1e8,1e9,3.5,4\n2e8,1e9,3.4,4\n")
    (d / "bits99.csv").write_text("params,tokens,loss,weight_bits\n1e8,1e9,3.5,99\n2e8,1e9,3.4,8\n")
    (d / "diverged.jsonl").write_text(_store([dict(STORE_LINE, run_id="a", diverged=True)]))
    # validate stores that are not validate results
    for name, lines in {
        "store_textloss": [dict(STORE_LINE, run_id=f"r{i}", loss="3.5") for i in range(5)],
        "store_unrelated": [{"run_id": f"r{i}", "colour": "blue"} for i in range(5)],
        "store_badbits": [dict(STORE_LINE, run_id=f"r{i}", weight_bits="four") for i in range(5)],
        "store_badptq": [dict(STORE_LINE, run_id=f"r{i}", ptq=[1, 2]) for i in range(5)],
        "store_nanparams": [dict(STORE_LINE, run_id=f"r{i}", params=None) for i in range(5)],
        "store_boolloss": [dict(STORE_LINE, run_id=f"r{i}", loss=True) for i in range(5)],
    }.items():
        (d / name).mkdir()
        (d / name / "runs.jsonl").write_text(_store(lines))
    (d / "store_none").mkdir()
    (d / "store_nojson").mkdir()
    (d / "store_nojson" / "runs.jsonl").write_text("not json\nat all\n")
    (d / "store_empty").mkdir()
    (d / "store_empty" / "runs.jsonl").write_text("")
    # validate data
    (d / "empty.bin").write_bytes(b"")
    (d / "odd.bin").write_bytes(b"abc")
    (d / "tiny.bin").write_bytes(b"\x01\x00" * 4)
    (d / "empty.txt").write_text("")
    (d / "a-file").write_text("not a folder\n")
    os.mkfifo(d / "fifo")
    ro.chmod(0o555)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("hostile")
    _make_files(d)
    yield d
    (d / "readonly").chmod(0o755)


LONG = "x" * 300
BAD_COUNTS = ["1e", "1.5e", "1,5B", "1,50", "1,5000", "1.5.3", "inf", "nan", "-inf", "1e400", "0x10", "\u0663", "\uff11",
              "-1", "0", "", " ", "abc", "7X", "1e5e", "1__000", "1_00", "B", "1eB", "++1", "1e+", "e5"]
BAD_PRECISIONS = ["0", "65", "mxfp6", "posit8", "-4", "", "nan", "inf", "int0", "fp8-e5m3", "1e", "\u0663"]
BAD_LAWS = ["bogus", "", " ", "bomb.yaml", "anchor.yaml", "deep.yaml", "deep1m.yaml", "deepquoted.yaml", "deepmap.yaml", "big.yaml", "latin1.yaml",
            "binary.yaml", "nul.yaml", "empty.yaml", "list.yaml", "scalar.yaml", "intkeys.yaml", "listkey.yaml",
            "malformed.yaml", "tabs.yaml", "python.yaml", "badform.yaml", "badform2.yaml", "negcoef.yaml",
            "badprov.yaml", "nanrange.yaml", "/dev/zero", "fifo", "folder", "missing.yaml", "readonly"]
BAD_SWEEPS = ["1e19:1e25", "1e25:1e19:5", "1e19:1e25:1", "1e19:1e25:x", "1e19:1e25:100001", "1e19:1e25:1.5",
              "1e19:1e25:\u0663", "1e19::5", ":1e25:5", "1e19:1e25:5:5", "1e:1e25:5", "1,5B:1e25:5", "1e19:1e25:-3",
              "1e19:1e25:0"]

CASES: list[tuple[str, list[str]]] = []


def case(cid: str, *argv: str) -> None:
    CASES.append((cid, list(argv)))


# ---- typer usage errors: one line, no box
case("no-such-command", "frobnicate")
case("unknown-option", "predict", "--bogus")
case("json-with-value", "predict", "-N", "7B", "-D", "1T", "--json=no")
case("missing-value", "predict", "--params")
case("missing-required", "predict", "-N", "7B")
case("bootstrap-not-int", "fit", "runs.csv", "--bootstrap", "many")
case("bootstrap-float", "fit", "runs.csv", "--bootstrap", "2.5")
case("delta-not-number", "fit", "runs.csv", "--delta", "small")
case("level-not-number", "fit", "runs.csv", "--level", "high")
case("seed-not-int", "fit", "runs.csv", "--seed", "x")
case("validate-seed-not-int", "validate", "--list", "--seed", "x")
case("laws-unknown-sub", "laws", "frobnicate")
case("laws-list-extra", "laws", "list", "extra")
case("laws-show-missing", "laws", "show")
case("ptq-missing-tokens", "ptq-risk", "-N", "7B")
case("optimize-extra-arg", "optimize", "extra", "--budget", "1e21")
case("predict-extra-arg", "predict", "-N", "7B", "-D", "1T", "extra")
case("fit-two-files", "fit", "runs.csv", "runs.csv")

# ---- numbers, in every option that takes one
for i, bad in enumerate(BAD_COUNTS):
    case(f"predict-params-{i}", "predict", "-N", bad, "-D", "1T")
    case(f"optimize-budget-{i}", "optimize", "--budget", bad)
for i, bad in enumerate(BAD_COUNTS[:14]):
    case(f"predict-tokens-{i}", "predict", "-N", "7B", "-D", bad)
    case(f"ptq-params-{i}", "ptq-risk", "-N", bad, "-D", "1T")
    case(f"ptq-tokens-{i}", "ptq-risk", "-N", "7B", "-D", bad)
for i, bad in enumerate(BAD_COUNTS[:10]):
    case(f"optimize-params-{i}", "optimize", "--budget", "1e21", "--params", bad)
    case(f"optimize-tokens-{i}", "optimize", "--budget", "1e21", "--tokens", bad)
    case(f"optimize-memory-{i}", "optimize", "--budget", "1e21", "--memory", bad)
    case(f"optimize-serve-memory-{i}", "optimize", "--budget", "1e21", "--serve-memory", bad)
    case(f"optimize-inference-tokens-{i}", "optimize", "--budget", "1e21", "--inference-tokens", bad)
    case(f"fit-at-budget-{i}", "fit", "runs.csv", "--at-budget", bad)
for i, bad in enumerate(["nan", "inf", "abc", "1e", "1,5", "0x10", "\u0663", "", "1e400"]):
    case(f"optimize-target-loss-{i}", "optimize", "--target-loss", bad)
    case(f"optimize-price-{i}", "optimize", "--budget", "1e21", "--gpu", "h100", "--price", bad)
    case(f"optimize-mfu-{i}", "optimize", "--budget", "1e21", "--gpu", "h100", "--mfu", bad)
case("params-100k-digits", "predict", "-N", "1" * 100_000, "-D", "1T")
case("params-100k-garbage", "predict", "-N", "x" * 100_000, "-D", "1T")
case("base-empty", "predict", "-N", "7B", "-D", "1T", "--base", "")
case("memory-unit", "optimize", "--budget", "1e21", "--memory", "8GQ")
case("memory-exa-e", "optimize", "--budget", "1e21", "--memory", "8eB")
for i, bad in enumerate(BAD_SWEEPS):
    case(f"optimize-sweep-{i}", "optimize", "--budget", bad)
    case(f"ptq-sweep-{i}", "ptq-risk", "-N", "7B", "-D", bad)

# ---- precisions
for i, bad in enumerate(BAD_PRECISIONS):
    case(f"predict-precision-{i}", "predict", "-N", "7B", "-D", "1T", "-P", bad)
    case(f"ptq-post-{i}", "ptq-risk", "-N", "7B", "-D", "1T", "--post", bad)
for i, bad in enumerate(BAD_PRECISIONS[:6]):
    for opt in ("--weights", "--activations", "--kv"):
        case(f"predict{opt}-{i}", "predict", "-N", "7B", "-D", "1T", opt, bad)
    case(f"predict-post-{i}", "predict", "-N", "7B", "-D", "1T", "--post", bad)
    case(f"optimize-precision-{i}", "optimize", "--budget", "1e21", "-P", bad)
    case(f"optimize-inference-precision-{i}", "optimize", "--budget", "1e21", "--inference-precision", bad)
    case(f"ptq-train-precision-{i}", "ptq-risk", "-N", "7B", "-D", "1T", "-P", bad)
    case(f"ptq-posts-{i}", "ptq-risk", "-N", "7B", "-D", "1T", "--posts", bad)
for i, bad in enumerate(["", ",", "3:", ":16", "16:3", "4:8:2", "a,b", "4,,x", "4:4", "0:16", "fp8-e4m3:16"]):
    case(f"optimize-precisions-{i}", "optimize", "--budget", "1e21", "--precisions", bad)
for i, bad in enumerate(["0", "mxfp6", "\u0663", ""]):
    for opt in ("--weights", "--activations", "--kv", "--train-precision", "--precision"):
        case(f"ptq{opt}-{i}", "ptq-risk", "--params", "7B", "--tokens", "1T", opt, bad)
    case(f"predict-long-precision-{i}", "predict", "--params", "7B", "--tokens", "1T", "--precision", bad)
    case(f"ptq-long-params-{i}", "ptq-risk", "--params", bad, "--tokens", "1T")
    case(f"ptq-base-{i}", "ptq-risk", "--params", "7B", "--tokens", "1T", "--base", BAD_LAWS[3 + i])
case("untied-and-precision", "optimize", "--budget", "1e21", "--untied", "--precision", "8")
case("untied-no-precision-law", "optimize", "--budget", "1e21", "--untied", "--law", "hoffmann2022")
case("continuous-no-precision-law", "optimize", "--budget", "1e21", "--continuous", "--law", "hoffmann2022")
case("optimize-long-precision", "optimize", "--budget", "1e21", "--precision", "mxfp6")
case("ptq-train-precision-and-weights", "ptq-risk", "-N", "7B", "-D", "1T", "--train-precision", "8", "--weights", "4")
case("fit-json-bad-level", "fit", "runs.csv", "--json", "--level", "2")
case("fit-json-bad-runs", "fit", "missing.csv", "--json")
case("fit-tie-bad-runs", "fit", "nocols.csv", "--tie-exponents")
case("fit-holdout-largest-bad-runs", "fit", "empty.csv", "--holdout-largest")
case("fit-holdout-both-bad", "fit", "runs.csv", "--holdout-largest", "--holdout", "bogus")
case("laws-show-json-bogus", "laws", "show", "bogus", "--json")
case("laws-show-json-bomb", "laws", "show", "bomb.yaml", "--json")
case("laws-list-json-extra", "laws", "list", "--json", "extra")
case("predict-json-bad", "predict", "-N", "1e", "-D", "1T", "--json")
case("optimize-json-tiny", "optimize", "--budget", "10", "--json")
case("ptq-json-bad", "ptq-risk", "-N", "7B", "-D", "1,5T", "--json")
case("validate-json-report-bad", "validate", "--report", "store_unrelated", "--json")
case("validate-force-bad-plot", "validate", "--report", "store_textloss", "--plot", "folder.png", "--force")
case("precision-and-weights", "predict", "-N", "7B", "-D", "1T", "-P", "8", "--weights", "4")
case("ptq-post-list-and-posts", "ptq-risk", "-N", "7B", "-D", "1T", "--post", "3,4", "--posts", "3,4,8")
case("continuous-float", "optimize", "--budget", "1e21", "--continuous", "--precisions", "fp8-e4m3,bf16")
case("precision-and-precisions", "optimize", "--budget", "1e21", "-P", "8", "--precisions", "4,8")

# ---- laws, in every command that takes one
for i, bad in enumerate(BAD_LAWS):
    case(f"predict-law-{i}", "predict", "-N", "7B", "-D", "1T", "--law", bad)
    case(f"laws-show-{i}", "laws", "show", bad)
for i, bad in enumerate(BAD_LAWS[:12]):
    case(f"optimize-law-{i}", "optimize", "--budget", "1e21", "--law", bad)
    case(f"ptq-law-{i}", "ptq-risk", "-N", "7B", "-D", "1T", "--law", bad)
    case(f"predict-base-{i}", "predict", "-N", "7B", "-D", "1T", "--base", bad)
    case(f"fit-law-{i}", "fit", "runs.csv", "--law", bad)
    case(f"validate-law-{i}", "validate", "--list", "--law", bad)
case("laws-show-base-bogus", "laws", "show", "kumar2024", "--base", "bogus")

# ---- optimize: requests that cannot be answered or mean nothing
case("budget-10", "optimize", "--budget", "10")
case("budget-1e10", "optimize", "--budget", "1e10")
case("budget-1e3", "optimize", "--budget", "1e3")
case("budget-sweep-below", "optimize", "--budget", "1e9:1e21:7")
case("budget-tiny-params", "optimize", "--budget", "1e12", "--params", "1B")
case("budget-and-target", "optimize", "--budget", "1e21", "--target-loss", "3")
case("target-below-E", "optimize", "--target-loss", "1")
case("nothing-to-plan", "optimize")
case("params-and-tokens", "optimize", "--budget", "1e21", "--params", "1B", "--tokens", "20B")
case("gpu-bogus", "optimize", "--budget", "1e21", "--gpu", "tpu9000")
case("price-without-gpu", "optimize", "--budget", "1e21", "--price", "2")
case("no-precision-law", "optimize", "--budget", "1e21", "--law", "hoffmann2022", "--precisions", "4,8")
case("post-no-ptq-law", "optimize", "--budget", "1e21", "--law", "hoffmann2022", "--inference-precision", "4")
case("compare-empty", "optimize", "--budget", "1e21", "--compare", "")
case("compare-commas", "optimize", "--budget", "1e21", "--compare", ",,")
case("compare-bogus", "optimize", "--budget", "1e21", "--compare", "4,bogus")
case("gpu-empty", "optimize", "--budget", "1e21", "--gpu", "")
for i, (opt, v) in enumerate([("--mfu", "2"), ("--mfu", "0"), ("--mfu", "-0.5"), ("--price", "-1"), ("--prefill-mfu", "5"),
                              ("--decode-mfu", "0"), ("--input-tokens", "-5"), ("--output-tokens", "-1")]):
    case(f"gpu-option-{i}", "optimize", "--budget", "1e21", "--gpu", "h100", opt, v)
case("inference-tokens-negative", "optimize", "--budget", "1e21", "--inference-tokens", "-1")
case("target-loss-huge", "optimize", "--target-loss", "1e308")
case("csv-stdout-json", "optimize", "--budget", "1e21", "--csv", "-", "--json")

# ---- output paths: never an input, never replaced without --force, checked before any work
OUTPUT_CASES = {
    "empty": "", "blank": " ", "folder": "folder", "existing": "existing.csv", "missing-parent": "nope/out.csv",
    "readonly": "readonly/out.csv", "too-long": LONG + ".csv", "dev-null": "/dev/null", "fifo": "fifo",
    "file-as-parent": "a-file/out.csv", "law-input": "law.yaml",
}
for name, path in OUTPUT_CASES.items():
    case(f"optimize-csv-{name}", "optimize", "--budget", "1e21", "--law", "law.yaml", "--csv", path)
    case(f"fit-out-{name}", "fit", "runs.csv", "--out", path.replace(".csv", ".yaml"))
PLOT_CASES = {
    "empty": "", "blank": " ", "no-ext": "plot", "txt": "plot.txt", "folder": "folder.png", "existing": "existing.png",
    "missing-parent": "nope/plot.png", "readonly": "readonly/plot.png", "too-long": LONG + ".png",
    "file-as-parent": "a-file/plot.png",
}
for name, path in PLOT_CASES.items():
    case(f"optimize-plot-{name}", "optimize", "--budget", "1e21", "--plot", path)
    case(f"ptq-plot-{name}", "ptq-risk", "-N", "7B", "-D", "1T", "--plot", path)
    case(f"fit-plot-{name}", "fit", "runs.csv", "--plot", path)
    case(f"validate-plot-{name}", "validate", "--report", "store_textloss", "--plot", path)
case("fit-out-dash", "fit", "runs.csv", "--out", "-")
case("plot-dash", "optimize", "--budget", "1e21", "--plot", "-")
case("fit-out-is-runs", "fit", "runs.csv", "--out", "runs.csv")
case("fit-out-is-runs-force", "fit", "runs.csv", "--out", "runs.csv", "--force")
case("fit-out-is-runs-dotted", "fit", "runs.csv", "--out", "./folder/../runs.csv", "--force")
case("fit-out-is-law", "fit", "runs.csv", "--law", "law.yaml", "--out", "law.yaml", "--force")
case("fit-out-bundled-law", "fit", "runs.csv", "--out", str(ROOT / "laws" / "kumar2024.yaml"), "--force")
case("fit-out-bundled-data", "fit", "--example", "sardana2024", "--out", str(ROOT / "data" / "sardana2024_training_runs.csv"), "--force")
case("fit-out-existing-law", "fit", "runs.csv", "--out", "existing.yaml")
case("csv-is-law-force", "optimize", "--budget", "1e21", "--law", "law.yaml", "--csv", "law.yaml", "--force")
case("csv-is-base-force", "optimize", "--budget", "1e21", "--base", "law.yaml", "--csv", "law.yaml", "--force")
case("csv-and-plot-same", "optimize", "--budget", "1e21", "--csv", "p.png", "--plot", "p.png")
case("ptq-plot-is-law", "ptq-risk", "-N", "7B", "-D", "1T", "--law", "law.yaml", "--plot", "law.yaml", "--force")
case("validate-out-is-file", "validate", "--report", "store_textloss", "--out", "a-file")
case("validate-out-readonly", "validate", "--report", "store_textloss", "--out", "readonly")
case("validate-out-empty", "validate", "--report", "store_textloss", "--out", "")
case("validate-plot-in-new-out-bad-ext", "validate", "--list", "--out", "new-run", "--plot", "new-run/v.txt")
case("validate-list-out-file", "validate", "--list", "--out", "a-file")

# ---- fit: runs files and options
for name in ("missing.csv", "folder", "/dev/zero", "fifo", "empty.csv", "header.csv", "nocols.csv", "latin1.csv",
             "binary.csv", "nul.csv", "comma.csv", "nanloss.csv", "infparams.csv", "negparams.csv", "textloss.csv",
             "dup.csv", "bigfield.csv", "deep.jsonl", "notobj.jsonl", "badjson.jsonl", "jsonscalar.json", "postonly.csv",
             "bits99.csv", "diverged.jsonl", "readonly", "", " "):
    case(f"fit-runs-{name.strip() or 'blank' + str(len(name))}", "fit", name)
for i, cols in enumerate(["params=P,tokens=P", "x=y", "params", "params=", "=P", "params=a,params=b",
                          "loss=params", "post_loss=loss", "params=Nope", "tokens=params"]):
    case(f"fit-columns-{i}", "fit", "runs.csv", "--columns", cols)
for i, v in enumerate(["0", "-1", "nan", "inf", "-inf", "1e-400"]):
    case(f"fit-delta-{i}", "fit", "runs.csv", "--delta", v)
for i, v in enumerate(["0", "1", "1.5", "nan", "-0.5", "inf", "100"]):
    case(f"fit-level-{i}", "fit", "runs.csv", "--bootstrap", "10", "--level", v)
for i, v in enumerate(["-1", "1", "1000000000", "100001"]):
    case(f"fit-bootstrap-{i}", "fit", "runs.csv", "--bootstrap", v)
for i, v in enumerate(["-1", "4294967296", str(2**70)]):
    case(f"fit-seed-{i}", "fit", "runs.csv", "--seed", v)
for i, v in enumerate(["", " ", "a/b", "../x", "a b", "x" * 101, "a\\b", "-x", "law\nid", "caf\u00e9"]):
    case(f"fit-id-{i}", "fit", "runs.csv", "--id", v)
for i, v in enumerate(["bogus", "", "CHINCHILLA"]):
    case(f"fit-form-{i}", "fit", "runs.csv", "--form", v)
    case(f"fit-objective-{i}", "fit", "runs.csv", "--objective", v)
    case(f"fit-grid-{i}", "fit", "runs.csv", "--grid", v)
for i, v in enumerate(["params>>1", "bogus", "params>=", "nope>=1e9", "params>=abc", ""]):
    case(f"fit-holdout-{i}", "fit", "runs.csv", "--holdout", v)
case("fit-example-bogus", "fit", "--example", "bogus")
case("fit-example-and-file", "fit", "runs.csv", "--example", "sardana2024")
case("fit-neither", "fit")
case("fit-no-precision-form", "fit", "runs.csv", "--form", "precision")

# ---- validate: no training in any of these
case("validate-no-precision-law", "validate", "--law", "hoffmann2022")
case("validate-no-precision-law-report", "validate", "--report", "store_textloss", "--law", "hoffmann2022")
case("validate-no-precision-law-list", "validate", "--list", "--law", "sardana2024")
for name in ("store_textloss", "store_unrelated", "store_badbits", "store_badptq", "store_nanparams", "store_boolloss",
             "store_none", "store_nojson", "store_empty", "missing-folder", "a-file", "/dev/zero", ""):
    case(f"validate-report-{name or 'empty-name'}", "validate", "--report", name)
case("validate-report-nothing", "validate", "--report")
case("validate-report-and-list", "validate", "--report", "store_textloss", "--list")
case("validate-dirs-without-report", "validate", "store_textloss")
for i, v in enumerate(["bogus", "", "FULL"]):
    case(f"validate-fit-grid-{i}", "validate", "--report", "store_textloss", "--fit-grid", v)
    case(f"validate-preset-{i}", "validate", "--list", "--preset", v)
    case(f"validate-granularity-{i}", "validate", "--list", "--act-granularity", v)
for i, v in enumerate(["-1", "4294967296"]):
    case(f"validate-seed-{i}", "validate", "--list", "--seed", v)
for i, v in enumerate(["x", "4/4", "1/0", "-1/2", "1/2/3", "", "a/b"]):
    case(f"validate-shard-{i}", "validate", "--list", "--shard", v)
for name in ("empty.bin", "odd.bin", "tiny.bin", "empty.txt", "missing.bin", "store_none", "fifo", "", " ", "/dev/zero"):
    case(f"validate-data-{name.strip().replace('/', '_') or 'blank' + str(len(name))}", "validate", "--list", "--preset", "smoke", "--data", name)


def test_corpus_is_wide() -> None:
    assert len(CASES) >= 300
    commands = {argv[0] for _, argv in CASES if argv}
    assert {"predict", "optimize", "ptq-risk", "fit", "validate", "laws"} <= commands
    assert len({cid for cid, _ in CASES}) == len(CASES)  # ids are unique


@pytest.mark.parametrize("argv", [argv for _, argv in CASES], ids=[cid for cid, _ in CASES])
def test_bad_invocation_is_one_line_and_exit_2(workdir: Path, argv: list[str], monkeypatch) -> None:
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("COLUMNS", "100")
    if os.geteuid() == 0:  # root writes in a 0o555 folder: stand in for a read-only mount there
        import precplan.io

        real = precplan.io._writable_dir
        monkeypatch.setattr(precplan.io, "_writable_dir", lambda f: "readonly" not in str(Path(f).resolve()) and real(f))
    before = snapshot(workdir)
    result = CliRunner().invoke(app, argv)
    after = snapshot(workdir)
    assert_refused(result, argv, before, after)
