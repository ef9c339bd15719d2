"""The package's layers import only downward (LAYERS), with no cycles: between its sub-packages
(and top-level modules), between the sub-packages of ``ml`` and between its modules. Only
imports that run are counted (``if TYPE_CHECKING:`` blocks are not); imports inside functions
count, since they run too."""

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


LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"__version__", "core"}),
    frozenset({"cluster"}),
    frozenset({"settings"}),
    frozenset({"ml", "pipeline_spec", "pods"}),
    frozenset({"hooks", "serving", "notifications"}),
    frozenset({"storage", "deployers"}),
    frozenset({"triggers"}),
    frozenset({"sensors"}),
    frozenset({"operators"}),
    frozenset({"ui", "checks"}),
    frozenset({"factory"}),
    frozenset({"api", "cli", "spec", "preload"}),  # spec: the deprecated alias of pipeline_spec
)
"""The package from the bottom up: a layer imports only layers below it (sensors and triggers
use hooks, storage and core, never operators; hooks never the YAML loader)."""


def _rank(layer: str) -> int:
    for rank, members in enumerate(LAYERS):
        if layer in members:
            return rank
    raise AssertionError(f"{layer} is in no layer of LAYERS: place it")


def test_every_layer_imports_only_layers_below_it():
    upward = sorted(
        f"{source} -> {target}"
        for source, targets in _graph(_layer).items()
        for target in targets
        if _rank(target) >= _rank(source)
    )
    assert upward == []


def test_every_sub_package_and_top_level_module_has_a_layer():
    names = {_layer(_module_name(path)) for path in ROOT.rglob("*.py")} - {None}
    for name in names:
        _rank(name)


def _ml_part(module: str) -> str | None:
    """A sub-package of ``ml`` (data, features, training...) or a top-level module of it."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "ml" else None


STORED_IN_MODELS = ("transformers", "labels", "partitioned", "router_model", "torch_rows_model")
"""ml's modules whose dotted paths are written into stored models (see ml/__init__.py)."""


def test_no_import_cycle_between_the_sub_packages_of_ml():
    assert _cycles(_graph(_ml_part)) == []


def test_the_modules_stored_in_models_import_only_core_integrity_and_each_other():
    """What a stored model needs to load stays small and below the rest of ml: loading a
    champion must not pull in training, search or the gate."""
    allowed = {*STORED_IN_MODELS, "integrity", "responses"}
    edges = _graph(_ml_part)
    reached = {module: edges.get(module, set()) - allowed for module in STORED_IN_MODELS}
    assert reached == {module: set() for module in STORED_IN_MODELS}


def test_the_stored_paths_still_name_their_classes():
    """Every class a stored model names by path is importable at that path: a registered
    champion of an earlier release loads (a moved module would break every one)."""
    import importlib

    stored = {
        "airflow_ml_provider.ml.transformers": ["QuantileClipper", "NativeCategories"],
        "airflow_ml_provider.ml.labels": ["EncodedLabelClassifier"],
        "airflow_ml_provider.ml.partitioned": ["PartitionedModel"],
        "airflow_ml_provider.ml.router_model": ["PartitionRouter"],
        "airflow_ml_provider.ml.torch_rows_model": ["TorchRows"],
    }
    for module, names in stored.items():
        loaded = importlib.import_module(module)
        for name in names:
            assert getattr(loaded, name).__module__ == module
