"""Pareto dominance, non-dominated sorting, crowding distance and exact hypervolume.

Everything here is in *minimization* form: smaller is better in every objective. Callers turn a trial's
``{metric: value}`` into such a vector with ``minimization_vector`` (maximized objectives negated), so
no function below needs to know about directions.

Equal points do not dominate each other (domination needs one strict improvement), so duplicates of a
non-dominated point are all kept on the front. That keeps ``non_dominated`` a pure function of the
point set: which of two identical trials would survive would otherwise depend on their order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def minimization_vector(values: dict[str, float], objectives: Sequence[tuple[str, str]]) -> list[float]:
    """Objective values in ``objectives`` order, maximized ones (direction ``"maximize"``) negated."""
    return [-values[name] if direction == "maximize" else values[name] for name, direction in objectives]


def dominates(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> bool:
    """True when ``a`` is no worse than ``b`` in every objective and strictly better in one."""
    return bool(_dominance(np.asarray(a, dtype=float), np.asarray(b, dtype=float)))


def _dominance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``dominates`` row by row along the last axis (either side may be one point or a stack of them)."""
    return np.all(a <= b, axis=-1) & np.any(a < b, axis=-1)


def add_to_front(front: np.ndarray, point: Sequence[float] | np.ndarray) -> np.ndarray | None:
    """Which rows of ``front`` (a non-dominated (n, m) array) stay on it once ``point`` joins, as a
    boolean mask; None when a row dominates ``point`` (it stays off and the front is unchanged).

    Adding points one at a time this way ends with the same set as ``non_dominated`` of all of them.
    """
    point = np.asarray(point, dtype=float)
    if _dominance(front, point).any():
        return None
    return ~_dominance(point, front)


def _as_points(points: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """``points`` as a float (n, m) array; an empty sequence is (0, 0)."""
    array = np.asarray(points, dtype=float)
    if array.size == 0:
        return array.reshape(0, array.shape[-1] if array.ndim == 2 else 0)
    if array.ndim != 2:
        raise ValueError(f"points must be a 2-D array (n points, m objectives), got shape {array.shape}")
    return array


def non_dominated(points: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """Indices (ascending) of the rows that no other row dominates; equal rows are all kept.

    A row can only be dominated by a row that is lexicographically smaller, so after a lexicographic
    sort each row is compared with the front found so far (a row dominated by a discarded row is also
    dominated by a kept one). With two objectives that comparison is a single running minimum, O(n log n).
    """
    pts = _as_points(points)
    if len(pts) == 0:
        return np.zeros(0, dtype=int)
    order = np.lexsort(pts.T[::-1])
    keep = _sweep_2d(pts, order) if pts.shape[1] == 2 else _sweep_generic(pts, order)
    return np.sort(np.asarray(keep, dtype=int))


def _sweep_2d(pts: np.ndarray, order: np.ndarray) -> list[int]:
    """Rows sorted by (x, y): a row is on the front iff its y beats every earlier y, or it repeats the
    earlier row that set the current best y."""
    keep: list[int] = []
    best = None  # (x, y) of the first row reaching the lowest y so far
    for i in order:
        x, y = pts[i]
        if best is None or y < best[1]:
            best = (x, y)
            keep.append(int(i))
        elif (x, y) == best:
            keep.append(int(i))
    return keep


def _sweep_generic(pts: np.ndarray, order: np.ndarray) -> list[int]:
    keep: list[int] = []
    for i in order:
        if not _dominance(pts[keep], pts[i]).any():
            keep.append(int(i))
    return keep


def non_dominated_sort(points: Sequence[Sequence[float]] | np.ndarray) -> list[np.ndarray]:
    """Deb's fast non-dominated sort: fronts of row indices, best first; every row is in exactly one.

    Builds the full (n, n) dominance matrix, which is fine for the population sizes of a search.
    """
    pts = _as_points(points)
    le = np.all(pts[:, None, :] <= pts[None, :, :], axis=2)
    lt = np.any(pts[:, None, :] < pts[None, :, :], axis=2)
    dominance = le & lt  # dominance[i, j]: row i dominates row j
    remaining = dominance.sum(axis=0)  # how many rows dominate each row
    fronts: list[np.ndarray] = []
    current = np.flatnonzero(remaining == 0)
    while current.size:
        fronts.append(current)
        remaining = remaining - dominance[current].sum(axis=0)
        remaining[current] = -1  # placed: never picked again
        current = np.flatnonzero(remaining == 0)
    return fronts


def crowding_distance(points: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """NSGA-II crowding distance of each row of one front: the sum over objectives of the gap between
    its two neighbours divided by the objective's range; the extremes of every objective get inf.

    An objective whose values are all equal adds nothing (its range is 0). Ties are broken by row order.
    """
    pts = _as_points(points)
    n = len(pts)
    distance = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for column in pts.T:
        order = np.argsort(column, kind="stable")
        ordered = column[order]
        span = ordered[-1] - ordered[0]
        distance[order[[0, -1]]] = np.inf
        if span > 0:
            distance[order[1:-1]] += (ordered[2:] - ordered[:-2]) / span
    return distance


def hypervolume(
    points: Sequence[Sequence[float]] | np.ndarray, reference: Sequence[float] | np.ndarray
) -> float:
    """Exact volume dominated by ``points`` and bounded by ``reference``, for 2 or 3 objectives.

    Only points strictly better than the reference in every objective contribute. Two objectives: one
    sweep in x. Three: slices between consecutive z values, each a 2-D sweep (O(n^2 log n)).
    """
    ref = np.asarray(reference, dtype=float)
    pts = _as_points(points)
    if ref.ndim != 1 or ref.size not in (2, 3):
        raise ValueError(f"hypervolume needs a reference point with 2 or 3 objectives, got shape {ref.shape}")
    if len(pts) == 0:
        return 0.0
    if pts.shape[1] != ref.size:
        raise ValueError(f"points have {pts.shape[1]} objectives but the reference point has {ref.size}")
    pts = pts[np.all(pts < ref, axis=1)]
    pts = pts[non_dominated(pts)]
    return _area_2d(pts, ref) if ref.size == 2 else _volume_3d(pts, ref)


def _area_2d(pts: np.ndarray, ref: np.ndarray) -> float:
    """Area dominated by ``pts`` (all strictly inside ``ref``): strips between consecutive x values,
    each as high as the best y seen so far."""
    if len(pts) == 0:
        return 0.0
    order = np.argsort(pts[:, 0], kind="stable")
    xs, ys = pts[order, 0], np.minimum.accumulate(pts[order, 1])
    widths = np.diff(np.append(xs, ref[0]))
    return float(np.sum(widths * (ref[1] - ys)))


def _volume_3d(pts: np.ndarray, ref: np.ndarray) -> float:
    """Slices between consecutive z values; each slice's area is the 2-D hypervolume of the points
    at or below it."""
    order = np.argsort(pts[:, 2], kind="stable")
    zs = np.append(pts[order, 2], ref[2])
    return float(
        sum(_area_2d(pts[order[: k + 1], :2], ref[:2]) * (zs[k + 1] - zs[k]) for k in range(len(pts)))
    )
