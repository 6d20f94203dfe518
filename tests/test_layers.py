"""The three packages read one way: ``firmware`` uses ``sync`` and ``hal``, ``sync`` uses
``hal``, and no module imports another that (directly or not) imports it back.

Every import counts, wherever it is written: at the top, inside a function, under
``TYPE_CHECKING``; importing a package counts as importing its ``__init__``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("firmware", "hal", "sync")
LAYER = {"hal": 0, "sync": 1, "firmware": 2}
"""A module may import only modules of its own layer or a lower one."""


def module_name(path: Path, root: Path) -> str:
    """``sync/queue/store.py`` → ``sync.queue.store``; ``hal/__init__.py`` → ``hal``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the three packages, by dotted name."""
    return {module_name(path, root): path
            for package in PACKAGES for path in sorted((root / package).rglob("*.py"))}


def imported(tree: ast.AST, name: str, is_package: bool, known: set[str]) -> set[str]:
    """The project modules a module's syntax tree imports (at any depth).

    ``from a.b import c`` imports ``a.b.c`` when that is a module, else ``a.b``;
    ``import a.b.c`` imports ``a.b.c``. Relative imports are resolved against ``name``.
    """
    found: set[str] = set()
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = []
            for alias in node.names:
                child = f"{base}.{alias.name}"
                targets.append(child if child in known else base)
        else:
            continue
        for target in targets:
            while target and target not in known:  # import a.b.c of a package a.b
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Each project module and the project modules it imports."""
    modules = project_modules(root)
    known = set(modules)
    return {name: imported(ast.parse(path.read_text(encoding="utf-8"), str(path)), name,
                           path.name == "__init__.py", known)
            for name, path in modules.items()}


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """``a imports b`` for each import of a higher layer's module."""
    return sorted(f"{name} imports {target}" for name, targets in graph.items()
                  for target in targets
                  if LAYER[target.split(".")[0]] > LAYER[name.split(".")[0]])


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(start: str) -> None:
        # Iterative, so a deep graph cannot exhaust the recursion limit.
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return sorted(found)


def test_no_module_imports_a_higher_layer() -> None:
    assert upward_imports(import_graph()) == []


def test_no_import_cycles() -> None:
    assert cycles(import_graph()) == []


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_the_check_sees_imports_in_functions_type_checking_and_packages(tmp_path: Path) -> None:
    _write(tmp_path, {
        "hal/__init__.py": "", "hal/a.py": "def f():\n    from sync import b\n",
        "sync/__init__.py": "from sync.b import X\n",
        "sync/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                     "    from firmware.c import Y\nX = 1\n",
        "sync/c.py": "from . import d\n", "sync/d.py": "import sync.c\n",
        "firmware/__init__.py": "", "firmware/c.py": "import hal.a\n",
    })
    graph = import_graph(tmp_path)
    assert graph["hal.a"] == {"sync.b"}
    assert graph["sync.c"] == {"sync.d"}
    assert upward_imports(graph) == ["hal.a imports sync.b", "sync.b imports firmware.c"]
    assert cycles(graph) == [["firmware.c", "hal.a", "sync.b"], ["sync.c", "sync.d"]]


@pytest.mark.parametrize("text", ["import hal\n", "from hal import f\n", "import hal.a as me, hal\n"])
def test_a_package_import_counts_as_its_init(tmp_path: Path, text: str) -> None:
    _write(tmp_path, {"hal/__init__.py": "from hal.a import f\n", "hal/a.py": text,
                      "sync/__init__.py": "", "firmware/__init__.py": ""})
    graph = import_graph(tmp_path)
    assert cycles(graph) == [["hal", "hal.a"]]


def test_the_way_out_names_the_version_the_package_is_built_with() -> None:
    # sync reads the installed package's metadata, which is built from firmware.__version__.
    import firmware
    from sync.version import __version__

    assert __version__ == firmware.__version__
