"""Block libraries in the store (SQLite and PostgreSQL): kept by key, the first one kept, and the version-3
migration creates the table exactly as a fresh database has it."""

from __future__ import annotations

from sqlalchemy import inspect, text

from supernas.search.store.database import make_engine
from supernas.search.store.store import open_store

KEY = {
    "space": "gpt-tiny-abc",
    "supernet": "sha256-1234",
    "data": "kept with the supernet (4 batches)",
    "workload": "k1",
}


def _columns(url: str) -> list[tuple]:
    engine = make_engine(url)
    with engine.connect() as connection:
        found = inspect(connection)
        columns = [
            (c["name"], type(c["type"]).__name__, c["nullable"])
            for c in found.get_columns("supernas_block_libraries")
        ]
        unique = sorted(
            tuple(u["column_names"]) for u in found.get_unique_constraints("supernas_block_libraries")
        )
    engine.dispose()
    return columns + unique


def test_block_libraries_are_kept_by_key(store_url):
    with open_store(store_url) as store:
        assert store.get_block_library(KEY) is None
        store.save_block_library(KEY, {"evaluations": 7, "quality": {"kl": [[0.5, 0.0]]}})
        store.save_block_library(KEY, {"evaluations": 99})  # built meanwhile elsewhere: the first stays
        assert store.get_block_library(KEY) == {"evaluations": 7, "quality": {"kl": [[0.5, 0.0]]}}
        for field in KEY:
            assert store.get_block_library({**KEY, field: "other"}) is None
    with open_store(store_url) as again:
        assert again.get_block_library(KEY)["evaluations"] == 7


def test_the_migration_creates_the_table_as_a_fresh_database_has_it(store_url):
    from supernas.search.store.tables import MIGRATIONS, _add_block_libraries

    assert MIGRATIONS[3] is _add_block_libraries  # version 3 (the version-2 -> 3 step of an upgrade)
    open_store(store_url).close()
    fresh = _columns(store_url)
    engine = make_engine(store_url)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE supernas_block_libraries"))
        _add_block_libraries(connection)
    engine.dispose()
    assert _columns(store_url) == fresh
    with open_store(store_url) as upgraded:
        upgraded.save_block_library(KEY, {"evaluations": 1})
        assert upgraded.get_block_library(KEY) == {"evaluations": 1}
