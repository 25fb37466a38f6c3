"""The command line stays a thin shell: no function in precplan/cli/ runs over 60 lines
(decorators and signature included), so a command parses, calls the library and renders."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

CLI = Path(__file__).resolve().parents[1] / "precplan" / "cli"
LIMIT = 60


def function_lengths(source: str) -> dict[str, int]:
    """Lines of every function (nested ones too), from its first decorator to its last line."""
    out = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            start = min([d.lineno for d in node.decorator_list] + [node.lineno])
            out[node.name] = max(out.get(node.name, 0), node.end_lineno - start + 1)
    return out


@functools.lru_cache(maxsize=None)
def long_functions() -> dict[str, int]:
    found = {}
    for path in sorted(CLI.glob("*.py")):
        for name, n in function_lengths(path.read_text(encoding="utf-8")).items():
            if n > LIMIT:
                found[f"{path.name}:{name}"] = n
    return found


def test_line_count_sees_decorators_and_bodies():
    src = "@deco\ndef f(\n    a,\n):\n" + "    x = 1\n" * 70 + "\n\ndef g():\n    return 1\n"
    assert function_lengths(src) == {"f": 74, "g": 2}


def test_no_cli_function_over_60_lines():
    too_long = long_functions()
    assert not too_long, f"split these command-line functions (lines): {too_long}"
