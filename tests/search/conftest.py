"""A real PostgreSQL server for the store tests, started once per session from Debian's binaries.

The server runs as the ``postgres`` system user (it refuses to run as root), listens on 127.0.0.1 on a
free port, keeps its data and socket in a temporary directory, and trades durability for speed
(fsync off). Without the binaries the PostgreSQL half of the store tests is skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from glob import glob
from pathlib import Path

import pytest
from sqlalchemy import text

from supernas.search.store.database import make_engine
from tests.processes import free_port


def _postgres_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` that has both initdb and pg_ctl."""
    found = [
        Path(p).parent
        for p in glob("/usr/lib/postgresql/*/bin/initdb")
        if Path(p).with_name("pg_ctl").exists()
    ]
    return max(found, key=lambda p: int(p.parent.name), default=None)


def _as_postgres(program: Path, *args: str | Path) -> None:
    """Run a server program as the ``postgres`` user when we are root, as ourselves otherwise."""
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    result = subprocess.run(
        [*prefix, str(program), *map(str, args)], capture_output=True, text=True, timeout=120
    )
    if result.returncode:
        raise RuntimeError(f"{program.name} failed: {(result.stderr or result.stdout).strip()}")


def _admin(url: str, sql: str) -> None:
    """Run one statement outside a transaction (CREATE/DROP DATABASE need that)."""
    engine = make_engine(url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(sql))
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """``postgresql://postgres@127.0.0.1:PORT/supernas_test`` on a server that lives for the session."""
    bindir = _postgres_bindir()
    if bindir is None:
        missing = "PostgreSQL server binaries not found in /usr/lib/postgresql: apt-get install postgresql"
        if os.environ.get("CI"):
            pytest.fail(missing)  # CI installs them: a missing server there is a broken setup, not a skip
        pytest.skip(missing)
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root needs runuser to start PostgreSQL as the postgres user")
    root = Path(tempfile.mkdtemp(prefix="supernas-pg-"))  # under /tmp, so the postgres user can reach it
    data, port = root / "data", free_port()
    speed = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    with ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, root, ignore_errors=True)
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        _as_postgres(
            bindir / "initdb",
            "-D",
            data,
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} {speed}"
        _as_postgres(
            bindir / "pg_ctl", "-D", data, "-l", root / "server.log", "-o", options, "-w", "-t", "60", "start"
        )
        cleanup.callback(_as_postgres, bindir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        server = f"postgresql://postgres@127.0.0.1:{port}"
        _admin(f"{server}/postgres", "CREATE DATABASE supernas_test")
        yield f"{server}/supernas_test"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database, once on SQLite (a file in tmp_path) and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    base = request.getfixturevalue("postgres_url")
    name = f"supernas_{uuid.uuid4().hex[:12]}"
    _admin(base, f"CREATE DATABASE {name}")
    yield f"{base.rsplit('/', 1)[0]}/{name}"
    _admin(base, f"DROP DATABASE {name} WITH (FORCE)")
