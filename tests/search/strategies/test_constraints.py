"""Constraints reach every model-based strategy: with one, nsga2/tpe/motpe propose different (and more
often feasible) architectures than the same sampler, same seed, without it."""

from __future__ import annotations

import pytest

from supernas.search.jobspec import Constraint
from supernas.search.strategies import make_strategy
from supernas.search.strategies.base import StrategySpec
from supernas.spaces.analytic import count_params
from supernas.spaces.spec import load_spec

OBJECTIVES = [("params", "minimize"), ("depth", "maximize")]


def proposals(name: str, constraints: list[Constraint], rounds: int = 12, batch: int = 4) -> list:
    """The strategy's asks over ``rounds`` rounds, each told its values and its constraint violation."""
    spec = load_spec("gpt-tiny")
    strategy = make_strategy(
        spec, OBJECTIVES, StrategySpec(name=name, population=8, initial=8), seed=3, constraints=constraints
    )
    asked = []
    for _ in range(rounds):
        for arch in strategy.ask(batch):
            values = {"params": float(count_params(spec, arch)), "depth": float(arch.depth)}
            strategy.tell(arch, values, sum(c.violation(values[c.metric]) for c in constraints))
            asked.append((arch.arch_id, values))
    return asked


@pytest.mark.parametrize("name", ["nsga2", "tpe", "motpe"])
def test_a_constraint_changes_what_the_sampler_proposes(name):
    free = proposals(name, [])
    limit = sorted(v["params"] for _, v in free)[len(free) // 4]  # a quarter of the free proposals fit
    bounded = proposals(name, [Constraint(metric="params", max=limit)])
    assert [a for a, _ in free][:8] == [a for a, _ in bounded][:8]  # the same random start ...
    assert [a for a, _ in free] != [a for a, _ in bounded]  # ... then the constraint steers the sampler
    late = slice(len(free) // 2, None)
    feasible = [sum(v["params"] <= limit for _, v in run[late]) for run in (free, bounded)]
    assert feasible[1] > feasible[0]
