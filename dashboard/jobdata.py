"""An in-memory mirror of a job's trials, so the pages' big reads (chart points, tables sorted by a
metric) cost milliseconds on a job with tens of thousands of trials.

It stays correct cheaply because of how the store evolves: trial numbers are dense from 0, a finished
trial never changes again except for its ``on_front`` flag, and that flag and the hypervolume history
only change when a trial finishes. A refresh therefore reads just the trials numbered from the first
unfinished one on, and re-reads the (small, indexed) front and the history only when something finished.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from supernas.search.records import EVALUATED, TrialRecord
from supernas.search.store import Store

from .archview import DIMENSIONS, ArchView, arch_view
from .models import HypervolumePoint, PointSet

MAX_DOMINATED = 3000  # chart points per set above which a set is thinned
MAX_INFEASIBLE = 1000


class JobData:
    """One job's trials (index = number), front numbers and hypervolume steps, as of the last refresh."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.trials: list[TrialRecord] = []
        self.front: set[int] = set()
        self.history: list[HypervolumePoint] = []
        self._first_open = 0  # lowest number not finished at the last refresh
        self._loaded = False
        self._views: dict[int, ArchView] = {}

    def refresh(self, store: Store) -> None:
        """Catch up with the store (see the module docstring for why this suffices)."""
        known = self._first_open
        tail = store.trials(self.job_id, offset=known)
        finished_before = {t.number for t in self.trials[known:] if t.state in EVALUATED}
        del self.trials[known:]
        self.trials += tail
        newly_finished = any(t.state in EVALUATED and t.number not in finished_before for t in tail)
        self._first_open = next((t.number for t in tail if t.state not in EVALUATED), len(self.trials))
        if newly_finished or not self._loaded:
            self.front = {t.number for t in store.front(self.job_id)}
            self.history = _steps(store.hypervolume_history(self.job_id))
            self._loaded = True

    def view(self, trial: TrialRecord) -> ArchView:
        """The trial's architecture view, computed once."""
        if trial.number not in self._views:
            self._views[trial.number] = arch_view(trial.arch_json)
        return self._views[trial.number]

    def select(
        self, states: Sequence[str] | None, on_front: bool | None, sort: str, descending: bool
    ) -> list[TrialRecord]:
        """Trials filtered and ordered as ``Store.trials`` would: by number, or by a metric with the
        trials that lack it last."""
        rows = [
            t for t in self.trials
            if (states is None or t.state in states) and (on_front is None or (t.number in self.front) == on_front)
        ]
        if sort == "number":
            return rows[::-1] if descending else rows
        measured = sorted((t for t in rows if t.values and sort in t.values), key=lambda t: t.values[sort], reverse=descending)
        return measured + [t for t in rows if not (t.values and sort in t.values)]

    def point_sets(self, metrics: list[str]) -> tuple[PointSet, PointSet, PointSet, int, int]:
        """Front, dominated and infeasible trials as chart columns (the last two thinned), and the
        numbers of dominated and infeasible trials."""
        front = [t for t in self.trials if t.number in self.front]
        dominated = [t for t in self.trials if t.state == "complete" and t.number not in self.front]
        infeasible = [t for t in self.trials if t.state == "infeasible"]
        return (
            self._columns(front, metrics), self._columns(_thin(dominated, MAX_DOMINATED), metrics),
            self._columns(_thin(infeasible, MAX_INFEASIBLE), metrics), len(dominated), len(infeasible),
        )

    def _columns(self, trials: list[TrialRecord], metrics: list[str]) -> PointSet:
        views = [self.view(t) for t in trials]
        return PointSet(
            numbers=[t.number for t in trials],
            values=[[t.values[m] for t in trials] for m in metrics],
            dims=[[v.dims[i] for v in views] for i in range(len(DIMENSIONS))],
            hover=[v.hover for v in views],
        )


def _thin(trials: list[TrialRecord], cap: int) -> list[TrialRecord]:
    """Every k-th trial, k the smallest that keeps at most ``cap``: even over the run, and stable
    between refreshes while the count stays in the same band."""
    return trials[:: max(1, math.ceil(len(trials) / cap))]


def _steps(history: list[tuple[int, float]]) -> list[HypervolumePoint]:
    """The history where the hypervolume changed, plus its last point: the same step curve, a
    fraction of the points (a long job records one per feasible trial)."""
    kept = [p for i, p in enumerate(history) if i == 0 or p[1] != history[i - 1][1]]
    if history and kept[-1] != history[-1]:
        kept.append(history[-1])
    return [HypervolumePoint(evaluated=n, hypervolume=hv) for n, hv in kept]


class JobDataCache:
    """The JobData of the most recently read jobs (each holds all its job's trials, so only a few)."""

    def __init__(self, store: Store, size: int = 8) -> None:
        self._store, self._size = store, size
        self._jobs: OrderedDict[int, JobData] = OrderedDict()
        self._locks: dict[int, threading.Lock] = {}
        self._lock = threading.Lock()

    @contextmanager
    def fresh(self, job_id: int) -> Iterator[JobData]:
        """The job's data, refreshed, held for the caller alone until the block ends."""
        with self._lock:
            data = self._jobs.pop(job_id, None) or JobData(job_id)
            self._jobs[job_id] = data
            while len(self._jobs) > self._size:
                evicted, _ = self._jobs.popitem(last=False)
                self._locks.pop(evicted, None)
            lock = self._locks.setdefault(job_id, threading.Lock())
        with lock:
            data.refresh(self._store)
            yield data
