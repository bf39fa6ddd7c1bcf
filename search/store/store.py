"""The Store: the only code that talks SQL. Everything else gets plain, frozen records.

One SQLAlchemy URL selects the database: SQLite (the default, a file in ``SUPERNAS_HOME``) for one
machine, PostgreSQL (``postgresql://user:password@host/db``, through psycopg2) when a dashboard or several
machines share a job. Every table is prefixed ``supernas_`` so the same database can hold Optuna's tables.

Each public method is one transaction. Writes that touch a job's trials lock the job's row first
(``SELECT ... FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so two writers of one job take
turns and trial numbers, the Pareto front and the hypervolume history stay consistent. Reads never
block writers: SQLite runs in WAL mode and PostgreSQL reads use REPEATABLE READ snapshots, so a
dashboard reading while the controller writes sees a consistent state and never "database is locked".

The pieces around it: ``records`` (what callers get back), ``tables`` (the SQL models and migrations),
``database`` (engines and sessions), ``fronts`` (keeping the stored front and hypervolume in step).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session

from supernas.core.errors import NotFoundError
from supernas.search.store.artifacts import ArtifactStore
from supernas.search.store.batches import write_trials
from supernas.search.store.database import default_url, make_engine, masked, one_line, session_factories
from supernas.search.store.fronts import set_front
from supernas.search.store.lease_store import LeaseStore
from supernas.search.store.leases import LeaseLost
from supernas.search.store.reads import TrialReads, job_records, trial_record
from supernas.search.store.records import (
    JOB_STATUSES,
    JobRecord,
    TrialRecord,
    TrialUpdate,
)
from supernas.search.store.tables import (
    JobRow,
    LeaseRow,
    StoreError,
    TrialRow,
    migrate,
    now,
)


def open_store(url: str | None = None) -> Store:
    """The store at ``url``, else ``SUPERNAS_DB``, else ``sqlite:///$SUPERNAS_HOME/supernas.db``."""
    return Store(url or default_url())


# ---------------------------------------------------------------------------------------------- store


