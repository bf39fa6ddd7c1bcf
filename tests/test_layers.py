"""The layout's two rules, read from the source.

Layers, lowest first: core <- spaces <- data <- models <- training, export <- predictors <- workers <- search
<- dashboard <- cli. A module imports only from its own layer or below, not even inside a function; training
and export share a level and do not import each other. And no module imports itself back through others:
the graph of every import (at module level or inside a function) between supernas modules has no circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LEVELS = [
    ["core"],
    ["spaces"],
    ["data"],
    ["models"],
    ["training", "export"],
    ["predictors"],
    ["workers"],
    ["search"],
    ["dashboard"],
    ["cli"],
]
LAYERS = [layer for level in LEVELS for layer in level]
LEVEL_OF = {layer: i for i, level in enumerate(LEVELS) for layer in level}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["supernas", *parts])


MODULES = {module_name(path): path for layer in LAYERS for path in (ROOT / layer).rglob("*.py")}


def imported_modules(path: Path) -> set[str]:
    """The supernas modules a module imports anywhere in it; ``from package import module`` names the
    module, and a relative import is resolved against the importing module."""
    own = module_name(path)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            for alias in node.names:
                names.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {name for name in names if name in MODULES and name != own}


GRAPH = {name: imported_modules(path) for name, path in MODULES.items()}


def layer_of(module: str) -> str:
    return module.split(".")[1]


@pytest.mark.parametrize("layer", LAYERS)
def test_no_module_imports_a_layer_above_its_own(layer):
    offending = {
        module: sorted({layer_of(m) for m in imported if LEVEL_OF[layer_of(m)] > LEVEL_OF[layer]})
        for module, imported in GRAPH.items()
        if layer_of(module) == layer
    }
    assert {module: layers for module, layers in offending.items() if layers} == {}


@pytest.mark.parametrize("layer", ["training", "export"])
def test_layers_of_one_level_do_not_import_each_other(layer):
    other = {"training": "export", "export": "training"}[layer]
    assert (
        sorted(
            m
            for m, imported in GRAPH.items()
            if layer_of(m) == layer and any(layer_of(i) == other for i in imported)
        )
        == []
    )


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph[node]:
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_circle_finder_finds_a_circle_through_three_modules():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle():
    assert circles(GRAPH) == []
