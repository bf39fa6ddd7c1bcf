"""The controller: runs one job to its budget, keeping every worker busy.

    Strategy.ask -> dedupe by arch_id against what the job has -> a new trial, numbered next
    EvaluatorPool.submit -> the trial is running
    outcome -> the trial is complete, infeasible or failed -> Strategy.tell

The controller holds the job's lease, so it alone writes the job's trials and knows them all in memory.
It writes their changes in batches, at most ``FLUSH_S`` seconds late, with ``Store.record_trials`` (one
transaction, Pareto front and hypervolume updated in it): one transaction per trial event made the store
the bottleneck of a job of cheap trials. The store stays the source of truth, so the controller can die
at any moment: ``resume`` re-queues the trials stored as running, rebuilds the strategy from the finished
ones and carries on; trials finished in the last unwritten moment are evaluated again, never twice stored.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from supernas.search.jobspec import JobSpec, objective_directions
from supernas.search.reference import fixed_reference
from supernas.search.store.leases import LeaseLost
from supernas.search.store.records import EVALUATED, TrialUpdate
from supernas.search.store.tables import now
from supernas.search.strategies import make_strategy
from supernas.search.strategies.base import Strategy
from supernas.spaces.architecture import Architecture, sample
from supernas.spaces.spec import load_spec

MAX_ASK_ROUNDS = 20  # proposals that are all duplicates this many times in a row -> random samples
FLUSH_S = 0.2  # trial changes reach the store (and a dashboard) at most this late


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
        holder: str | None = None,
    ) -> None:
        """``holder``: the job's lease holder this controller runs as; a write after the lease passed to
        another controller is refused, and this one stops without touching the job again."""
        self.store, self.job_id, self.spec, self.pool, self.holder = store, job_id, spec, pool, holder
        self.should_stop = should_stop or (lambda: False)
        self.space = load_spec(spec.space)
        self.objectives = objective_directions(spec)
        self.on_progress = on_progress or (lambda p: None)
        self.rng = random.Random(spec.seed + 1)
        library = self._block_library() if spec.strategy.name == "mip" else None
        self.strategy: Strategy = make_strategy(
            self.space, self.objectives, spec.strategy, spec.seed, spec.constraints, library
        )
        # the job as this controller knows it: it holds the job's lease, so no one else adds or finishes
        # trials
        self.known: dict[str, tuple[str, dict[str, float] | None]] = {}  # arch_id -> (state, values)
        self.live: dict[str, TrialUpdate] = {}  # queued and running trials by arch_id, as last changed
        self.queue: list[str] = []  # queued trials' arch_ids, oldest first
        self.inflight: dict[str, Architecture] = {}  # running trials by arch_id
        self.unwritten: dict[
            str, TrialUpdate
        ] = {}  # changes since the last write, in the order they happened
        self.next_number = 0
        self.finished = 0
        self._written = time.monotonic()

    def _block_library(self):
        """Strategy mip's block library: from the store when this supernet, data and workload have one,
        else built here (once, on the controller) and stored for later jobs."""
        from supernas.search.puzzle.library import obtain_library

        s = self.spec
        library, _ = obtain_library(
            self.store, self.space, s.supernet, s.data, s.metric_uses(), s.strategy.heldout_batches, s.seed
        )
        return library

    # ------------------------------------------------------------------ main loop

    def run(self) -> None:
        """Evaluate until the budget is spent.

        KeyboardInterrupt, or ``should_stop()`` turning true (a cancel from the web service), leaves the
        job 'stopped' and resumable: in-flight trials go back to the queue. A lost lease (LeaseLost) leaves
        the job as it is, to the controller that holds it now.
        """
        self.store.requeue_running(self.job_id)
        self._replay_finished_trials()
        self._fix_reference()
        self.store.set_job_status(self.job_id, "running")
        started = time.monotonic()
        try:
            while True:
                if self.should_stop():
                    self._stop("stopped")
                    return
                out_of_time = (
                    self.spec.budget.wall_time_s is not None
                    and time.monotonic() - started >= self.spec.budget.wall_time_s
                )
                if not out_of_time:
                    self._fill_workers()
                if not self.inflight and (out_of_time or self._remaining() <= 0 or not self.pool.starting()):
                    break  # (workers still starting will take the budget's remaining trials)
                for outcome in self.pool.wait(timeout=FLUSH_S if self.unwritten else 1.0):
                    self._record(outcome)
                if time.monotonic() - self._written >= FLUSH_S:
                    self._write()
            self._write()
        except LeaseLost:
            raise  # the job is another controller's now: leave it as it is
        except KeyboardInterrupt:
            self._stop("stopped")
            raise
        except BaseException as e:
            self._stop("failed", error=f"{type(e).__name__}: {e}"[:2000])
            raise
        self.store.set_job_status(self.job_id, "completed")

    def _remaining(self) -> float:
        budget = self.spec.budget.trials
        if budget is None:
            return float("inf")
        return budget - self.finished - len(self.inflight)

    def _fill_workers(self) -> None:
        while self.pool.free_slots() and self._remaining() > 0:
            trial = self._next_trial()
            worker = self.pool.submit(trial.arch_id, trial.arch_json)
            self._change(replace(trial, state="running", worker=worker, started_at=now()))
            self.inflight[trial.arch_id] = Architecture.from_json(trial.arch_json)

    def _next_trial(self) -> TrialUpdate:
        """A queued trial (re-queued after a fault or a crash) or a new proposal from the strategy."""
        if self.queue:
            return self.live[self.queue.pop(0)]
        for _ in range(MAX_ASK_ROUNDS):
            new = self._add_new(self.strategy.ask(1))
            if new:
                return new[0]
        return self._add_new([sample(self.space, self.rng) for _ in range(MAX_ASK_ROUNDS)])[0]

    def _add_new(self, archs: list[Architecture]) -> list[TrialUpdate]:
        """New trials for the architectures this job has not seen; the others are answered from what it
        knows."""
        added = []
        for arch in archs:
            known = self.known.get(arch.arch_id)
            if known is None:
                trial = TrialUpdate(
                    arch.arch_id, self.next_number, arch.to_json(), "queued", created_at=now()
                )
                self.next_number += 1
                self.known[arch.arch_id] = ("queued", None)
                self._change(trial)
                added.append(trial)
            elif known[0] in EVALUATED:
                values = known[1] if known[0] != "failed" else None
                self.strategy.tell(arch, values, self._violation(values))
        return added

    def _change(self, trial: TrialUpdate) -> None:
        """The trial's new state, to be written with the next batch (a change of an unwritten trial
        replaces it)."""
        if trial.state in EVALUATED:
            self.live.pop(trial.arch_id, None)
        else:
            self.live[trial.arch_id] = trial
        self.unwritten.pop(trial.arch_id, None)
        self.unwritten[trial.arch_id] = trial

    def _write(self, check_lease: bool = False) -> None:
        """Write the changes since the last write in one transaction, then report progress (``check_lease``:
        also with nothing to write, so a lost lease raises LeaseLost here)."""
        if self.unwritten or (check_lease and self.holder is not None):
            self.store.record_trials(self.job_id, list(self.unwritten.values()), self.objectives, self.holder)
            self.unwritten.clear()
            self._report()
        self._written = time.monotonic()

    # ------------------------------------------------------------------ outcomes

    def _record(self, outcome) -> None:
        arch = self.inflight.pop(outcome.key)
        trial = self.live[outcome.key]
        if outcome.worker_lost:
            self._change(replace(trial, state="queued", worker=None, started_at=None))
            self.queue.append(outcome.key)
            return
        finished = replace(trial, worker=outcome.worker, finished_at=now())
        if outcome.values is None:
            self._change(replace(finished, state="failed", error=outcome.error))
            self.known[arch.arch_id] = ("failed", None)
            self.strategy.tell(arch, None, 0.0)
        else:
            violation = self._violation(outcome.values)
            state = "complete" if violation == 0.0 else "infeasible"
            self._change(replace(finished, state=state, values=outcome.values))
            self.known[arch.arch_id] = (state, outcome.values)
            self.strategy.tell(arch, outcome.values, violation)
        self.finished += 1

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
            self.next_number = max(self.next_number, trial.number + 1)
            if trial.state == "queued":
                self.live[trial.arch_id] = TrialUpdate(trial.arch_id, trial.number, trial.arch_json, "queued")
                self.queue.append(trial.arch_id)
            elif trial.state in EVALUATED:
                self.finished += 1
                values = trial.values if trial.state != "failed" else None
                self.strategy.tell(Architecture.from_json(trial.arch_json), values, self._violation(values))

    def _stop(self, status: str, error: str | None = None) -> None:
        """Leave the job resumable: what finished is written, every running trial goes back to the queue
        (also one interrupted between submit and bookkeeping), and the job takes ``status``. LeaseLost, and
        nothing written, when the job is another controller's by now."""
        for arch_id in self.inflight:
            self._change(replace(self.live[arch_id], state="queued", worker=None, started_at=None))
        self.inflight.clear()
        self._write(check_lease=True)
        self.store.requeue_running(self.job_id)
        self.store.set_job_status(self.job_id, status, error=error)

    def _report(self) -> None:
        """Progress, read from the store after each write."""
        job = self.store.get_job(self.job_id)
        evaluated = job.n_complete + job.n_infeasible + job.n_failed
        front = self.store.count_trials(self.job_id, on_front=True)
        self.on_progress(Progress(evaluated, self.spec.budget.trials, front, job.hypervolume))
