"""Pareto functions against hand-computed values and brute-force definitions."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from supernas.search.pareto import (
    crowding_distance,
    dominates,
    hypervolume,
    minimization_vector,
    non_dominated,
    non_dominated_sort,
)


def brute_force_non_dominated(points: np.ndarray) -> list[int]:
    """The definition, O(n^2): rows that no other row dominates."""
    return [i for i, p in enumerate(points) if not any(dominates(q, p) for q in points)]


def grid_hypervolume(points: np.ndarray, reference: tuple[int, ...]) -> int:
    """Unit cells [c, c + 1) of the box [0, reference) covered by some point's box [p, reference)."""
    cells = itertools.product(*(range(r) for r in reference))
    return sum(any(np.all(p <= np.array(c)) for p in points) for c in cells)


def tied_random_points(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    """Small integers, so ties and exact duplicates are frequent."""
    return rng.integers(0, 6, size=(n, m)).astype(float)


def test_dominates_needs_one_strict_improvement():
    assert dominates([1, 2], [1, 3])
    assert not dominates([1, 3], [1, 3])
    assert not dominates([0, 4], [1, 3])
    assert not dominates([1, 3], [1, 2])


def test_minimization_vector_negates_maximized_objectives():
    objectives = [("loss", "minimize"), ("accuracy", "maximize")]
    assert minimization_vector({"accuracy": 0.9, "loss": 2.0}, objectives) == [2.0, -0.9]


def test_non_dominated_hand_example_keeps_duplicates():
    points = np.array([(1, 3), (2, 2), (3, 1), (2, 3), (2, 2), (3, 3)], dtype=float)
    assert non_dominated(points).tolist() == [0, 1, 2, 4]


@pytest.mark.parametrize("m", [2, 3])
@pytest.mark.parametrize("seed", range(5))
def test_non_dominated_equals_brute_force(m, seed):
    points = tied_random_points(np.random.default_rng(seed), 80, m)
    assert non_dominated(points).tolist() == brute_force_non_dominated(points)


def test_non_dominated_of_nothing_is_empty():
    assert non_dominated(np.zeros((0, 2))).tolist() == []


@pytest.mark.parametrize("m", [2, 3])
def test_non_dominated_sort_partitions_into_successive_fronts(m):
    points = tied_random_points(np.random.default_rng(7), 60, m)
    fronts = non_dominated_sort(points)
    assert sorted(np.concatenate(fronts).tolist()) == list(range(len(points)))
    remaining = np.arange(len(points))
    for front in fronts:  # each front is the non-dominated set of what the earlier fronts left
        assert sorted(front.tolist()) == remaining[brute_force_non_dominated(points[remaining])].tolist()
        remaining = np.setdiff1d(remaining, front)


def test_crowding_distance_exact():
    points = np.array([(0, 10), (1, 6), (4, 4), (10, 0)], dtype=float)
    # interior rows: x gap / 10 + y gap / 10; row 1: (4 - 0)/10 + (10 - 4)/10, row 2: (10 - 1)/10 + (6 - 0)/10
    assert crowding_distance(points).tolist() == [np.inf, 1.0, 1.5, np.inf]


def test_crowding_distance_constant_objective_adds_nothing():
    points = np.array([(0, 5), (1, 5), (3, 5), (4, 5)], dtype=float)
    assert crowding_distance(points)[1:3].tolist() == [0.75, 0.75]


def test_hypervolume_2d_hand_value():
    assert hypervolume([(1, 3), (2, 2), (3, 1)], (4, 4)) == 6.0


def test_hypervolume_3d_by_inclusion_exclusion():
    points = [(1, 2, 3), (2, 1, 2), (3, 3, 1)]
    # boxes up to (4, 4, 4): 3*2*1 + 2*3*2 + 1*1*3 = 21; pairwise overlaps (componentwise max corners)
    # (2,2,3): 2*2*1 = 4, (3,3,3): 1, (3,3,2): 1*1*2 = 2; triple (3,3,3): 1 -> 21 - 7 + 1 = 15
    assert hypervolume(points, (4, 4, 4)) == 15.0


def test_hypervolume_ignores_points_not_strictly_inside_the_reference():
    assert hypervolume([(4, 1), (1, 5), (2, 2)], (4, 4)) == 4.0
    assert hypervolume(np.zeros((0, 2)), (4, 4)) == 0.0


@pytest.mark.parametrize("m", [2, 3])
@pytest.mark.parametrize("seed", range(3))
def test_hypervolume_equals_grid_count(m, seed):
    points = tied_random_points(np.random.default_rng(seed), 12, m)
    reference = (6,) * m
    assert hypervolume(points, reference) == grid_hypervolume(points, reference)


@pytest.mark.parametrize("m", [2, 3])
def test_hypervolume_never_decreases_as_points_are_added(m):
    points = np.random.default_rng(3).random((50, m))
    history = [hypervolume(points[: k + 1], np.ones(m)) for k in range(len(points))]
    assert all(b >= a for a, b in zip(history, history[1:]))
    assert history[-1] > history[0]


@pytest.mark.parametrize(
    "points, reference",
    [([(1, 2, 3, 4)], (5, 5, 5, 5)), ([(1, 2)], (5, 5, 5)), ([(1, 2, 3)], (5, 5))],
)
def test_hypervolume_rejects_unsupported_shapes(points, reference):
    with pytest.raises(ValueError):
        hypervolume(points, reference)
