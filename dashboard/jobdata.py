"""An in-memory mirror of a job's trials, so the pages' big reads (chart points, tables sorted by a
metric) cost milliseconds on a job with tens of thousands of trials.

A job the cache has not read yet (the first view after a server start) is served from the store
directly, reading only what the page needs (:func:`page_point_sets`: the front, an even sample of the
other trials by number, the counts), while the cache reads the job in the background.

The cache stays correct cheaply because of how the store evolves: trial numbers are dense from 0, a finished
trial never changes again except for its ``on_front`` flag, and that flag and the hypervolume history
only change when a trial finishes. A refresh therefore reads just the trials numbered from the first
unfinished one on, and re-reads the (small, indexed) front and the history only when something finished.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from supernas.dashboard.archview import DIMENSIONS, ArchView, arch_view
from supernas.dashboard.models import HypervolumePoint, PointSet
from supernas.search.store.records import EVALUATED, TrialPoint, TrialRecord
from supernas.search.store.store import Store

log = logging.getLogger("supernas.dashboard")

MAX_DOMINATED = 2000  # chart points per set above which a set is thinned (more looks the same and costs more)
MAX_INFEASIBLE = 500


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
            self.history = hypervolume_steps(store, self.job_id)
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
            t
            for t in self.trials
            if (states is None or t.state in states)
            and (on_front is None or (t.number in self.front) == on_front)
        ]
        if sort == "number":
            return rows[::-1] if descending else rows
        measured = sorted(
            (t for t in rows if t.values and sort in t.values),
            key=lambda t: t.values[sort],
            reverse=descending,
        )
        return measured + [t for t in rows if not (t.values and sort in t.values)]

    def point_sets(self, metrics: list[str]) -> tuple[PointSet, PointSet, PointSet, int, int]:
        """Front, dominated and infeasible trials as chart columns (the last two thinned), and the
        numbers of dominated and infeasible trials."""
        front = [t for t in self.trials if t.number in self.front]
        dominated = [t for t in self.trials if t.state == "complete" and t.number not in self.front]
        infeasible = [t for t in self.trials if t.state == "infeasible"]
        return (
            columns(front, metrics, self.view),
            columns(_thin(dominated, MAX_DOMINATED), metrics, self.view),
            columns(_thin(infeasible, MAX_INFEASIBLE), metrics, self.view),
            len(dominated),
            len(infeasible),
        )


def columns(
    trials: Sequence[TrialRecord | TrialPoint], metrics: list[str], view=lambda t: arch_view(t.arch_json)
) -> PointSet:
    views = [view(t) for t in trials]
    return PointSet(
        numbers=[t.number for t in trials],
        values=[[t.values[m] for t in trials] for m in metrics],
        dims=[[v.dims[i] for v in views] for i in range(len(DIMENSIONS))],
        hover=[v.hover for v in views],
    )


def thinning_step(count: int, cap: int) -> int:
    """Keep the trials whose number is a multiple of this: about ``cap`` of ``count``, even over the run."""
    return max(1, math.ceil(count / cap))


def _thin(trials: list[TrialRecord], cap: int) -> list[TrialRecord]:
    """The trials a chart shows of a set: those numbered by a multiple of the set's thinning step (the
    same sample the store gives :func:`page_point_sets`, and stable while the count stays in its band)."""
    step = thinning_step(len(trials), cap)
    return [t for t in trials if t.number % step == 0]


def page_point_sets(
    store: Store, job_id: int, metrics: list[str]
) -> tuple[PointSet, PointSet, PointSet, int, int]:
    """What ``JobData.point_sets`` gives, read from the store: the front and the counts by indexed
    reads, and only the sampled dominated and infeasible trials, only what a chart shows of each."""
    n_front = store.count_trials(job_id, ["complete"], on_front=True)
    n_dominated, n_infeasible = (
        store.count_trials(job_id, ["complete"]) - n_front,
        store.count_trials(job_id, ["infeasible"]),
    )
    front = store.trial_points(job_id, ["complete"], on_front=True)
    dominated = store.trial_points(
        job_id, ["complete"], on_front=False, every=thinning_step(n_dominated, MAX_DOMINATED)
    )
    infeasible = store.trial_points(job_id, ["infeasible"], every=thinning_step(n_infeasible, MAX_INFEASIBLE))
    return (
        columns(front, metrics),
        columns(dominated, metrics),
        columns(infeasible, metrics),
        n_dominated,
        n_infeasible,
    )


def hypervolume_steps(store: Store, job_id: int) -> list[HypervolumePoint]:
    """The job's hypervolume step curve (``Store.hypervolume_steps``: a fraction of its points)."""
    return [HypervolumePoint(evaluated=n, hypervolume=hv) for n, hv in store.hypervolume_steps(job_id)]


class JobDataCache:
    """The JobData of the most recently read jobs (each holds all its job's trials, so only a few)."""

    LOAD_DELAY_S = 1.0  # a job's first view is answered from the store before the cache starts reading it

    def __init__(self, store: Store, size: int = 8) -> None:
        self._store, self._size = store, size
        self._jobs: OrderedDict[int, JobData] = OrderedDict()
        self._locks: dict[int, threading.Lock] = {}
        self._lock = threading.Lock()
        self._loading: set[int] = set()

    def ready(self, job_id: int) -> bool:
        """Whether the job's trials are in memory (``fresh`` then costs a short catch-up). If not, they
        are read in the background, shortly, so the reads that answer the first view run first: the
        caller answers from the store meanwhile."""
        with self._lock:
            data = self._jobs.get(job_id)
            if data is not None and data._loaded:
                return True
            if job_id not in self._loading:
                self._loading.add(job_id)
                timer = threading.Timer(self.LOAD_DELAY_S, self._load, args=(job_id,))
                timer.daemon = True
                timer.start()
            return False

    def _load(self, job_id: int) -> None:
        try:
            with self.fresh(job_id):
                pass
        except Exception:  # a convenience only: requests read what they need themselves
            log.exception("reading job %s into the trial cache failed", job_id)
        finally:
            with self._lock:
                self._loading.discard(job_id)

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
