"""A plugin module as a user writes one, written into a test's folder."""

from __future__ import annotations

from supernas.spaces.architecture import Architecture

PLUGIN = '''
import math

from supernas.predictors.plugins import metric


@metric("{metric}", direction="maximize", unit="points", cost="analytic")
def team_score(arch, context, scale: float = 1.0) -> float:
    """Depth and width, scaled; raises on one shape and gives NaN on another, to test failed trials."""
    if arch.depth == {raise_depth}:
        raise RuntimeError(f"{metric} cannot score depth {{arch.depth}}")
    if arch.depth == {nan_depth}:
        return math.nan
    return scale * (arch.depth * 1000 + arch.embed_dim)
'''


def write_plugin(
    folder, name: str, metric: str = "team_score", raise_depth: int = -1, nan_depth: int = -1
) -> None:
    (folder / f"{name}.py").write_text(
        PLUGIN.format(metric=metric, raise_depth=raise_depth, nan_depth=nan_depth)
    )


def expected(arch_json: str, scale: float) -> float:
    arch = Architecture.from_json(arch_json)
    return scale * (arch.depth * 1000 + arch.embed_dim)
