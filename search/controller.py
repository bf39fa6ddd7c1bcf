"""The controller: runs one job to its budget, keeping every worker busy.

    Strategy.ask -> dedupe by arch_id against the store -> Store.add_trials (queued)
    EvaluatorPool.submit -> Store.mark_running
    outcome -> Store.finish_trial (Pareto front and hypervolume updated in the same transaction)
            -> Strategy.tell

The store is the source of truth, so the controller can die at any moment: ``resume`` re-queues the
trials that were running, rebuilds the strategy from the finished ones and carries on.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from supernas.spaces import Architecture, get_space, sample

from .jobspec import JobSpec, objective_directions
from .reference import fixed_reference
from .records import EVALUATED
from .strategies import Strategy, make_strategy

MAX_ASK_ROUNDS = 20  # proposals that are all duplicates this many times in a row -> random samples


@dataclass
class Progress:
    """What a progress display needs after each finished trial."""

    evaluated: int
    budget: int | None
    front_size: int
    hypervolume: float | None


class Controller:
    def __init__(
        self,
        store,
        job_id: int,
        spec: JobSpec,
        pool,
        on_progress: Callable[[Progress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        self.store, self.job_id, self.spec, self.pool = store, job_id, spec, pool
        self.should_stop = should_stop or (lambda: False)
        self.space = get_space(spec.space)
        self.objectives = objective_directions(spec)
        self.on_progress = on_progress or (lambda p: None)
        self.rng = random.Random(spec.seed + 1)
        library = self._block_library() if spec.strategy.name == "mip" else None
        self.strategy: Strategy = make_strategy(self.space, self.objectives, spec.strategy, spec.seed, spec.constraints, library)
        self.inflight: dict[int, Architecture] = {}  # trial id -> architecture
        # the job as this controller knows it, kept in memory: it holds the job's lease, so no one else
        # adds or finishes trials, and reading them back per trial made a big job slow down as it grew
        self.known: dict[str, tuple[str, dict[str, float] | None]] = {}  # arch_id -> (state, values)
        self.queue: list[tuple[int, str]] = []  # queued (trial id, arch_json), oldest first
        self.finished = 0
        self._reported = 0.0

    def _block_library(self):
        """Strategy mip's block library: from the store when this supernet, data and workload have one, else built
        here (once, on the controller) and stored for later jobs."""
        from .block_library import obtain_library

        s = self.spec
        library, _ = obtain_library(self.store, self.space, s.supernet, s.data, s.metric_uses(),
                                    s.strategy.heldout_batches, s.seed)
        return library

    # ------------------------------------------------------------------ main loop

    def run(self) -> None:
        """Evaluate until the budget is spent.

        KeyboardInterrupt, or ``should_stop()`` turning true (a cancel from the web service), leaves the
        job 'stopped' and resumable: in-flight trials go back to the queue.
        """
        self.store.requeue_running(self.job_id)
        self._replay_finished_trials()
        self._fix_reference()
        self.store.set_job_status(self.job_id, "running")
        started = time.monotonic()
        try:
            while True:
                if self.should_stop():
                    self._requeue_inflight()
                    self.store.set_job_status(self.job_id, "stopped")
                    return
                out_of_time = self.spec.budget.wall_time_s is not None and time.monotonic() - started >= self.spec.budget.wall_time_s
                if not out_of_time:
                    self._fill_workers()
                if not self.inflight and (out_of_time or self._remaining() <= 0 or not self.pool.starting()):
                    break  # (workers still starting will take the budget's remaining trials)
                for outcome in self.pool.wait(timeout=1.0):
                    self._record(outcome)
        except KeyboardInterrupt:
            self._requeue_inflight()
            self.store.set_job_status(self.job_id, "stopped")
            raise
        except BaseException as e:
            self._requeue_inflight()
            self.store.set_job_status(self.job_id, "failed", error=f"{type(e).__name__}: {e}"[:2000])
            raise
        self.store.set_job_status(self.job_id, "completed")

    def _remaining(self) -> float:
        budget = self.spec.budget.trials
        if budget is None:
            return float("inf")
        return budget - self.finished - len(self.inflight)

    def _fill_workers(self) -> None:
        while self.pool.free_slots() and self._remaining() > 0:
            trial_id, arch_json = self._next_trial()
            worker = self.pool.submit(trial_id, arch_json)
            self.store.mark_running(trial_id, worker)
            self.inflight[trial_id] = Architecture.from_json(arch_json)

    def _next_trial(self) -> tuple[int, str]:
        """A queued trial (re-queued after a fault or a crash) or a new proposal from the strategy."""
        if self.queue:
            return self.queue.pop(0)
        for _ in range(MAX_ASK_ROUNDS):
            new = self._add_new(self.strategy.ask(1))
            if new:
                return new[0]
        return self._add_new([sample(self.space, self.rng) for _ in range(MAX_ASK_ROUNDS)])[0]

    def _add_new(self, archs: list[Architecture]) -> list[tuple[int, str]]:
        """Store the architectures this job has not seen; answer the others from what it knows."""
        fresh = {}
        for arch in archs:
            known = self.known.get(arch.arch_id)
            if known is None:
                fresh[arch.arch_id] = arch
            elif known[0] in EVALUATED:
                values = known[1] if known[0] != "failed" else None
                self.strategy.tell(arch, values, self._violation(values))
        added = self.store.add_trials(self.job_id, [(i, a.to_json()) for i, a in fresh.items()]) if fresh else []
        for trial in added:
            self.known[trial.arch_id] = ("queued", None)
        return [(t.id, t.arch_json) for t in added]

    # ------------------------------------------------------------------ outcomes

    def _record(self, outcome) -> None:
        arch = self.inflight.pop(outcome.key)
        if outcome.worker_lost:
            self.store.requeue(outcome.key)
            self.queue.append((outcome.key, arch.to_json()))
            return
        if outcome.values is None:
            self.store.fail_trial(outcome.key, outcome.error)
            self.known[arch.arch_id] = ("failed", None)
            self.strategy.tell(arch, None, 0.0)
        else:
            violation = self._violation(outcome.values)
            self.store.finish_trial(outcome.key, outcome.values, violation == 0.0, self.objectives, outcome.worker)
            self.known[arch.arch_id] = ("complete" if violation == 0.0 else "infeasible", outcome.values)
            self.strategy.tell(arch, outcome.values, violation)
        self.finished += 1
        self._report()

    def _violation(self, values: dict[str, float] | None) -> float:
        if not values:
            return 0.0
        return sum(c.violation(values[c.metric]) for c in self.spec.constraints)

    def _fix_reference(self) -> None:
        """Fix the hypervolume reference before the first trial (``reference.py`` says how); a job that has
        one keeps it, so its history stays comparable and monotone."""
        if self.store.get_job(self.job_id).reference is None:
            reference = fixed_reference(self.spec, self.space, self.objectives, self.pool.evaluate_now)
            self.store.set_reference(self.job_id, reference)

    def _replay_finished_trials(self) -> None:
        """Rebuild the strategy, and what the controller knows of the job, from the stored trials."""
        for trial in self.store.trials(self.job_id):
            self.known[trial.arch_id] = (trial.state, trial.values)
            if trial.state == "queued":
                self.queue.append((trial.id, trial.arch_json))
            elif trial.state in EVALUATED:
                self.finished += 1
                values = trial.values if trial.state != "failed" else None
                self.strategy.tell(Architecture.from_json(trial.arch_json), values, self._violation(values))

    def _requeue_inflight(self) -> None:
        """Back to the queue: every running trial of the job, also one interrupted between submit and bookkeeping."""
        self.store.requeue_running(self.job_id)
        self.inflight.clear()

    def _report(self) -> None:
        """Progress, read from the store at most 5 times a second (and at the budget's end)."""
        if time.monotonic() - self._reported < 0.2 and self._remaining() > 0:
            return
        self._reported = time.monotonic()
        job = self.store.get_job(self.job_id)
        evaluated = job.n_complete + job.n_infeasible + job.n_failed
        front = len(self.store.front(self.job_id))
        self.on_progress(Progress(evaluated, self.spec.budget.trials, front, job.hypervolume))