class Store(TrialReads, LeaseStore, ArtifactStore):
    """Jobs, their trials, Pareto fronts and hypervolume histories in one SQL database.

    A trial is one architecture evaluated in one job. Its life cycle::

        queued --mark_running--> running --finish_trial--> complete | infeasible
                                         --fail_trial----> failed
                                         --requeue-------> queued

    ``add_trials`` creates trials as ``queued``, numbered 0, 1, ... per job in creation order, and never
    adds an ``arch_id`` the job already has, so no architecture is evaluated twice. ``finish_trial``
    stores the values and, in the same transaction, updates the job's Pareto front (``on_front``) and
    appends a hypervolume point, so the stored front always matches the stored trials. A complete trial
    satisfied the job's constraints; an infeasible one has values but violated them and never joins the
    front. A crash leaves trials ``running`` with no worker behind them: ``requeue_running`` puts them
    back in the queue when the job resumes, and finished trials are never touched again.
    """

    def __init__(self, url: str) -> None:
        self.url_display = masked(url)
        self._engine: Engine | None = None
        try:
            self._engine = make_engine(url)
            self._reads, self._writes = session_factories(self._engine)
            with self._writes.begin() as session:
                migrate(session.connection(), self.url_display)
        except BaseException as e:
            self.close()
            if isinstance(e, (ArgumentError, ValueError, ImportError, DBAPIError)):
                raise StoreError(f"cannot open database {self.url_display}: {masked(one_line(e))}") from None
            raise

    def close(self) -> None:
        """Close every pooled connection."""
        if self._engine is not None:
            self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url_display!r})"

    # ------------------------------------------------------------------------------------ sessions

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with self._reads.begin() as session:
            yield session

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with self._writes.begin() as session:
            yield session

    # ------------------------------------------------------------------------------------ jobs

    def create_job(self, name: str, space: str, spec: dict, budget_trials: int | None) -> JobRecord:
        """A new job in status ``queued``; ``spec`` is stored whole, as JSON."""
        with self._write() as session:
            row = JobRow(
                name=name,
                space=space,
                spec_json=json.dumps(spec),
                status="queued",
                budget_trials=budget_trials,
            )
            session.add(row)
            session.flush()
            return job_records(session, [row])[0]

    def get_job(self, job_id_or_name: int | str) -> JobRecord:
        """A job by id, or by name (names are not unique: the newest job with that name)."""
        with self._read() as session:
            if isinstance(job_id_or_name, int):
                row = session.get(JobRow, job_id_or_name)
            else:
                query = (
                    select(JobRow).where(JobRow.name == job_id_or_name).order_by(JobRow.id.desc()).limit(1)
                )
                row = session.scalar(query)
            if row is None:
                raise NotFoundError(
                    f"no job '{job_id_or_name}' in {self.url_display} (`supernas jobs` lists the jobs there)"
                )
            return job_records(session, [row])[0]

    def job_spec(self, job_id: int) -> dict:
        """The job's stored spec alone: one indexed read, where ``get_job`` also counts the job's trials."""
        with self._read() as session:
            spec_json = session.scalar(select(JobRow.spec_json).where(JobRow.id == job_id))
        if spec_json is None:
            raise NotFoundError(
                f"no job '{job_id}' in {self.url_display} (`supernas jobs` lists the jobs there)"
            )
        return json.loads(spec_json)

    def list_jobs(self) -> list[JobRecord]:
        """Every job, oldest first."""
        with self._read() as session:
            return job_records(session, list(session.scalars(select(JobRow).order_by(JobRow.id))))

    def set_job_status(self, job_id: int, status: str, error: str | None = None) -> None:
        """Set the status (one of ``JOB_STATUSES``) and the error text (cleared when None)."""
        if status not in JOB_STATUSES:
            raise ValueError(f"job status {status!r} is not one of {', '.join(JOB_STATUSES)}")
        with self._write() as session:
            job = self._lock_job(session, job_id)
            job.status, job.error = status, error

    def set_reference(self, job_id: int, reference: Sequence[float]) -> list[float]:
        """Fix the job's hypervolume reference point (minimization form) unless it is already fixed;
        returns the stored one. Fixed once, so every hypervolume in the history is comparable."""
        with self._write() as session:
            job = self._lock_job(session, job_id)
            if job.reference_json is None:
                job.reference_json = json.dumps([float(x) for x in reference])
            return json.loads(job.reference_json)

    def _lock_job(self, session: Session, job_id: int) -> JobRow:
        """The job's row, locked until the transaction ends: the writers of one job take turns."""
        job = session.scalar(select(JobRow).where(JobRow.id == job_id).with_for_update())
        if job is None:
            raise NotFoundError(f"no job '{job_id}' in {self.url_display}")
        return job

    # ------------------------------------------------------------------------------------ trials: writes

    def add_trials(self, job_id: int, archs: Sequence[tuple[str, str]]) -> list[TrialRecord]:
        """Queue ``(arch_id, arch_json)`` pairs the job does not have yet (repeats within ``archs``
        too are added once), numbered after the job's last trial; returns only the new trials."""
        with self._write() as session:
            self._lock_job(session, job_id)
            wanted = dict(archs)  # arch_id -> arch_json, first occurrence order
            existing = select(TrialRow.arch_id).where(
                TrialRow.job_id == job_id, TrialRow.arch_id.in_(list(wanted))
            )
            known = set(session.scalars(existing))
            last = session.scalar(select(func.max(TrialRow.number)).where(TrialRow.job_id == job_id))
            first = 0 if last is None else last + 1
            new = [arch_id for arch_id in wanted if arch_id not in known]
            rows = [
                TrialRow(
                    job_id=job_id,
                    number=first + i,
                    arch_id=arch_id,
                    arch_json=wanted[arch_id],
                    state="queued",
                )
                for i, arch_id in enumerate(new)
            ]
            session.add_all(rows)
            session.flush()
            return [trial_record(row) for row in rows]

    def mark_running(self, trial_id: int, worker: str) -> None:
        """A worker started evaluating the queued trial."""
        with self._write() as session:
            trial = self._trial_for_update(session, trial_id, ("queued",))
            trial.state, trial.worker, trial.started_at = "running", worker, now()

    def finish_trial(
        self,
        trial_id: int,
        values: dict[str, float],
        feasible: bool,
        objectives: Sequence[tuple[str, str]],
        worker: str | None = None,
    ) -> None:
        """Store the trial's metric values as ``complete`` (``infeasible`` when it violated a constraint).

        ``objectives`` are ``(metric, "minimize" | "maximize")`` pairs. For a feasible trial, the job's
        front becomes the non-dominated subset of the old front plus this trial (a trial off the front
        is dominated by one on it, so nothing else can come back), and when the job has a reference point
        the new front's hypervolume is appended to its history. ``worker``, when given, is the process
        that computed the values (it replaces the one credited at submission).
        """
        with self._write() as session:
            trial = self._trial_for_update(session, trial_id, ("queued", "running"))
            finished = TrialUpdate(
                trial.arch_id,
                trial.number,
                trial.arch_json,
                "complete" if feasible else "infeasible",
                worker=worker or trial.worker,
                values=values,
                started_at=trial.started_at,
                finished_at=now(),
            )
            write_trials(session, session.get(JobRow, trial.job_id), [finished], objectives)

    def fail_trial(self, trial_id: int, error: str) -> None:
        """The evaluation raised: keep the error; the architecture stays in the job (never retried)."""
        with self._write() as session:
            trial = self._trial_for_update(session, trial_id, ("queued", "running"))
            trial.error = error
            _finish(trial, "failed")

    def record_trials(
        self,
        job_id: int,
        updates: Sequence[TrialUpdate],
        objectives: Sequence[tuple[str, str]],
        holder: str | None = None,
    ) -> None:
        """Write a controller's batch of trial changes in one transaction, in the order they happened: new
        trials are inserted (queued, running or already finished), the job's queued and running ones take
        their new state; the front and hypervolume history end as if each had been written on its own.

        ``holder``: the job's lease holder writing; when the lease has passed to another controller
        meanwhile, nothing is written and LeaseLost says who holds it (the job is theirs now).
        """
        with self._write() as session:
            job = self._lock_job(session, job_id)
            if holder is not None:
                lease = session.get(LeaseRow, job_id)
                if lease is None or lease.holder != holder:
                    raise LeaseLost(
                        f"job {job_id} is no longer run by {holder}"
                        + ("" if lease is None else f"; {lease.holder} took it over")
                    )
            write_trials(session, job, updates, objectives)

    def requeue(self, trial_id: int) -> None:
        """Put a running trial back in the queue (its worker was lost); a queued trial stays queued."""
        with self._write() as session:
            trial = self._trial_for_update(session, trial_id, ("queued", "running"))
            trial.state, trial.worker, trial.started_at = "queued", None, None

    def requeue_running(self, job_id: int) -> int:
        """Re-queue every running trial of the job (after a crash, before resuming); returns how many."""
        with self._write() as session:
            self._lock_job(session, job_id)
            result = session.execute(
                update(TrialRow)
                .where(TrialRow.job_id == job_id, TrialRow.state == "running")
                .values(state="queued", worker=None, started_at=None)
            )
            return result.rowcount

    def rebuild_front(self, job_id: int, objectives: Sequence[tuple[str, str]]) -> list[TrialRecord]:
        """Recompute ``on_front`` from all complete trials (after a migration or a change of objectives);
        returns the front. The hypervolume history is left as it is."""
        with self._write() as session:
            self._lock_job(session, job_id)
            session.execute(update(TrialRow).where(TrialRow.job_id == job_id).values(on_front=False))
            complete = list(
                session.scalars(
                    select(TrialRow).where(TrialRow.job_id == job_id, TrialRow.state == "complete")
                )
            )
            set_front(complete, objectives)
            return [trial_record(row) for row in sorted(complete, key=lambda row: row.number) if row.on_front]

    def _trial_for_update(self, session: Session, trial_id: int, allowed: tuple[str, ...]) -> TrialRow:
        """The trial, after locking its job; a trial in another state is a caller bug (ValueError)."""
        job_id = session.scalar(select(TrialRow.job_id).where(TrialRow.id == trial_id))
        if job_id is None:
            raise NotFoundError(f"no trial with id {trial_id} in {self.url_display}")
        self._lock_job(session, job_id)
        trial = session.get(TrialRow, trial_id)
        if trial.state not in allowed:
            raise ValueError(f"trial {trial_id} is {trial.state}; expected {' or '.join(allowed)}")
        return trial

    # ------------------------------------------------------------------------------------ bulk import

    def import_trials(
        self,
        job_id: int,
        trials: Sequence[tuple[str, str, dict[str, float] | None, bool]],
        objectives: Sequence[tuple[str, str]],
    ) -> int:
        """Append evaluated trials in one transaction: ``(arch_id, arch_json, values, feasible)`` each,
        ``values`` None for a failed one; returns how many were added.

        The stored state ends as if each trial had been added and finished one by one, in order
        (numbers, ``on_front``, one hypervolume point per feasible trial when the job has a reference),
        at a fraction of the cost: for trials scored elsewhere, and for benchmarks of big jobs.
        Architectures the job already has are skipped.
        """
        with self._write() as session:
            job = self._lock_job(session, job_id)
            known = set(session.scalars(select(TrialRow.arch_id).where(TrialRow.job_id == job_id)))
            new = list(
                {
                    arch_id: (arch_id, arch_json, values, feasible)
                    for arch_id, arch_json, values, feasible in trials
                    if arch_id not in known
                }.values()
            )
            last = session.scalar(select(func.max(TrialRow.number)).where(TrialRow.job_id == job_id))
            stamp, first = now(), 0 if last is None else last + 1
            updates = [
                TrialUpdate(
                    arch_id,
                    first + i,
                    arch_json,
                    "failed" if values is None else "complete" if feasible else "infeasible",
                    values=values,
                    error="imported as failed" if values is None else None,
                    created_at=stamp,
                    started_at=stamp,
                    finished_at=stamp,
                )
                for i, (arch_id, arch_json, values, feasible) in enumerate(new)
            ]
            write_trials(session, job, updates, objectives)
            return len(updates)


def _finish(trial: TrialRow, state: str) -> None:
    trial.state, trial.finished_at = state, now()
    if trial.started_at is not None:
        trial.duration_s = (trial.finished_at - trial.started_at).total_seconds()
