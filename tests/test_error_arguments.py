"""Library errors speak of arguments (`budget`, `target_loss`), not command-line flags: no
``PrecplanError`` raised outside ``precplan/cli`` names a ``--flag`` (a suggested command line,
``precplan validate --report DIR``, is fine). The command line maps argument names to flags in
one place, ``precplan/cli/_flags.py``."""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "precplan"
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
ERRORS = {"PrecplanError", "LawFileError", "_error"}

# Modules whose messages their owners are converting (issue 19). Each entry must still name a
# flag: once converted, the test fails until the entry is removed.
PENDING = {
    "io.py", "laws/_intervals.py", "laws/_law.py", "plots/_common.py", "ptq/_risk.py",
    "validate/_curves.py", "validate/_data.py", "validate/_executors.py", "validate/_presets.py",
    "validate/_report.py", "validate/_store.py", "validate/_train.py",
}


def flagged_calls(source: str) -> list[int]:
    """Lines of error constructions whose message text names a ``--flag`` (outside a suggested
    ``precplan ...`` command line)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in ERRORS:
            texts = [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
            if any(FLAG.search(t) for t in texts if "precplan " not in t):
                lines.append(node.lineno)
    return lines


@functools.lru_cache(maxsize=None)
def flagged_modules() -> dict[str, list[int]]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith("cli/"):
            continue
        found = flagged_calls(path.read_text(encoding="utf-8"))
        if found:
            out[rel] = found
    return out


def test_scan_finds_flags_and_spares_arguments_and_command_lines():
    src = (
        'raise PrecplanError("give --budget or --target-loss")\n'
        'raise PrecplanError(f"`budget` {x} is too small")\n'
        'raise PrecplanError("write them with: precplan validate --report DIR")\n'
    )
    assert flagged_calls(src) == [1]


def test_library_errors_name_arguments_not_flags():
    found = {k: v for k, v in flagged_modules().items() if k not in PENDING}
    assert not found, f"these library errors name command-line flags (module: lines): {found}"


@pytest.mark.parametrize("module", sorted(PENDING))
def test_pending_entries_are_still_needed(module):
    assert module in flagged_modules(), f"{module} no longer names flags: remove it from PENDING"
