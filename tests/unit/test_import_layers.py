"""The package's layers have no import cycles: between its sub-packages (and top-level modules),
and between the modules of ``ml`` (which the training process imports). Only imports that run
are counted (``if TYPE_CHECKING:`` blocks are not); imports inside functions count, since
they run too."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import airflow_ml_provider

ROOT = Path(airflow_ml_provider.__file__).parent
PACKAGE = "airflow_ml_provider"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join((PACKAGE, *parts)).removesuffix(".__init__")


def _runtime_imports(tree: ast.AST) -> list[str]:
    """Our modules ``tree`` imports, outside ``if TYPE_CHECKING:`` blocks."""
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PACKAGE):
            if node.module == PACKAGE:
                found.extend(f"{PACKAGE}.{alias.name}" for alias in node.names)
            else:
                found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(a.name for a in node.names if a.name.startswith(f"{PACKAGE}."))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _graph(node_of) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for path in ROOT.rglob("*.py"):
        source = node_of(_module_name(path))
        if source is None:
            continue
        for target in _runtime_imports(ast.parse(path.read_text())):
            other = node_of(target)
            if other is not None and other != source:
                edges[source].add(other)
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one node (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in edges.get(node, ()):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(set(edges) | {n for targets in edges.values() for n in targets}):
        if node not in index:
            connect(node)
    return sorted(groups)


def _layer(module: str) -> str | None:
    """A sub-package, or a top-level module, of the package."""
    parts = module.split(".")
    if len(parts) < 2:
        return None
    return parts[1]


def test_no_import_cycle_between_layers():
    assert _cycles(_graph(_layer)) == []


def test_no_import_cycle_between_the_modules_of_ml():
    def ml_module(module: str) -> str | None:
        return module if module.startswith(f"{PACKAGE}.ml.") else None

    assert _cycles(_graph(ml_module)) == []


def test_the_core_layer_imports_nothing_else_of_the_package():
    edges = _graph(_layer)
    assert edges.get("core", set()) == set()


def test_the_finder_sees_a_cycle_when_there_is_one():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
