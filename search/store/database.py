"""Opening a database: URLs, engines, the SQLite settings that let readers and one writer share a file,
and the two session factories (reads never block writers; writes take the lock up front)."""

from __future__ import annotations

import os
import re

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import sessionmaker

from supernas.core.paths import supernas_home

_WRITE = "supernas_write"  # execution option: this transaction will write (BEGIN IMMEDIATE on SQLite)


def default_url() -> str:
    """``SUPERNAS_DB`` if set, else a SQLite file in ``SUPERNAS_HOME``."""
    return os.environ.get("SUPERNAS_DB") or f"sqlite:///{supernas_home() / 'supernas.db'}"


def masked(url: str) -> str:
    """``url`` with any password replaced by ``***``, for messages and displays."""
    url = re.sub(r"(://[^/@:]*):[^/@]*@", r"\1:***@", url)
    return re.sub(r"([?&]password=)[^&]*", r"\1***", url)


def one_line(error: BaseException) -> str:
    """The driver's own message when there is one (SQLAlchemy's adds a link and the SQL), on one line."""
    return " ".join(str(getattr(error, "orig", None) or error).split())


def make_engine(url: str) -> Engine:
    """An engine for ``url``; a bare ``postgresql://`` means psycopg2 (SQLAlchemy 2.1 defaults to
    psycopg 3)."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg2")
    postgres = parsed.get_backend_name() == "postgresql"
    # a server may restart under a long job: check pooled connections; and do not wait minutes on a dead host
    engine = create_engine(
        parsed, pool_pre_ping=postgres, connect_args={"connect_timeout": 10} if postgres else {}
    )
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
    connection.exec_driver_sql(
        "BEGIN IMMEDIATE" if connection.get_execution_options().get(_WRITE) else "BEGIN"
    )


def session_factories(engine: Engine) -> tuple[sessionmaker, sessionmaker]:
    """(reads, writes): REPEATABLE READ snapshots for readers on PostgreSQL (WAL does it on SQLite);
    writers marked so SQLite begins them with the write lock."""
    postgres = engine.dialect.name == "postgresql"
    readers = engine.execution_options(isolation_level="REPEATABLE READ") if postgres else engine
    return sessionmaker(readers), sessionmaker(engine.execution_options(**{_WRITE: True}))
