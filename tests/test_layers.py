"""Dependencies flow one way: spaces <- predictors <- workers <- search <- dashboard <- cli. No module
imports a layer above its own, not even inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["spaces", "predictors", "workers", "search", "dashboard", "cli"]


def imported_layers(path: Path) -> set[str]:
    """The supernas layers a module imports, by absolute name (relative imports stay in their layer)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name.split(".")[1] for name in names if name.startswith("supernas.") and name.split(".")[1] in LAYERS}


@pytest.mark.parametrize("layer", LAYERS[:-1])
def test_no_module_imports_a_layer_above_its_own(layer):
    above = set(LAYERS[LAYERS.index(layer) + 1:])
    offending = {str(path.relative_to(ROOT)): sorted(imported_layers(path) & above) for path in (ROOT / layer).rglob("*.py")}
    assert {path: layers for path, layers in offending.items() if layers} == {}
