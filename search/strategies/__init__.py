"""Strategies: propose architectures from the trials evaluated so far (the interface: :mod:`.base`).

``make_strategy`` builds the one a job's spec names; Optuna and the MIP solver are imported only by the
jobs that use them.
"""

from __future__ import annotations

from supernas.predictors.direction import Direction
from supernas.search.strategies.base import StartFirst, Strategy, StrategySpec, start_architectures
from supernas.search.strategies.predictor import PredictorStrategy
from supernas.search.strategies.random import RandomStrategy
from supernas.spaces.spec import SpaceSpec

__all__ = ["Strategy", "StrategySpec", "make_strategy"]


def make_strategy(
    spec: SpaceSpec,
    objectives: list[tuple[str, Direction]],
    settings: StrategySpec,
    seed: int,
    constraints: list | None = None,
    library=None,
) -> Strategy:
    """``library``: the block library (:class:`supernas.search.puzzle.blocks.BlockLibrary`) strategy
    ``mip`` solves over. With ``settings.start`` the strategy proposes those architectures first."""
    strategy = _named_strategy(spec, objectives, settings, seed, constraints, library)
    start = start_architectures(spec, settings)
    return StartFirst(strategy, start) if start else strategy


def _named_strategy(
    spec: SpaceSpec,
    objectives: list[tuple[str, Direction]],
    settings: StrategySpec,
    seed: int,
    constraints: list | None,
    library,
) -> Strategy:
    if settings.name == "mip":
        from supernas.search.strategies.mip import MipStrategy

        return MipStrategy(spec, objectives, settings, seed, constraints, library)
    if settings.name == "random":
        return RandomStrategy(spec, objectives, settings, seed)
    if settings.name == "predictor":
        return PredictorStrategy(spec, objectives, settings, seed, constraints)
    from supernas.search.strategies.optuna import (
        OptunaStrategy,
    )  # (Optuna is imported only by jobs that use it)

    # Optuna's samplers need no list: each told trial carries its total violation as a trial constraint
    return OptunaStrategy(spec, objectives, settings, seed)
