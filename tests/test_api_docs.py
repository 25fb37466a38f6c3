"""The examples of docs/api.md (and of docs/science.md, the README and every other docs/*.md)
run, and print what the documents say they print; the links between the documents resolve.

Every ```python block of a document is executed in order in one namespace (as in a notebook),
from the repository root. A ```text block right after a python block is that block's expected
standard output, compared line by line (trailing spaces ignored). After a deliberate change,
rewrite the expected outputs with ``python tests/test_api_docs.py --write`` and read the diff.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "api.md"
# every document: its python blocks run (docs/api.md and docs/science.md must have some) and its links resolve
DOCS = (DOC, ROOT / "docs" / "science.md", ROOT / "README.md",
        *sorted(p for p in (ROOT / "docs").glob("*.md") if p.name not in ("api.md", "science.md")))
MIN_EXAMPLES = {DOC: 15, ROOT / "docs" / "science.md": 1}
FENCE = re.compile(r"^```(\w*)\s*$")


def blocks(text: str) -> list[dict]:
    """The fenced blocks of a markdown text: language, body, first and last line (1-based, fences
    included) and the heading they sit under."""
    out, lines, i, heading = [], text.splitlines(), 0, ""
    while i < len(lines):
        if lines[i].startswith("#"):
            heading = lines[i].lstrip("#").strip()
        m = FENCE.match(lines[i])
        if m:
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            if j == len(lines):
                raise AssertionError(f"unclosed code fence at line {i + 1}")
            out.append({"lang": m.group(1), "body": "\n".join(lines[i + 1 : j]), "start": i + 1, "end": j + 1,
                        "heading": heading})
            i = j
        i += 1
    return out


def examples(text: str) -> list[dict]:
    """The python blocks, each with the text block that follows it (``expected``, or None)."""
    bs = blocks(text)
    out = []
    for k, b in enumerate(bs):
        if b["lang"] != "python":
            continue
        nxt = bs[k + 1] if k + 1 < len(bs) else None
        follows = nxt is not None and nxt["lang"] == "text" and not "\n".join(
            text.splitlines()[b["end"] : nxt["start"] - 1]).strip()
        out.append({**b, "expected": nxt if follows else None})
    return out


def run(example: dict, namespace: dict, doc: Path = DOC) -> str:
    """Execute one example; its standard output."""
    buf = io.StringIO()
    code = compile(example["body"], f"{doc.name}:{example['start'] + 1}", "exec")
    with contextlib.redirect_stdout(buf):
        exec(code, namespace)
    return buf.getvalue()


def _norm(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip("\n").splitlines()]


def _run_all(doc: Path = DOC) -> list[tuple[dict, str]]:
    namespace: dict = {"__name__": "__api_docs__"}
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        return [(ex, run(ex, namespace, doc)) for ex in examples(doc.read_text(encoding="utf-8"))]
    finally:
        os.chdir(cwd)


def test_every_public_function_has_an_example():
    code = "\n".join(ex["body"] for ex in examples(DOC.read_text(encoding="utf-8")))
    for name in ("plan", "plan_sweep", "predict", "ptq_risk", "ptq_sweep", "d_crit", "fit_law", "load_runs",
                 "load_law", "save_law", "compose", "parse_count", "parse_bytes", "parse_precision",
                 "PrecplanError", "to_jsonable", ".loss(", ".effective_params(", ".ptq_degradation(",
                 ".decompose("):
        assert name in code, f"docs/api.md has no example using {name}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_python_blocks_have_their_output_and_output_blocks_their_python(doc):
    text = doc.read_text(encoding="utf-8")
    exs = examples(text)
    assert len(exs) >= MIN_EXAMPLES.get(doc, 0)
    owned = {ex["expected"]["start"] for ex in exs if ex["expected"]}
    for b in blocks(text):
        # console: shell sessions (tests/test_docs_commands.py runs their precplan commands); "": not run
        assert b["lang"] in ("python", "text", "bash", "console", ""), (
            f"line {b['start']}: unexpected block language {b['lang']!r}")
        if b["lang"] == "text":
            assert b["start"] in owned, f"line {b['start']}: a text block not right after a python block"


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_links_between_the_documents_resolve(doc):
    text = doc.read_text(encoding="utf-8")
    for target, frag in re.findall(r"\]\(([\w./-]*?)#([\w-]+)\)", text):
        path = doc.parent / target if target else doc
        heads = [line.lstrip("#") for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#")]
        assert frag in {_anchor(h) for h in heads}, f"{doc.name}: link {target}#{frag} has no heading"
    for target in re.findall(r"\]\(([\w./-]+\.md)\)", text):
        assert (doc.parent / target).exists(), f"{doc.name}: link to missing {target}"


@pytest.mark.slow
@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_examples_run_and_print_what_the_document_shows(doc):
    t0 = time.perf_counter()
    for ex, out in _run_all(doc):
        if ex["expected"] is None:
            assert out == "", f"{doc.name} line {ex['start']} ({ex['heading']}) prints but shows no output block"
            continue
        assert _norm(out) == _norm(ex["expected"]["body"]), (
            f"{doc.name} line {ex['start']} ({ex['heading']}): the example's output changed;"
            " check it, then run `python tests/test_api_docs.py --write`"
        )
    assert time.perf_counter() - t0 < 300


def write(doc: Path = DOC) -> None:
    """Rewrite every expected-output block of ``doc`` from a fresh run (adds missing ones)."""
    text = doc.read_text(encoding="utf-8")
    lines = text.splitlines()
    edits = []  # (first line index, end line index exclusive, replacement lines)
    for ex, out in _run_all(doc):
        body = _norm(out) if out.strip() else []
        new = ["```text", *body, "```"] if body else []
        if ex["expected"]:
            edits.append((ex["expected"]["start"] - 1, ex["expected"]["end"], new))
        elif new:
            edits.append((ex["end"], ex["end"], ["", *new]))
    for start, end, new in sorted(edits, reverse=True):
        if not new and start > 0 and not lines[start - 1].strip():
            start -= 1
        lines[start:end] = new
    doc.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        for d in DOCS:
            write(d)
    else:
        sys.exit(pytest.main([__file__, "-q", "-p", "no:cacheprovider"]))
