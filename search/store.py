"""The Store: the only code that talks SQL. Everything else gets plain, frozen records.

One SQLAlchemy URL selects the database: SQLite (the default, a file in ``SUPERNAS_HOME``) for one
machine, PostgreSQL (``postgresql://user:password@host/db``, through psycopg2) when a dashboard or several
machines share a job. Every table is prefixed ``supernas_`` so the same database can hold Optuna's tables.

Each public method is one transaction. Writes that touch a job's trials lock the job's row first
(``SELECT ... FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so two writers of one job take
turns and trial numbers, the Pareto front and the hypervolume history stay consistent. Reads never
block writers: SQLite runs in WAL mode and PostgreSQL reads use REPEATABLE READ snapshots, so a
dashboard reading while the controller writes sees a consistent state and never "database is locked".
"""

from __future__ import annotations

import json
import math
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
from sqlalchemy import (
    BigInteger, Column, DateTime, ForeignKey, Index, Integer, MetaData, Select, String, Table, Text, UniqueConstraint,
    create_engine, event, false, func, inspect, select, text, update,
)
from sqlalchemy.engine import Connection, Engine, Row, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from supernas.spaces.errors import NotFoundError, SupernasError
from supernas.spaces.paths import supernas_home

from .pareto import hypervolume, minimization_vector, non_dominated

JOB_STATUSES = ("queued", "running", "stopped", "completed", "failed")
TRIAL_STATES = ("queued", "running", "complete", "failed", "infeasible")
EVALUATED = ("complete", "infeasible", "failed")

SCHEMA_VERSION = 2
# MIGRATIONS[v] upgrades a database at version v - 1 to v, inside the opening transaction. A fresh
# database is created from the models below at SCHEMA_VERSION directly, so version 1 needs no entry.
# Each migration writes its own frozen DDL (never the current models, which later versions may change).
MIGRATIONS: dict[int, Callable[[Connection], None]] = {}  # filled in below the models

_WRITE = "supernas_write"  # execution option: this transaction will write (BEGIN IMMEDIATE on SQLite)
_MIGRATION_LOCK = 0x5E9E9A5  # PostgreSQL advisory lock key: one process migrates at a time


class StoreError(SupernasError):
    """The database cannot be opened or used: bad URL, unreachable server, schema from a newer supernas."""


# ---------------------------------------------------------------------------------------------- records


@dataclass(frozen=True)
class JobRecord:
    """A job as stored, with its trial counts by state and its latest hypervolume (None before any)."""

    id: int
    name: str
    space: str
    spec: dict
    status: str
    budget_trials: int | None
    reference: list[float] | None
    error: str | None
    created_at: datetime
    updated_at: datetime
    n_complete: int
    n_infeasible: int
    n_failed: int
    n_queued: int
    n_running: int
    hypervolume: float | None


@dataclass(frozen=True)
class VerifiedValue:
    """One metric of a trial as searched and as re-measured on its checkpoint (``measured`` None: not
    re-measured, ``note`` says why). ``deterministic``: the two must agree to float rounding."""

    metric: str
    searched: float | None
    measured: float | None
    method: str
    deterministic: bool
    spread: float | None = None  # timed metrics: (p90 - p10) / median of the runs
    note: str | None = None

    @property
    def error(self) -> float | None:
        """Relative error |measured - searched| / |searched| (absolute when searched is 0)."""
        if self.measured is None or self.searched is None:
            return None
        difference = abs(self.measured - self.searched)
        return difference / abs(self.searched) if self.searched != 0 else difference


@dataclass(frozen=True)
class VerificationRecord:
    """A trial's checkpoint and its metrics re-measured on it, as stored (one per verification run)."""

    id: int
    job_id: int
    trial_id: int
    trial_number: int
    checkpoint: str
    checkpoint_bytes: int  # size of the checkpoint's model.safetensors file
    machine: dict
    values: dict[str, VerifiedValue]
    created_at: datetime


@dataclass(frozen=True)
class TrialRecord:
    """One architecture in one job. ``values`` is None until the trial finished with metric values."""

    id: int
    job_id: int
    number: int
    arch_id: str
    arch_json: str
    state: str
    values: dict[str, float] | None
    worker: str | None
    error: str | None
    on_front: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None


