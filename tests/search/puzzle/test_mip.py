"""The exact layer-wise solver against brute force on a small synthetic block library."""

from __future__ import annotations

import itertools
import random

import pytest

from supernas.search.puzzle.mip import InfeasibleBudget, LayerwiseProblem, Resource, problem_cost, solve


def synthetic(seed: int) -> LayerwiseProblem:
    """3 layers (depth 2 or 3), 3 attention options (one a no-op), 2 FFN options, 2 quantizations."""
    rng = random.Random(seed)
    n_att, n_ffn, n_q, layers = 3, 2, 2, 3
    noise = lambda: rng.uniform(0, 1)  # noqa: E731
    costs = lambda n: [[noise() for _ in range(n)] for _ in range(layers)]  # noqa: E731

    def part(n, zero):
        return [[0.0 if i == zero else rng.uniform(1, 5) * (1 + q) for q in range(n_q)] for i in range(n)]

    resources = {
        "latency": Resource(2.0, part(n_att, 0), part(n_ffn, None)),
        "bytes": Resource(10.0, part(n_att, 0), part(n_ffn, None)),
    }
    return LayerwiseProblem([2, 3], {2: noise(), 3: 0.0}, costs(n_att), costs(n_ffn), costs(n_q), resources)


def brute_force(problem: LayerwiseProblem, budgets: dict[str, float]) -> list[tuple[float, int, tuple]]:
    """Every architecture with its cost, feasible ones only, best first."""
    n_att, n_ffn, n_q = len(problem.attention_cost[0]), len(problem.ffn_cost[0]), len(problem.quant_cost[0])
    options = list(itertools.product(range(n_att), range(n_ffn), range(n_q)))
    out = []
    for depth in problem.depths:
        for layers in itertools.product(options, repeat=depth):
            use = {
                n: problem.resources[n].base
                + sum(
                    problem.resources[n].attention[a][q] + problem.resources[n].ffn[f][q]
                    for a, f, q in layers
                )
                for n in budgets
            }
            if all(use[n] <= b for n, b in budgets.items()):
                out.append((problem_cost(problem, depth, layers), depth, layers))
    return sorted(out)


@pytest.mark.parametrize("seed", [0, 1])
def test_mip_equals_brute_force_for_several_budgets(seed):
    problem = synthetic(seed)
    everything = brute_force(problem, {})
    latencies = sorted(
        {
            problem.resources["latency"].base
            + sum(
                problem.resources["latency"].attention[a][q] + problem.resources["latency"].ffn[f][q]
                for a, f, q in layers
            )
            for _, _, layers in everything
        }
    )
    budgets = [latencies[int(i * (len(latencies) - 1) / 5)] + 1e-9 for i in range(6)]
    for latency in budgets:
        for limits in ({"latency": latency}, {"latency": latency, "bytes": 30.0}):
            try:
                expected = brute_force(problem, limits)[:3]
            except IndexError:
                expected = []
            if not expected:
                with pytest.raises(InfeasibleBudget):
                    solve(problem, limits)
                continue
            found = solve(problem, limits, solutions=3)
            assert [(c.depth, c.layers) for c in found] == [(d, layers) for _, d, layers in expected]
            assert [c.cost for c in found] == pytest.approx([cost for cost, _, _ in expected], abs=1e-12)
            for choice in found:
                for name, bound in limits.items():
                    assert choice.resource(problem, name) <= bound


def test_infeasible_budget_is_one_clear_line():
    problem = synthetic(0)
    with pytest.raises(InfeasibleBudget) as error:
        solve(problem, {"latency": 1.0})
    message = str(error.value)
    assert (
        "\n" not in message
        and "latency <= 1" in message
        and "least any architecture" in message
        and "2" in message
    )
