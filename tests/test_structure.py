"""The package structure, read from the source (no imports): packages talk through front doors,
no import cycles, every private module says what it exports.

Rules (checked by walking each module's AST, imports inside functions and ``TYPE_CHECKING``
blocks included):

- **Front doors.** A module of one package (``precplan.fit``) imports another package
  (``precplan.laws``) only through that package's ``__init__`` and only names it lists in
  ``__all__``: never ``precplan.laws._law``, never ``from precplan.laws import _law``, relative
  forms (``from .._law import Law``) included. Top-level modules (``precplan/costs.py``) count as
  outside every package. Inside a package, private imports are fine.
- **No cycles.** The graph of module imports, counting every import statement anywhere in a file,
  has no cycle. A package's ``__init__`` depends on what it imports; a lazy ``__init__`` (an
  ``_EXPORTS`` mapping read by ``__getattr__``) sends each exported name to the module it comes
  from. Collapsed to packages (each shared top-level module its own node), the graph has no
  cycle either: dependencies between packages run one way. Third-party imports (torch,
  matplotlib, submitit, ray, ...) are not part of the graph.
- **Shared modules below packages.** The shared top-level modules (``precplan/costs.py``,
  ``units.py``, ``records.py``, ...) import no package at run time (only under ``TYPE_CHECKING``,
  for annotations): every package may use them, so they may not use a package.
- **``__all__``.** Every private module and every package ``__init__`` declares ``__all__``, and
  every name in it is defined there.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOP = "precplan"


@dataclass
class Module:
    name: str  # dotted: precplan.fit._runs
    path: str  # relative to the repository: precplan/fit/_runs.py
    is_package: bool  # an __init__.py
    tree: ast.Module
    lazy: dict[str, str] = field(default_factory=dict)  # a lazy __init__'s name -> module

    @property
    def package(self) -> str | None:
        """The package this module belongs to (``precplan.fit``); ``None`` for top-level modules."""
        parts = self.name.split(".")
        if self.is_package:
            return self.name if len(parts) > 1 else None
        return ".".join(parts[:2]) if len(parts) > 2 else None


@dataclass(frozen=True)
class Import:
    line: int
    target: str  # the module imported from: precplan.laws, precplan.laws._law
    names: tuple[str, ...]  # the names taken from it (empty for ``import x``)


def load_modules(root: Path, top: str = TOP) -> dict[str, Module]:
    """Every module of package ``top`` under ``root``, parsed."""
    out: dict[str, Module] = {}
    for path in sorted((root / top).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        mod = Module(".".join(parts), path.relative_to(root).as_posix(), is_package, tree)
        if is_package:
            mod.lazy = _lazy_exports(tree, mod.name)
        out[mod.name] = mod
    return out


def _literal_assign(tree: ast.Module, name: str) -> ast.expr | None:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return node.value
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
            return node.value
    return None


def _lazy_exports(tree: ast.Module, package: str) -> dict[str, str]:
    """A lazy ``__init__``'s ``_EXPORTS = {name: module}`` (module absolute, or relative to the package)."""
    value = _literal_assign(tree, "_EXPORTS")
    if value is None:
        return {}
    mapping = ast.literal_eval(value)
    return {k: (v if v.startswith(TOP + ".") or v == TOP else f"{package}.{v}") for k, v in mapping.items()}


def declared_all(mod: Module) -> list[str] | None:
    """The names of ``__all__`` (a list or tuple literal, ``sorted(...)`` of one, or of a lazy
    ``_EXPORTS``' keys, or a sum of those); ``None`` when the module has no ``__all__``."""
    value = _literal_assign(mod.tree, "__all__")
    if value is None:
        return None

    def names(node: ast.expr) -> list[str]:
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return names(node.left) + names(node.right)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("sorted", "list", "tuple"):
            return names(node.args[0])
        if isinstance(node, ast.Name):
            ref = _literal_assign(mod.tree, node.id)
            if ref is None:
                raise ValueError(f"{mod.path}: __all__ refers to {node.id}, which is not a literal here")
            return names(ref)
        return list(ast.literal_eval(node))

    return names(value)


def defined_names(mod: Module) -> set[str]:
    """Names bound at the top level of a module (definitions, assignments, imports)."""
    out: set[str] = set(mod.lazy)
    for node in ast.walk(mod.tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node in mod.tree.body:
            out.add(node.name)
    for node in mod.tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            out.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.If, ast.Try)):  # try: import x / except ImportError: import y
            for sub in ast.walk(node):
                if isinstance(sub, (ast.Import, ast.ImportFrom)):
                    out.update((a.asname or a.name).split(".")[0] for a in sub.names)
        for t in targets:
            out.update(n.id for n in ast.walk(t) if isinstance(n, ast.Name))
    return out