# ---------------------------------------------------------------------------------------------- tables


class UTCDateTime(TypeDecorator[datetime]):
    """Naive UTC in the database (SQLite has no time zones), aware UTC in Python, on every backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {datetime: UTCDateTime, str: String()}


class SchemaRow(Base):
    __tablename__ = "supernas_schema"

    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)


class JobRow(Base):
    __tablename__ = "supernas_jobs"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    name: Mapped[str]
    space: Mapped[str]
    spec_json: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    budget_trials: Mapped[int | None]
    reference_json: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=_now)
    updated_at: Mapped[datetime] = mapped_column(default=_now, onupdate=_now)


class TrialRow(Base):
    __tablename__ = "supernas_trials"
    __table_args__ = (
        UniqueConstraint("job_id", "arch_id"),  # no architecture is evaluated twice in one job
        UniqueConstraint("job_id", "number"),
        Index("ix_supernas_trials_job_state", "job_id", "state"),
        Index("ix_supernas_trials_job_front", "job_id", "on_front"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("supernas_jobs.id"), index=True)
    number: Mapped[int]
    arch_id: Mapped[str] = mapped_column(String(12))
    arch_json: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    values_json: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None]
    error: Mapped[str | None] = mapped_column(Text)
    on_front: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=_now)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    duration_s: Mapped[float | None]


class HypervolumeRow(Base):
    __tablename__ = "supernas_hypervolume"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("supernas_jobs.id"), index=True)
    n_evaluated: Mapped[int]
    hypervolume: Mapped[float]
    recorded_at: Mapped[datetime] = mapped_column(default=_now)


class PredictorRow(Base):
    __tablename__ = "supernas_predictors"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    space: Mapped[str]
    kind: Mapped[str]
    fingerprint: Mapped[str]
    path: Mapped[str] = mapped_column(Text)
    report_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=_now)


class CheckpointRow(Base):
    __tablename__ = "supernas_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("supernas_jobs.id"), index=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("supernas_trials.id"))
    path: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=_now)


class VerificationRow(Base):
    """A trial re-measured on its extracted checkpoint; re-verifying appends a row (the newest counts)."""

    __tablename__ = "supernas_verifications"
    __table_args__ = (Index("ix_supernas_verifications_job_trial", "job_id", "trial_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("supernas_jobs.id"))
    trial_id: Mapped[int] = mapped_column(ForeignKey("supernas_trials.id"))
    checkpoint: Mapped[str] = mapped_column(Text)
    checkpoint_bytes: Mapped[int] = mapped_column(BigInteger)
    machine_json: Mapped[str] = mapped_column(Text)
    values_json: Mapped[str] = mapped_column(Text)  # {metric: {searched, measured, method, deterministic, spread, note}}
    created_at: Mapped[datetime] = mapped_column(default=_now)


def _add_verifications(connection: Connection) -> None:
    """Version 2: the supernas_verifications table, as version 2 defines it."""
    metadata = MetaData(naming_convention=Base.metadata.naming_convention)
    Table("supernas_jobs", metadata, Column("id", Integer, primary_key=True))
    Table("supernas_trials", metadata, Column("id", Integer, primary_key=True))
    table = Table(
        "supernas_verifications", metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("job_id", Integer, ForeignKey("supernas_jobs.id"), nullable=False),
        Column("trial_id", Integer, ForeignKey("supernas_trials.id"), nullable=False),
        Column("checkpoint", Text, nullable=False),
        Column("checkpoint_bytes", BigInteger, nullable=False),
        Column("machine_json", Text, nullable=False),
        Column("values_json", Text, nullable=False),
        Column("created_at", DateTime, nullable=False),
        Index("ix_supernas_verifications_job_trial", "job_id", "trial_id"),
    )
    table.create(connection)


MIGRATIONS[2] = _add_verifications


# ---------------------------------------------------------------------------------------------- engine


def default_url() -> str:
    """``SUPERNAS_DB`` if set, else a SQLite file in ``SUPERNAS_HOME``."""
    return os.environ.get("SUPERNAS_DB") or f"sqlite:///{supernas_home() / 'supernas.db'}"


def _masked(url: str) -> str:
    """``url`` with any password replaced by ``***``, for messages and displays."""
    url = re.sub(r"(://[^/@:]*):[^/@]*@", r"\1:***@", url)
    return re.sub(r"([?&]password=)[^&]*", r"\1***", url)


def _one_line(error: BaseException) -> str:
    """The driver's own message when there is one (SQLAlchemy's adds a link and the SQL), on one line."""
    return " ".join(str(getattr(error, "orig", None) or error).split())


def make_engine(url: str) -> Engine:
    """An engine for ``url``; a bare ``postgresql://`` means psycopg2 (SQLAlchemy 2.1 defaults to psycopg 3)."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg2")
    postgres = parsed.get_backend_name() == "postgresql"
    # a server may restart under a long job: check pooled connections; and do not wait minutes on a dead host
    engine = create_engine(parsed, pool_pre_ping=postgres, connect_args={"connect_timeout": 10} if postgres else {})
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection, _record) -> None:
    """WAL lets readers and one writer work at once; busy_timeout makes writers queue instead of failing.

    ``isolation_level = None`` stops the sqlite3 module from issuing its own (late, DML-only) BEGIN, so
    ``_sqlite_begin`` decides when and how a transaction starts.
    """
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in ("busy_timeout = 30000", "journal_mode = WAL", "foreign_keys = ON"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    """A writing transaction takes the write lock up front: upgrading a read transaction to a write one
    fails at once (without waiting) when another writer committed in between."""
    connection.exec_driver_sql("BEGIN IMMEDIATE" if connection.get_execution_options().get(_WRITE) else "BEGIN")


def open_store(url: str | None = None) -> Store:
    """The store at ``url``, else ``SUPERNAS_DB``, else ``sqlite:///$SUPERNAS_HOME/supernas.db``."""
    return Store(url or default_url())


# ---------------------------------------------------------------------------------------------- store


class Store:
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
        self.url_display = _masked(url)
        self._engine: Engine | None = None
        try:
            self._engine = make_engine(url)
            postgres = self._engine.dialect.name == "postgresql"
            readers = self._engine.execution_options(isolation_level="REPEATABLE READ") if postgres else self._engine
            writers = self._engine.execution_options(**{_WRITE: True})
            self._reads, self._writes = sessionmaker(readers), sessionmaker(writers)
            with writers.begin() as connection:
                self._migrate(connection)
        except BaseException as e:
            self.close()
            if isinstance(e, (ArgumentError, ValueError, ImportError, DBAPIError)):
                raise StoreError(f"cannot open database {self.url_display}: {_masked(_one_line(e))}") from None
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

    # ------------------------------------------------------------------------------------ schema

    def _migrate(self, connection: Connection) -> None:
        """Create the tables in a fresh database, or apply the migrations it has not seen yet."""
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        fresh = not inspect(connection).has_table(SchemaRow.__tablename__)
        version = None if fresh else connection.scalar(select(SchemaRow.version))
        if version is None:
            Base.metadata.create_all(connection)  # only the tables that are missing
            connection.execute(SchemaRow.__table__.insert().values(version=SCHEMA_VERSION))
            return
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"database {self.url_display} has supernas schema version {version}; this supernas knows "
                f"versions up to {SCHEMA_VERSION}: upgrade supernas"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            MIGRATIONS[target](connection)
        if version < SCHEMA_VERSION:
            connection.execute(update(SchemaRow).values(version=SCHEMA_VERSION))

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
            row = JobRow(name=name, space=space, spec_json=json.dumps(spec), status="queued", budget_trials=budget_trials)
            session.add(row)
            session.flush()
            return _job_records(session, [row])[0]

    def get_job(self, job_id_or_name: int | str) -> JobRecord:
        """A job by id, or by name (names are not unique: the newest job with that name)."""
        with self._read() as session:
            if isinstance(job_id_or_name, int):
                row = session.get(JobRow, job_id_or_name)
            else:
                query = select(JobRow).where(JobRow.name == job_id_or_name).order_by(JobRow.id.desc()).limit(1)
                row = session.scalar(query)
            if row is None:
                raise NotFoundError(f"no job '{job_id_or_name}' in {self.url_display}")
            return _job_records(session, [row])[0]

    def list_jobs(self) -> list[JobRecord]:
        """Every job, oldest first."""
        with self._read() as session:
            return _job_records(session, list(session.scalars(select(JobRow).order_by(JobRow.id))))

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
            existing = select(TrialRow.arch_id).where(TrialRow.job_id == job_id, TrialRow.arch_id.in_(list(wanted)))
            known = set(session.scalars(existing))
            last = session.scalar(select(func.max(TrialRow.number)).where(TrialRow.job_id == job_id))
            first = 0 if last is None else last + 1
            new = [arch_id for arch_id in wanted if arch_id not in known]
            rows = [
                TrialRow(job_id=job_id, number=first + i, arch_id=arch_id, arch_json=wanted[arch_id], state="queued")
                for i, arch_id in enumerate(new)
            ]
            session.add_all(rows)
            session.flush()
            return [_trial_record(row) for row in rows]

    def mark_running(self, trial_id: int, worker: str) -> None:
        """A worker started evaluating the queued trial."""
        with self._write() as session:
            trial = self._trial_for_update(session, trial_id, ("queued",))
            trial.state, trial.worker, trial.started_at = "running", worker, _now()

    def finish_trial(
        self, trial_id: int, values: dict[str, float], feasible: bool, objectives: Sequence[tuple[str, str]]
    ) -> None:
        """Store the trial's metric values as ``complete`` (``infeasible`` when it violated a constraint).

        ``objectives`` are ``(metric, "minimize" | "maximize")`` pairs. For a feasible trial, the job's
        front becomes the non-dominated subset of the old front plus this trial (a trial off the front
        is dominated by one on it, so nothing else can come back), and when the job has a reference point
        the new front's hypervolume is appended to its history.
        """
        with self._write() as session:
            trial = self._trial_for_update(session, trial_id, ("queued", "running"))
            trial.values_json = json.dumps({name: float(value) for name, value in values.items()})
            _finish(trial, "complete" if feasible else "infeasible")
            if feasible:
                on_front = select(TrialRow).where(TrialRow.job_id == trial.job_id, TrialRow.on_front.is_(True))
                self._update_front(session, trial.job_id, [*session.scalars(on_front), trial], objectives)

    def fail_trial(self, trial_id: int, error: str) -> None:
        """The evaluation raised: keep the error; the architecture stays in the job (never retried)."""
        with self._write() as session:
            trial = self._trial_for_update(session, trial_id, ("queued", "running"))
            trial.error = error
            _finish(trial, "failed")

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
            complete = list(session.scalars(select(TrialRow).where(TrialRow.job_id == job_id, TrialRow.state == "complete")))
            _set_front(complete, objectives)
            return [_trial_record(row) for row in sorted(complete, key=lambda row: row.number) if row.on_front]

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

    def _update_front(
        self, session: Session, job_id: int, candidates: list[TrialRow], objectives: Sequence[tuple[str, str]]
    ) -> None:
        """Set ``on_front`` among ``candidates`` and append the new front's hypervolume if a reference exists."""
        front = _set_front(candidates, objectives)
        reference_json = session.get(JobRow, job_id).reference_json  # locked, so already in the session
        if reference_json is None:
            return
        evaluated = session.scalar(select(func.count()).where(TrialRow.job_id == job_id, TrialRow.state.in_(EVALUATED)))
        volume = hypervolume(front, json.loads(reference_json))
        session.add(HypervolumeRow(job_id=job_id, n_evaluated=evaluated, hypervolume=volume))

    # ------------------------------------------------------------------------------------ trials: reads

    def find_trial(self, job_id: int, arch_id: str) -> TrialRecord | None:
        """The job's trial of this architecture, if it has one."""
        with self._read() as session:
            row = session.scalar(select(TrialRow).where(TrialRow.job_id == job_id, TrialRow.arch_id == arch_id))
            return None if row is None else _trial_record(row)

    def get_trial(self, job_id: int, trial: int | str) -> TrialRecord:
        """A trial of the job by its number (int) or its ``arch_id`` (str)."""
        column = TrialRow.number if isinstance(trial, int) else TrialRow.arch_id
        with self._read() as session:
            row = session.scalar(select(TrialRow).where(TrialRow.job_id == job_id, column == trial))
            if row is None:
                n = session.scalar(select(func.count()).where(TrialRow.job_id == job_id))
                what = f"number {trial}" if isinstance(trial, int) else f"with arch_id '{trial}'"
                span = f"its trials are numbered 0 to {n - 1}" if n else "it has no trials yet"
                raise NotFoundError(f"job {job_id} has no trial {what} ({span})")
            return _trial_record(row)

    def trials(
        self,
        job_id: int,
        states: Sequence[str] | None = None,
        on_front: bool | None = None,
        order_by: str = "number",
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[TrialRecord]:
        """The job's trials, filtered by state and front membership, ordered by number or by a metric.

        Ordering by a metric sorts in Python; trials without that metric come last either way.
        """
        # plain rows, not ORM objects: building tens of thousands of tracked instances costs seconds
        query = _in_states(select(TrialRow.__table__).where(TrialRow.job_id == job_id), states)
        if on_front is not None:
            query = query.where(TrialRow.on_front == on_front)
        if order_by == "number":
            query = query.order_by(TrialRow.number.desc() if descending else TrialRow.number).offset(offset).limit(limit)
        else:
            query = query.order_by(TrialRow.number)
        with self._read() as session:
            records = [_trial_record(row) for row in session.execute(query)]
        if order_by == "number":
            return records
        measured = [t for t in records if t.values and order_by in t.values]
        ranked = sorted(measured, key=lambda t: t.values[order_by], reverse=descending)
        ranked += [t for t in records if not (t.values and order_by in t.values)]
        return ranked[offset : None if limit is None else offset + limit]

    def count_trials(self, job_id: int, states: Sequence[str] | None = None) -> int:
        """How many trials the job has (in ``states``, when given); cheaper than ``len(trials(...))``."""
        with self._read() as session:
            return session.scalar(_in_states(select(func.count()).where(TrialRow.job_id == job_id), states))

    def front(self, job_id: int) -> list[TrialRecord]:
        """The job's Pareto front: complete trials no other complete trial dominates (ties all kept)."""
        return self.trials(job_id, on_front=True)

    def hypervolume_history(self, job_id: int) -> list[tuple[int, float]]:
        """``(trials evaluated, hypervolume)`` after each feasible trial since the reference was fixed."""
        query = select(HypervolumeRow.n_evaluated, HypervolumeRow.hypervolume).where(HypervolumeRow.job_id == job_id)
        with self._read() as session:
            return [tuple(row) for row in session.execute(query.order_by(HypervolumeRow.id))]

    # ------------------------------------------------------------------------------------ artifacts

    def record_checkpoint(self, job_id: int, trial_id: int, path: str) -> None:
        """Remember that a trial's subnet was extracted to ``path``."""
        with self._write() as session:
            session.add(CheckpointRow(job_id=job_id, trial_id=trial_id, path=path))

    def record_verification(
        self, job_id: int, trial_id: int, checkpoint: str, checkpoint_bytes: int, machine: dict,
        values: Sequence[VerifiedValue],
    ) -> VerificationRecord:
        """Store a trial's re-measured values beside its searched ones (never over them). Re-verifying
        a trial appends: :meth:`verifications` returns the newest per trial unless asked for all."""
        with self._write() as session:
            number = session.scalar(select(TrialRow.number).where(TrialRow.id == trial_id, TrialRow.job_id == job_id))
            if number is None:
                raise NotFoundError(f"job {job_id} has no trial with id {trial_id} in {self.url_display}")
            row = VerificationRow(
                job_id=job_id, trial_id=trial_id, checkpoint=checkpoint, checkpoint_bytes=int(checkpoint_bytes),
                machine_json=json.dumps(machine), values_json=json.dumps({v.metric: _value_data(v) for v in values}),
            )
            session.add(row)
            session.flush()
            return _verification_record(row, number)

    def verifications(self, job_id: int, trial_numbers: Sequence[int] | None = None, history: bool = False) -> list[VerificationRecord]:
        """The job's verifications ordered by trial number: the newest of each trial, or every one
        (oldest first within a trial) with ``history``; only those trials when ``trial_numbers`` is given."""
        query = (
            select(VerificationRow, TrialRow.number)
            .join(TrialRow, TrialRow.id == VerificationRow.trial_id)
            .where(VerificationRow.job_id == job_id)
        )
        if trial_numbers is not None:
            query = query.where(TrialRow.number.in_(list(trial_numbers)))
        if not history:
            newest = select(func.max(VerificationRow.id)).where(VerificationRow.job_id == job_id).group_by(VerificationRow.trial_id)
            query = query.where(VerificationRow.id.in_(newest))
        with self._read() as session:
            rows = session.execute(query.order_by(TrialRow.number, VerificationRow.id)).all()
            return [_verification_record(row, number) for row, number in rows]

    def record_predictor(self, space: str, kind: str, fingerprint: str, path: str, report: dict) -> None:
        """Remember a trained predictor file and its evaluation report."""
        with self._write() as session:
            row = PredictorRow(space=space, kind=kind, fingerprint=fingerprint, path=path, report_json=json.dumps(report))
            session.add(row)

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
            new = list({arch_id: (arch_id, arch_json, values, feasible)
                        for arch_id, arch_json, values, feasible in trials if arch_id not in known}.values())
            last = session.scalar(select(func.max(TrialRow.number)).where(TrialRow.job_id == job_id))
            evaluated = session.scalar(select(func.count()).where(TrialRow.job_id == job_id, TrialRow.state.in_(EVALUATED)))
            old_front = list(session.scalars(select(TrialRow).where(TrialRow.job_id == job_id, TrialRow.on_front.is_(True))))
            # the front as it grows: a (points, keys) pair; a key is a row id of an old trial or ("new", index)
            points = np.array([_objective_vector(row, objectives) for row in old_front]).reshape(len(old_front), len(objectives))
            keys: list[object] = [row.id for row in old_front]
            reference = None if job.reference_json is None else json.loads(job.reference_json)
            now, first = _now(), 0 if last is None else last + 1
            rows, volumes, volume = [], [], None
            for i, (arch_id, arch_json, values, feasible) in enumerate(new):
                state = "failed" if values is None else "complete" if feasible else "infeasible"
                rows.append(dict(
                    job_id=job_id, number=first + i, arch_id=arch_id, arch_json=arch_json, state=state,
                    values_json=None if values is None else json.dumps({k: float(v) for k, v in values.items()}),
                    error="imported as failed" if values is None else None, on_front=False,
                    created_at=now, started_at=now, finished_at=now, duration_s=0.0,
                ))
                if state != "complete":
                    continue
                point = np.array(minimization_vector(values, objectives))
                if not np.any(np.all(points <= point, axis=1) & np.any(points < point, axis=1)):
                    kept = ~(np.all(point <= points, axis=1) & np.any(point < points, axis=1))
                    points = np.vstack([points[kept], point])
                    keys = [key for key, keep in zip(keys, kept) if keep] + [("new", i)]
                    volume = None
                if reference is not None:
                    volume = hypervolume(points, reference) if volume is None else volume
                    volumes.append(dict(job_id=job_id, n_evaluated=evaluated + i + 1, hypervolume=volume, recorded_at=now))
            for key in keys:
                if isinstance(key, tuple):
                    rows[key[1]]["on_front"] = True
            dropped = [row.id for row in old_front if row.id not in keys]
            if dropped:
                session.execute(update(TrialRow).where(TrialRow.id.in_(dropped)).values(on_front=False))
            if rows:
                session.execute(TrialRow.__table__.insert(), rows)
            if volumes:
                session.execute(HypervolumeRow.__table__.insert(), volumes)
            return len(rows)


def _in_states(query: Select, states: Sequence[str] | None) -> Select:
    """``query`` restricted to trials in ``states`` (all trials when None); an unknown state is a caller bug."""
    if states is None:
        return query
    unknown = sorted(set(states) - set(TRIAL_STATES))
    if unknown:
        raise ValueError(f"unknown trial state(s) {', '.join(unknown)}; states are {', '.join(TRIAL_STATES)}")
    return query.where(TrialRow.state.in_(states))


def _objective_vector(row: TrialRow, objectives: Sequence[tuple[str, str]]) -> list[float]:
    """The trial's objectives in minimization form; a missing or non-finite value is a caller bug."""
    values = json.loads(row.values_json or "{}")
    missing = [name for name, _ in objectives if name not in values or not math.isfinite(values[name])]
    if missing:
        raise ValueError(f"trial {row.number} of job {row.job_id}: no finite value for objective(s) {', '.join(missing)}")
    return minimization_vector(values, objectives)


def _trial_record(row: TrialRow | Row) -> TrialRecord:
    return TrialRecord(
        id=row.id, job_id=row.job_id, number=row.number, arch_id=row.arch_id, arch_json=row.arch_json,
        state=row.state, values=None if row.values_json is None else json.loads(row.values_json),
        worker=row.worker, error=row.error, on_front=row.on_front, created_at=row.created_at,
        started_at=row.started_at, finished_at=row.finished_at, duration_s=row.duration_s,
    )


def _value_data(value: VerifiedValue) -> dict:
    return {
        "searched": value.searched, "measured": value.measured, "method": value.method,
        "deterministic": value.deterministic, "spread": value.spread, "note": value.note,
    }


def _verification_record(row: VerificationRow, number: int) -> VerificationRecord:
    values = {metric: VerifiedValue(metric, **data) for metric, data in json.loads(row.values_json).items()}
    return VerificationRecord(
        id=row.id, job_id=row.job_id, trial_id=row.trial_id, trial_number=number, checkpoint=row.checkpoint,
        checkpoint_bytes=row.checkpoint_bytes, machine=json.loads(row.machine_json), values=values,
        created_at=row.created_at,
    )


def _job_records(session: Session, rows: list[JobRow]) -> list[JobRecord]:
    """Records for ``rows`` with their trial counts and latest hypervolume, in two queries."""
    ids = [row.id for row in rows]
    counts: dict[int, Counter[str]] = {job_id: Counter() for job_id in ids}
    by_state = (
        select(TrialRow.job_id, TrialRow.state, func.count())
        .where(TrialRow.job_id.in_(ids))
        .group_by(TrialRow.job_id, TrialRow.state)
    )
    for job_id, state, n in session.execute(by_state):
        counts[job_id][state] = n
    newest = select(func.max(HypervolumeRow.id)).where(HypervolumeRow.job_id.in_(ids)).group_by(HypervolumeRow.job_id)
    latest_query = select(HypervolumeRow.job_id, HypervolumeRow.hypervolume).where(HypervolumeRow.id.in_(newest))
    latest = dict(session.execute(latest_query).all())
    return [
        JobRecord(
            id=row.id, name=row.name, space=row.space, spec=json.loads(row.spec_json), status=row.status,
            budget_trials=row.budget_trials,
            reference=None if row.reference_json is None else json.loads(row.reference_json),
            error=row.error, created_at=row.created_at, updated_at=row.updated_at,
            n_complete=counts[row.id]["complete"], n_infeasible=counts[row.id]["infeasible"],
            n_failed=counts[row.id]["failed"], n_queued=counts[row.id]["queued"],
            n_running=counts[row.id]["running"], hypervolume=latest.get(row.id),
        )
        for row in rows
    ]


def _finish(trial: TrialRow, state: str) -> None:
    trial.state, trial.finished_at = state, _now()
    if trial.started_at is not None:
        trial.duration_s = (trial.finished_at - trial.started_at).total_seconds()


def _set_front(rows: list[TrialRow], objectives: Sequence[tuple[str, str]]) -> np.ndarray:
    """Mark the non-dominated ``rows`` on the front and the others off it; returns the front's points
    in minimization form."""
    points = np.array([_objective_vector(row, objectives) for row in rows]).reshape(len(rows), len(objectives))
    keep = set(non_dominated(points).tolist())
    for i, row in enumerate(rows):
        row.on_front = i in keep
    return points[sorted(keep)]
