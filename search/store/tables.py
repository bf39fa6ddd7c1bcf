"""The store's tables (SQLAlchemy models, every name prefixed ``supernas_``) and their migrations.

To add a table: declare its model here and bump ``SCHEMA_VERSION``, with a migration that creates it in
its frozen form (a fresh database is created from the models directly; an older one runs the migrations
it has not seen, in order, inside the transaction that opens the store).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from supernas.core.errors import SupernasError

SCHEMA_VERSION = 7
# MIGRATIONS[v] upgrades a database at version v - 1 to v, inside the opening transaction. A fresh
# database is created from the models below at SCHEMA_VERSION directly, so version 1 needs no entry.
# Each migration writes its own frozen DDL (never the current models, which later versions may change).
MIGRATIONS: dict[int, Callable[[Connection], None]] = {}  # filled in below the models

_MIGRATION_LOCK = 0x5E9E9A5  # PostgreSQL advisory lock key: one process migrates at a time


class StoreError(SupernasError):
    """The database cannot be opened or used: bad URL, unreachable server, schema from a newer supernas."""


class UTCDateTime(TypeDecorator[datetime]):
    """Naive UTC in the database (SQLite has no time zones), aware UTC in Python, on every backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def now() -> datetime:
    return datetime.now(UTC)


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
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)


class TrialRow(Base):
    __tablename__ = "supernas_trials"
    __table_args__ = (
        UniqueConstraint("job_id", "arch_id"),  # no architecture is evaluated twice in one job
        UniqueConstraint("job_id", "number"),
        Index("ix_supernas_trials_job_state", "job_id", "state"),
        Index(
            "ix_supernas_trials_job_front_number", "job_id", "on_front", "number"
        ),  # the front, and samples by number
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
    created_at: Mapped[datetime] = mapped_column(default=now)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    duration_s: Mapped[float | None]


class HypervolumeRow(Base):
    __tablename__ = "supernas_hypervolume"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("supernas_jobs.id"), index=True)
    n_evaluated: Mapped[int]
    hypervolume: Mapped[float]
    recorded_at: Mapped[datetime] = mapped_column(default=now)


class CheckpointRow(Base):
    __tablename__ = "supernas_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("supernas_jobs.id"), index=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("supernas_trials.id"))
    path: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=now)


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
    values_json: Mapped[str] = mapped_column(
        Text
    )  # {metric: {searched, measured, method, deterministic, spread, note}}
    created_at: Mapped[datetime] = mapped_column(default=now)
    weights: Mapped[str] = mapped_column(Text, default="extracted", server_default="extracted")


class BlockLibraryRow(Base):
    """A block library (``supernas.search.puzzle.blocks``) of one supernet, held-out data and latency
    workload, built once and reused by every later ``mip`` job or ``supernas blocks`` with the same key."""

    __tablename__ = "supernas_block_libraries"
    __table_args__ = (UniqueConstraint("space", "supernet", "data", "workload"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    space: Mapped[str] = mapped_column(Text)
    supernet: Mapped[str] = mapped_column(Text)
    data: Mapped[str] = mapped_column(Text)
    workload: Mapped[str] = mapped_column(Text)
    library_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=now)


class LeaseRow(Base):
    """Which controller runs a job, until when: it renews the lease while it runs (``search.leases``)."""

    __tablename__ = "supernas_leases"

    job_id: Mapped[int] = mapped_column(ForeignKey("supernas_jobs.id"), primary_key=True, autoincrement=False)
    holder: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime]
    renewed_at: Mapped[datetime]


def _add_verifications(connection: Connection) -> None:
    """Version 2: the supernas_verifications table, as version 2 defines it."""
    metadata = MetaData(naming_convention=Base.metadata.naming_convention)
    Table("supernas_jobs", metadata, Column("id", Integer, primary_key=True))
    Table("supernas_trials", metadata, Column("id", Integer, primary_key=True))
    table = Table(
        "supernas_verifications",
        metadata,
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


def _add_block_libraries(connection: Connection) -> None:
    """Version 3: the supernas_block_libraries table, as version 3 defines it."""
    metadata = MetaData(naming_convention=Base.metadata.naming_convention)
    Table(
        "supernas_block_libraries",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("space", Text, nullable=False),
        Column("supernet", Text, nullable=False),
        Column("data", Text, nullable=False),
        Column("workload", Text, nullable=False),
        Column("library_json", Text, nullable=False),
        Column("created_at", DateTime, nullable=False),
        UniqueConstraint("space", "supernet", "data", "workload"),
    ).create(connection)


MIGRATIONS[3] = _add_block_libraries


def _add_leases(connection: Connection) -> None:
    """Version 4: the supernas_leases table, as version 4 defines it."""
    metadata = MetaData(naming_convention=Base.metadata.naming_convention)
    Table("supernas_jobs", metadata, Column("id", Integer, primary_key=True))
    Table(
        "supernas_leases",
        metadata,
        Column("job_id", Integer, ForeignKey("supernas_jobs.id"), primary_key=True, autoincrement=False),
        Column("holder", Text, nullable=False),
        Column("expires_at", DateTime, nullable=False),
        Column("renewed_at", DateTime, nullable=False),
    ).create(connection)


MIGRATIONS[4] = _add_leases


def _drop_predictors(connection: Connection) -> None:
    """Version 5: supernas_predictors goes (nothing wrote it: calibration keeps its predictors as files
    keyed by machine and workload, where the metrics load them)."""
    connection.execute(text("DROP TABLE IF EXISTS supernas_predictors"))


MIGRATIONS[5] = _drop_predictors


def _index_front_by_number(connection: Connection) -> None:
    """Version 6: the front index also orders by number. With (job_id, on_front) alone, SQLite read a job's
    front (ordered by number) by walking every trial of the job in number order: 20 ms at 50,000 trials."""
    connection.execute(text("DROP INDEX IF EXISTS ix_supernas_trials_job_front"))
    connection.execute(
        text(
            "CREATE INDEX IF NOT EXISTS ix_supernas_trials_job_front_number "
            "ON supernas_trials (job_id, on_front, number)"
        )
    )


MIGRATIONS[6] = _index_front_by_number


def _add_verification_weights(connection: Connection) -> None:
    """Version 7: which weights a verification measured: the trial's subnet as extracted, or a checkpoint
    distilled from it (``supernas distill``)."""
    connection.execute(
        text("ALTER TABLE supernas_verifications ADD COLUMN weights TEXT NOT NULL DEFAULT 'extracted'")
    )


MIGRATIONS[7] = _add_verification_weights


def migrate(connection: Connection, url_display: str) -> None:
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
            f"database {url_display} has supernas schema version {version}; this supernas knows "
            f"versions up to {SCHEMA_VERSION}: upgrade supernas"
        )
    for target in range(version + 1, SCHEMA_VERSION + 1):
        MIGRATIONS[target](connection)
    if version < SCHEMA_VERSION:
        connection.execute(update(SchemaRow).values(version=SCHEMA_VERSION))
