"""Keeping a job's stored Pareto front and hypervolume history in step with its trials.

The front is stored as the ``on_front`` flag of complete trials; each feasible trial appends one
hypervolume point once the job has a reference (``trial_batches`` writes both). The dominance rules
themselves live in ``pareto``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable, Sequence

import numpy as np

from supernas.search.pareto import add_to_front, hypervolume, minimization_vector, non_dominated
from supernas.search.store.tables import TrialRow

Objectives = Sequence[tuple[str, str]]  # (metric, "minimize" | "maximize") pairs


def objective_vector(row: TrialRow, objectives: Objectives) -> list[float]:
    """The stored trial's objectives in minimization form (see ``checked_vector``)."""
    return checked_vector(
        json.loads(row.values_json or "{}"), objectives, f"trial {row.number} of job {row.job_id}"
    )


def checked_vector(values: dict[str, float], objectives: Objectives, trial: str) -> list[float]:
    """``values``' objectives in minimization form; a missing or non-finite value is a caller bug (ValueError
    naming ``trial``)."""
    missing = [name for name, _ in objectives if name not in values or not math.isfinite(values[name])]
    if missing:
        raise ValueError(f"{trial}: no finite value for objective(s) {', '.join(missing)}")
    return minimization_vector(values, objectives)


def set_front(rows: list[TrialRow], objectives: Objectives) -> np.ndarray:
    """Mark the non-dominated ``rows`` on the front and the others off it; returns the front's points
    in minimization form."""
    points = np.array([objective_vector(row, objectives) for row in rows]).reshape(len(rows), len(objectives))
    keep = set(non_dominated(points).tolist())
    for i, row in enumerate(rows):
        row.on_front = i in keep
    return points[sorted(keep)]


class GrowingFront:
    """A job's front while trials are appended in order (a bulk import), without one query per trial.

    Starts from the stored front; ``keys`` names each point on it (a trial row id, or whatever the caller
    passes to ``add``), so the caller can set ``on_front`` once at the end.
    """

    def __init__(self, stored_front: list[TrialRow], objectives: Objectives) -> None:
        self.objectives = objectives
        self.points = np.array([objective_vector(row, objectives) for row in stored_front]).reshape(
            len(stored_front), len(objectives)
        )
        self.keys: list[Hashable] = [row.id for row in stored_front]
        self._volume: float | None = None

    def add(self, key: Hashable, values: dict[str, float], trial: str) -> None:
        """A complete trial's values: it joins the front unless a point on it dominates it (``trial`` names
        it in the error about a missing objective)."""
        point = checked_vector(values, self.objectives, trial)
        kept = add_to_front(self.points, point)
        if kept is None:
            return
        self.points = np.vstack([self.points[kept], point])
        self.keys = [k for k, keep in zip(self.keys, kept) if keep] + [key]
        self._volume = None

    def hypervolume(self, reference: Sequence[float]) -> float:
        """The current front's hypervolume (computed again only after the front changed)."""
        if self._volume is None:
            self._volume = hypervolume(self.points, reference)
        return self._volume
