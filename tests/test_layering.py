"""The package layering of ARCHITECTURE.md holds: imports go one way and never in a circle.

Every module of ``model/`` and ``properties/`` is parsed (imports inside functions count too).
A module may import its own sub-package and sub-packages of a lower layer, never a higher one
or another sub-package of the same layer; and the module import graph has no cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]

# Layers, lowest first. A package may import only from strictly lower layers (and itself).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("model",),  # the version string only
    ("model.values",),
    ("model.transitions",),
    ("model.formats", "model.semantics"),
    ("model.quickmode",),
    ("model.encodings",),
    ("properties", "properties.catalogue", "properties.results"),
    ("properties.engines",),
    ("properties.traces",),
    ("properties.checks",),
    ("properties.reports",),
    ("properties.cli",),
)
RANK = {package: rank for rank, packages in enumerate(LAYERS) for package in packages}


def module_name(path: Path) -> str:
    """``qmcheck.model.values.policy`` for ``model/values/policy.py``."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return "qmcheck." + ".".join(parts)


def package_of(module: str) -> str:
    """The layering unit of a module: ``model.values`` for ``qmcheck.model.values.policy``."""
    parts = module.split(".")[1:]
    if len(parts) >= 2 and f"{parts[0]}.{parts[1]}" in RANK:
        return f"{parts[0]}.{parts[1]}"
    return parts[0]


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The qmcheck modules that ``path`` imports, anywhere in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("qmcheck."))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("qmcheck"):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in known else node.module)
    return found


def import_graph() -> nx.DiGraph:
    """Module -> imported module, over every source module."""
    paths = sorted([*ROOT.glob("model/**/*.py"), *ROOT.glob("properties/**/*.py")])
    known = {module_name(p) for p in paths}
    graph = nx.DiGraph()
    for path in paths:
        source = module_name(path)
        graph.add_node(source)
        for target in imported_modules(path, known):
            assert target in known, f"{path}: imports unknown module {target}"
            graph.add_edge(source, target)
    return graph


def layering_violations(graph: nx.DiGraph) -> list[str]:
    """Edges that import upward or sideways between packages."""
    bad = []
    for source, target in sorted(graph.edges):
        a, b = package_of(source), package_of(target)
        if a == b:
            continue
        if a not in RANK or b not in RANK:
            bad.append(f"{source} -> {target}: package not in the layer table")
        elif RANK[b] >= RANK[a]:
            bad.append(f"{source} -> {target}: {a} may not import {b}")
    return bad


def test_every_package_is_in_the_layer_table() -> None:
    packages = {package_of(n) for n in import_graph().nodes}
    assert packages <= set(RANK), packages - set(RANK)


def test_imports_go_one_way() -> None:
    assert layering_violations(import_graph()) == []


def test_no_circular_imports() -> None:
    cycles = list(nx.simple_cycles(import_graph()))
    assert cycles == []


def test_model_never_imports_properties() -> None:
    graph = import_graph()
    assert [(s, t) for s, t in graph.edges
            if s.startswith("qmcheck.model") and t.startswith("qmcheck.properties")] == []


@pytest.mark.parametrize("edge, expected", [
    (("qmcheck.model.values.policy", "qmcheck.properties.results"), "may not import"),
    (("qmcheck.model.semantics.lookup", "qmcheck.model.formats.loader"), "may not import"),
    (("qmcheck.properties.engines.bfs", "qmcheck.properties.cli.main"), "may not import"),
])
def test_the_checker_catches_a_reverse_import(edge: tuple[str, str], expected: str) -> None:
    graph = import_graph()
    graph.add_edge(*edge)
    assert any(expected in v for v in layering_violations(graph))


def test_the_checker_catches_a_cycle() -> None:
    graph = import_graph()
    graph.add_edge("qmcheck.model.values.errors", "qmcheck.model.values.policy")
    assert list(nx.simple_cycles(graph))


def test_folders_are_small_and_names_do_not_repeat_the_folder() -> None:
    for folder in sorted({p.parent for p in [*ROOT.glob("model/**/*.py"),
                                              *ROOT.glob("properties/**/*.py")]}):
        modules = [p for p in folder.glob("*.py") if p.name != "__init__.py"]
        assert len(modules) <= 15, folder
        for module in modules:
            assert not module.stem.startswith(folder.name.rstrip("s") + "_"), module
        init = folder / "__init__.py"
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and "\n" not in doc.strip(), f"{init}: needs a one-line docstring"