def imports(mod: Module) -> list[Import]:
    """Every import of a ``precplan`` module in ``mod``, wherever it stands (inside functions and
    ``if TYPE_CHECKING:`` too), relative ones resolved."""
    out = []
    for node in ast.walk(mod.tree):
        if isinstance(node, ast.Import):
            out += [Import(node.lineno, a.name, ()) for a in node.names if a.name.split(".")[0] == TOP]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = mod.name.split(".") if mod.is_package else mod.name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == TOP or target.startswith(TOP + "."):
                out.append(Import(node.lineno, target, tuple(a.name for a in node.names)))
    return out


def _is_private(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return last.startswith("_") and not last.startswith("__")


def _package_of(name: str, modules: dict[str, Module]) -> str | None:
    mod = modules.get(name)
    if mod is not None:
        return mod.package
    parts = name.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else None


def front_door_violations(modules: dict[str, Module]) -> list[str]:
    """Imports that reach into another package's private modules or take a name its
    ``__init__`` does not export."""
    out = []
    for mod in modules.values():
        here = mod.package
        for imp in imports(mod):
            where = f"{mod.path}:{imp.line}"
            targets = [imp.target] + [f"{imp.target}.{n}" for n in imp.names if f"{imp.target}.{n}" in modules]
            for t in targets:
                parts = t.split(".")
                for k in range(2, len(parts) + 1):  # precplan.laws._law, precplan.laws._law.x ...
                    prefix = ".".join(parts[:k])
                    if _is_private(prefix) and _package_of(prefix, modules) != here:
                        out.append(f"{where}: imports {prefix}, a private module of another package")
                        break
                else:
                    continue
                break
            else:
                target = modules.get(imp.target)
                if target is None or not target.is_package or target.package is None or target.package == here:
                    continue
                exported = declared_all(target) or []
                for n in imp.names:
                    if f"{imp.target}.{n}" not in modules and n not in exported:
                        out.append(f"{where}: imports {n} from {imp.target}, which does not export it (__all__)")
    return out


def import_graph(modules: dict[str, Module]) -> dict[str, set[str]]:
    """Module -> the ``precplan`` modules it imports (anywhere in the file)."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for mod in modules.values():
        for imp in imports(mod):
            if not imp.names:
                if imp.target in modules:
                    graph[mod.name].add(imp.target)
                continue
            target = modules.get(imp.target)
            for n in imp.names:
                sub = f"{imp.target}.{n}"
                if sub in modules:
                    graph[mod.name].add(sub)
                elif target is not None and n in target.lazy:
                    graph[mod.name].add(target.lazy[n])
                elif target is not None:
                    graph[mod.name].add(imp.target)
    return graph


def package_graph(graph: dict[str, set[str]], modules: dict[str, Module]) -> dict[str, set[str]]:
    """:func:`import_graph` collapsed to packages; a shared top-level module stays its own node."""
    node = {name: (mod.package or name) for name, mod in modules.items()}
    out: dict[str, set[str]] = {n: set() for n in node.values()}
    for a, targets in graph.items():
        out[node[a]].update(node[b] for b in targets if node[b] != node[a])
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (or a module importing itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan, iterative over each node's successors
        work = [(v, iter(sorted(graph.get(v, ()))))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        while work:
            node, succ = work[-1]
            for w in succ:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    break
                if w in on:
                    low[node] = min(low[node], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == node:
                            break
                    if len(comp) > 1 or node in graph.get(node, ()):
                        out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _type_checking_imports(tree: ast.Module) -> set[int]:
    """Line numbers of the imports inside ``if TYPE_CHECKING:`` blocks (annotations only)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            out.update(n.lineno for s in node.body for n in ast.walk(s) if isinstance(n, (ast.Import, ast.ImportFrom)))
    return out


def shared_module_problems(modules: dict[str, Module]) -> list[str]:
    """Imports of a package, at run time, by a shared top-level module (``__main__``, the
    command-line entry point, and the lazy root ``__init__`` excepted)."""
    out = []
    for mod in modules.values():
        if mod.package is not None or mod.is_package or mod.name.endswith("__main__"):
            continue
        typing_only = _type_checking_imports(mod.tree)
        for imp in imports(mod):
            if imp.line in typing_only:
                continue
            reached = [imp.target] + [f"{imp.target}.{n}" for n in imp.names if f"{imp.target}.{n}" in modules]
            if any(_package_of(t, modules) is not None for t in reached):
                package = _package_of(imp.target, modules)
                out.append(f"{mod.path}:{imp.line}: a shared module imports the package {package}")
    return out


def all_problems(modules: dict[str, Module]) -> list[str]:
    """Private modules and packages without ``__all__``, and ``__all__`` names not defined."""
    out = []
    for mod in modules.values():
        if not (mod.is_package or _is_private(mod.name)) or mod.name.endswith("__main__"):
            continue
        names = declared_all(mod)
        if names is None:
            out.append(f"{mod.name}: no __all__")
            continue
        missing = sorted(set(names) - defined_names(mod))
        if missing:
            out.append(f"{mod.name}: __all__ names {missing}, which it does not define")
    return out


# ---------------------------------------------------------------------------- the checks
@pytest.fixture(scope="module")
def modules() -> dict[str, Module]:
    return load_modules(ROOT)


def test_packages_talk_through_front_doors(modules: dict[str, Module]) -> None:
    bad = front_door_violations(modules)
    assert not bad, "\n".join(bad)


def test_no_import_cycles(modules: dict[str, Module]) -> None:
    found = cycles(import_graph(modules))
    assert not found, "\n".join(" <-> ".join(c) for c in found)


def test_packages_depend_one_way(modules: dict[str, Module]) -> None:
    found = cycles(package_graph(import_graph(modules), modules))
    assert not found, "\n".join(" <-> ".join(c) for c in found)


def test_shared_modules_import_no_package(modules: dict[str, Module]) -> None:
    bad = shared_module_problems(modules)
    assert not bad, "\n".join(bad)


def test_private_modules_declare_all(modules: dict[str, Module]) -> None:
    bad = all_problems(modules)
    assert not bad, "\n".join(bad)


def test_checker_sees_every_kind_of_violation(tmp_path: Path) -> None:
    """The checks can fail: a synthetic package with one of each violation."""
    files = {
        "precplan/__init__.py": "__all__ = []\n",
        "precplan/base.py": "from precplan.a._x import f\n",  # top level into a private module
        "precplan/a/__init__.py": "from precplan.a._x import f\n__all__ = ['f']\n",
        "precplan/a/_x.py": "__all__ = ['f', 'gone']\n\ndef f():\n    from precplan.b import g\n",  # function-level edge
        "precplan/b/__init__.py": "from precplan.b._y import g\n__all__ = ['g']\n",
        "precplan/b/_y.py": "from .._private_z import q\nfrom precplan.a import f, h\n\ndef g():\n    pass\n",  # no __all__
        "precplan/b/_ok.py": "from ._y import g\nfrom precplan.a import f\n__all__ = []\n",
        "precplan/c/__init__.py": "_EXPORTS = {'k': '_k'}\n__all__ = sorted(_EXPORTS)\n",
        "precplan/c/_k.py": "from precplan.b import g\n__all__ = ['k']\nk = 1\n",
        "precplan/b/_w.py": "from precplan.c import k\n__all__ = []\n",
        "precplan/_private_z.py": "__all__ = ['q']\nq = 1\n",
        "precplan/shared.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from precplan.a import f\n\n"
                              "def use():\n    from precplan.c import k\n",  # the second is a run-time import
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    mods = load_modules(tmp_path)
    doors = front_door_violations(mods)
    assert any("base.py:1" in v and "precplan.a._x" in v for v in doors)
    assert any("_y.py:1" in v and "precplan._private_z" in v for v in doors)  # relative form resolved
    assert any("_y.py:2" in v and "imports h from precplan.a" in v for v in doors)  # not exported
    assert not any("_ok.py" in v for v in doors)  # inside a package, private imports are fine
    assert len(doors) == 3, doors
    found = cycles(import_graph(mods))
    # a._x -> b (in a function) -> b._y -> a -> a._x; and b._w -> c._k (lazy export) -> b -> ... -> b._y only,
    # so the second is not a cycle
    assert found == [["precplan.a", "precplan.a._x", "precplan.b", "precplan.b._y"]]
    assert shared_module_problems(mods) == [
        "precplan/base.py:1: a shared module imports the package precplan.a",
        "precplan/shared.py:6: a shared module imports the package precplan.c",
    ]
    # packages: a -> b -> a, and b (b._w) -> c (c._k) -> b: one knot of three
    assert cycles(package_graph(import_graph(mods), mods)) == [["precplan.a", "precplan.b", "precplan.c"]]
    problems = all_problems(mods)
    assert "precplan.b._y: no __all__" in problems
    assert "precplan.a._x: __all__ names ['gone'], which it does not define" in problems
    assert len(problems) == 2, problems
