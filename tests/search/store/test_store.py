"""The store on SQLite and on a real PostgreSQL server: the same tests, both backends."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import closing

import numpy as np
import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from supernas.core.errors import NotFoundError
from supernas.search.pareto import hypervolume, minimization_vector
from supernas.search.store import tables as tables_module
from supernas.search.store.database import make_engine
from supernas.search.store.records import VerifiedValue
from supernas.search.store.store import Store, open_store
from supernas.search.store.tables import SCHEMA_VERSION, SchemaRow, StoreError
from tests.search.jobs_helpers import brute_force_front
from tests.search.store.helpers import THREE, TWO, archs, new_job


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with open_store(store_url) as opened:
        yield opened


def schema_versions(url: str) -> list[int]:
    engine = make_engine(url)
    with engine.connect() as connection:
        versions = list(connection.scalars(select(SchemaRow.version)))
    engine.dispose()
    return versions


# ------------------------------------------------------------------------------------------ schema


def test_schema_version_is_current_and_reopening_keeps_data(store_url):
    with open_store(store_url) as first:
        job_id = new_job(first)
        first.add_trials(job_id, archs("a", "b"))
    assert schema_versions(store_url) == [SCHEMA_VERSION] == [7]
    with open_store(store_url) as again:
        job = again.get_job(job_id)
        assert (job.name, job.n_queued, job.spec["name"]) == ("job", 2, "job")
    assert schema_versions(store_url) == [SCHEMA_VERSION]


def test_migrations_run_once_in_order_and_newer_schemas_are_refused(store_url, monkeypatch):
    open_store(store_url).close()
    applied = []
    v = SCHEMA_VERSION

    def migration(version: int):
        def apply(connection) -> None:
            applied.append(version)
            connection.execute(text(f"CREATE TABLE supernas_probe_{version} (x INTEGER)"))

        return apply

    monkeypatch.setattr(tables_module, "SCHEMA_VERSION", v + 2)
    monkeypatch.setattr(tables_module, "MIGRATIONS", {v + 1: migration(v + 1), v + 2: migration(v + 2)})
    open_store(store_url).close()
    open_store(store_url).close()
    assert applied == [v + 1, v + 2]
    assert schema_versions(store_url) == [v + 2]
    engine = make_engine(store_url)
    with engine.connect() as connection:
        assert {f"supernas_probe_{v + 1}", f"supernas_probe_{v + 2}"} <= set(
            inspect(connection).get_table_names()
        )
    engine.dispose()
    monkeypatch.setattr(tables_module, "SCHEMA_VERSION", v)
    with pytest.raises(StoreError, match=f"schema version {v + 2}; this supernas knows versions up to {v}"):
        open_store(store_url)


def _table_shape(url: str, table: str) -> tuple:
    """Columns (name, type family, nullable), indexes and foreign keys of a table, as the database
    reports them."""
    engine = make_engine(url)
    with engine.connect() as connection:
        found = inspect(connection)
        columns = [
            (c["name"], type(c["type"]).__name__.upper().replace("BIGINT", "BIGINTEGER"), c["nullable"])
            for c in found.get_columns(table)
        ]
        indexes = sorted((i["name"], tuple(i["column_names"])) for i in found.get_indexes(table))
        keys = sorted(
            (tuple(k["constrained_columns"]), k["referred_table"], tuple(k["referred_columns"]))
            for k in found.get_foreign_keys(table)
        )
    engine.dispose()
    return columns, indexes, keys


def test_a_version_1_database_upgrades_in_place(store_url):
    """A database written by the previous supernas (schema 1: no verifications table) keeps its jobs and
    trials, gains the table exactly as a fresh database has it, and takes verifications."""
    with open_store(store_url) as made:
        job_id = new_job(made)
        (trial,) = made.add_trials(job_id, archs("a"))
        made.finish_trial(trial.id, {"loss": 1.0, "latency": 2.0}, True, TWO)
        fresh_shape = _table_shape(store_url, "supernas_verifications")
        fresh_trials = _table_shape(store_url, "supernas_trials")
    engine = make_engine(store_url)  # back to version 1, as the previous supernas left it
    with engine.begin() as connection:
        connection.execute(
            text("DROP INDEX ix_supernas_trials_job_front_number")
        )  # versions 1-5 indexed (job_id, on_front)
        connection.execute(
            text("CREATE INDEX ix_supernas_trials_job_front ON supernas_trials (job_id, on_front)")
        )
        connection.execute(text("DROP TABLE supernas_verifications"))
        connection.execute(text("DROP TABLE supernas_block_libraries"))
        connection.execute(text("DROP TABLE supernas_leases"))
        connection.execute(
            text("CREATE TABLE supernas_predictors (id INTEGER PRIMARY KEY)")
        )  # versions 1-4 had it
        connection.execute(text("UPDATE supernas_schema SET version = 1"))
    engine.dispose()
    assert schema_versions(store_url) == [1]
    with open_store(store_url) as upgraded:
        assert schema_versions(store_url) == [7]
        assert "supernas_predictors" not in inspect(make_engine(store_url)).get_table_names()
        assert _table_shape(store_url, "supernas_trials") == fresh_trials
        assert upgraded.get_trial(job_id, 0).values == {"loss": 1.0, "latency": 2.0}
        assert _table_shape(store_url, "supernas_verifications") == fresh_shape
        value = VerifiedValue("loss", 1.0, 1.0, "the metric on the loaded checkpoint", True)
        upgraded.record_verification(job_id, trial.id, "/tmp/ckpt", 1234, {"host": "h"}, [value])
    with open_store(store_url) as reopened:
        (stored,) = reopened.verifications(job_id)
        assert (stored.trial_number, stored.checkpoint, stored.checkpoint_bytes, stored.values) == (
            0,
            "/tmp/ckpt",
            1234,
            {"loss": value},
        )


# ------------------------------------------------------------------------------------------ jobs


def test_jobs_by_id_and_newest_by_name(store):
    first, second = new_job(store, "same"), new_job(store, "same")
    assert store.get_job("same").id == second
    assert store.get_job(first).id == first
    assert [j.id for j in store.list_jobs()] == [first, second]
    store.set_job_status(first, "failed", error="boom")
    job = store.get_job(first)
    assert (job.status, job.error, job.hypervolume, job.reference) == ("failed", "boom", None, None)
    assert job.updated_at >= job.created_at


def test_unknown_job_raises_not_found(store):
    with pytest.raises(NotFoundError, match=r"no job '42' in "):
        store.get_job(42)
    with pytest.raises(NotFoundError, match=r"no job 'nope' in "):
        store.get_job("nope")
    with pytest.raises(NotFoundError):
        store.add_trials(42, archs("a"))


def test_reference_is_fixed_once(store):
    job_id = new_job(store)
    assert store.set_reference(job_id, [1.0, 2.0]) == [1.0, 2.0]
    assert store.set_reference(job_id, [5.0, 5.0]) == [1.0, 2.0]
    assert store.get_job(job_id).reference == [1.0, 2.0]


# ------------------------------------------------------------------------------------------ trials


def test_add_trials_dedupes_arch_ids_and_continues_numbers(store):
    job_id, other = new_job(store), new_job(store, "other")
    added = store.add_trials(job_id, archs("a", "b", "a"))
    assert [(t.number, t.arch_id, t.state) for t in added] == [(0, "a", "queued"), (1, "b", "queued")]
    added = store.add_trials(job_id, archs("b", "c", "d"))
    assert [(t.number, t.arch_id) for t in added] == [(2, "c"), (3, "d")]
    assert store.add_trials(job_id, archs("a", "d")) == []
    assert store.count_trials(job_id) == 4
    assert [t.number for t in store.add_trials(other, archs("a"))] == [0]  # numbering is per job
    assert store.find_trial(job_id, "b").number == 1
    assert store.find_trial(job_id, "zzz") is None


def test_get_trial_by_number_or_arch_id(store):
    job_id = new_job(store)
    store.add_trials(job_id, archs("a", "b"))
    assert store.get_trial(job_id, 1).arch_id == "b"
    assert store.get_trial(job_id, "a").number == 0
    with pytest.raises(NotFoundError, match="job .* has no trial number 5 .its trials are numbered 0 to 1."):
        store.get_trial(job_id, 5)
    with pytest.raises(NotFoundError, match="no trial with arch_id 'zzz'"):
        store.get_trial(job_id, "zzz")


def test_life_cycle_and_requeue_running(store):
    job_id = new_job(store)
    a, b, c = store.add_trials(job_id, archs("a", "b", "c"))
    store.mark_running(a.id, "w0")
    store.mark_running(b.id, "w1")
    store.mark_running(c.id, "w2")
    store.fail_trial(c.id, "out of memory")
    job = store.get_job(job_id)
    assert (job.n_running, job.n_failed, job.n_queued) == (2, 1, 0)
    failed = store.get_trial(job_id, 2)
    assert (failed.state, failed.error, failed.worker) == ("failed", "out of memory", "w2")
    assert failed.duration_s is not None and failed.duration_s >= 0

    assert store.requeue_running(job_id) == 2
    queued = store.trials(job_id, states=["queued"])
    assert [(t.arch_id, t.worker, t.started_at) for t in queued] == [("a", None, None), ("b", None, None)]
    assert store.requeue_running(job_id) == 0
    with pytest.raises(ValueError, match="is failed; expected queued"):
        store.mark_running(c.id, "w3")
    with pytest.raises(NotFoundError):
        store.mark_running(10**6, "w")


def test_finished_trials_are_final(store):
    job_id = new_job(store)
    (trial,) = store.add_trials(job_id, archs("a"))
    store.mark_running(trial.id, "w0")
    store.finish_trial(trial.id, {"loss": 1.0, "latency": 2.0}, True, TWO)
    for change in (
        lambda: store.requeue(trial.id),
        lambda: store.fail_trial(trial.id, "x"),
        lambda: store.finish_trial(trial.id, {"loss": 0.0, "latency": 0.0}, True, TWO),
    ):
        with pytest.raises(ValueError, match="is complete"):
            change()
    stored = store.get_trial(job_id, 0)
    assert (stored.state, stored.on_front, stored.worker) == ("complete", True, "w0")
    assert stored.values == {"loss": 1.0, "latency": 2.0}
    assert stored.duration_s == pytest.approx((stored.finished_at - stored.started_at).total_seconds())


def test_infeasible_trials_are_stored_and_never_on_the_front(store):
    job_id = new_job(store)
    good, cheater = store.add_trials(job_id, archs("good", "cheater"))
    store.finish_trial(good.id, {"loss": 3.0, "latency": 3.0}, True, TWO)
    store.finish_trial(
        cheater.id, {"loss": 0.0, "latency": 0.0}, False, TWO
    )  # dominates, but violates a constraint
    assert [t.arch_id for t in store.front(job_id)] == ["good"]
    stored = store.get_trial(job_id, "cheater")
    assert (stored.state, stored.values, stored.on_front) == (
        "infeasible",
        {"loss": 0.0, "latency": 0.0},
        False,
    )


def test_a_feasible_trial_needs_every_objective(store):
    job_id = new_job(store)
    (trial,) = store.add_trials(job_id, archs("a"))
    with pytest.raises(ValueError, match="no finite value for objective.* latency"):
        store.finish_trial(trial.id, {"loss": 1.0}, True, TWO)
    assert store.get_trial(job_id, 0).state == "queued"  # the whole transaction rolled back


@pytest.mark.parametrize("objectives", [TWO, THREE], ids=["2-objectives", "3-objectives-one-maximized"])
def test_front_and_hypervolume_after_every_trial(store, objectives):
    rng = np.random.default_rng(len(objectives))
    job_id = new_job(store)
    reference = [8.0, 8.0] if objectives is TWO else [8.0, 0.0, 8.0]  # minimization form: accuracy > 0 counts
    store.set_reference(job_id, reference)
    trials = store.add_trials(job_id, archs(*(f"arch{i}" for i in range(60))))
    feasible_at = []  # trials evaluated when each feasible trial finished
    for n, trial in enumerate(trials, start=1):
        store.mark_running(trial.id, "w0")
        outcome = rng.random()
        if outcome < 0.05:
            store.fail_trial(trial.id, "boom")
            continue
        values = {name: float(rng.integers(0, 8)) for name, _ in objectives}  # small integers: many ties
        store.finish_trial(trial.id, values, outcome > 0.25, objectives)
        feasible_at += [n] if outcome > 0.25 else []
        stored = store.trials(job_id)
        assert {t.id for t in store.front(job_id)} == brute_force_front(stored, objectives)
        assert all(t.state == "complete" for t in stored if t.on_front)

    history = store.hypervolume_history(job_id)
    volumes = [hv for _, hv in history]
    assert [n for n, _ in history] == feasible_at
    assert all(b >= a for a, b in zip(volumes, volumes[1:]))
    front = np.array([minimization_vector(t.values, objectives) for t in store.front(job_id)])
    assert volumes[-1] == hypervolume(front, reference) > 0
    assert store.get_job(job_id).hypervolume == volumes[-1]

    incremental = [t.id for t in store.front(job_id)]
    assert [t.id for t in store.rebuild_front(job_id, objectives)] == incremental
    assert [t.id for t in store.front(job_id)] == incremental


def test_no_hypervolume_history_before_a_reference_is_fixed(store):
    job_id = new_job(store)
    a, b = store.add_trials(job_id, archs("a", "b"))
    store.finish_trial(a.id, {"loss": 1.0, "latency": 1.0}, True, TWO)
    store.set_reference(job_id, [2.0, 2.0])
    store.finish_trial(b.id, {"loss": 0.5, "latency": 1.5}, True, TWO)
    assert store.hypervolume_history(job_id) == [(2, 1.0 + 0.25)]


def test_trials_filters_and_orders(store):
    job_id = new_job(store)
    trials = store.add_trials(job_id, archs("a", "b", "c", "d"))
    for trial, loss in zip(trials[:3], [2.0, 1.0, 3.0]):
        store.finish_trial(trial.id, {"loss": loss, "latency": 1.0}, True, TWO)
    assert [t.arch_id for t in store.trials(job_id, order_by="loss")] == ["b", "a", "c", "d"]
    assert [t.arch_id for t in store.trials(job_id, order_by="loss", descending=True)] == ["c", "a", "b", "d"]
    assert [t.arch_id for t in store.trials(job_id, order_by="loss", limit=2, offset=1)] == ["a", "c"]
    assert [t.number for t in store.trials(job_id, descending=True, limit=2)] == [3, 2]
    assert [t.arch_id for t in store.trials(job_id, on_front=True)] == ["b"]
    assert [t.arch_id for t in store.trials(job_id, on_front=False, states=["complete"])] == ["a", "c"]
    assert store.count_trials(job_id, ["queued"]) == 1
    with pytest.raises(ValueError, match="unknown trial state.* done"):
        store.trials(job_id, states=["done"])


def test_artifacts_are_recorded(store):
    job_id = new_job(store)
    (trial,) = store.add_trials(job_id, archs("a"))
    store.record_checkpoint(job_id, trial.id, "/tmp/subnet")
    with pytest.raises(IntegrityError):  # foreign keys are enforced on SQLite too
        store.record_checkpoint(job_id, 10**6, "/tmp/nowhere")
    engine = make_engine(store.url_display)  # the test databases have no password, so nothing is masked
    with engine.connect() as connection:
        assert connection.execute(text("SELECT path FROM supernas_checkpoints")).scalar_one() == "/tmp/subnet"
        assert (
            "supernas_predictors" not in inspect(connection).get_table_names()
        )  # dropped in version 5: never written
    engine.dispose()


def test_verifications_are_kept_beside_the_trials_newest_first_shown(store):
    job_id = new_job(store)
    a, b = store.add_trials(job_id, archs("a", "b"))
    for trial in (a, b):
        store.finish_trial(trial.id, {"loss": 1.0 + trial.number, "latency": 2.0}, True, TWO)
    old = store.record_verification(
        job_id,
        b.id,
        "/c/b",
        10,
        {"host": "x"},
        [
            VerifiedValue("loss", 2.0, 2.0, "held-out quality on the loaded checkpoint", True),
            VerifiedValue("latency", 2.0, 3.0, "timed", False, spread=0.1),
        ],
    )
    new = store.record_verification(
        job_id,
        b.id,
        "/c/b2",
        11,
        {"host": "y"},
        [
            VerifiedValue("loss", 2.0, 2.0, "held-out quality on the loaded checkpoint", True),
            VerifiedValue("latency", 2.0, None, "not re-measured", False, note="no device"),
        ],
    )
    first = store.record_verification(
        job_id, a.id, "/c/a", 9, {}, [VerifiedValue("loss", 0.0, 0.0, "m", True)]
    )
    assert [v.id for v in store.verifications(job_id)] == [
        first.id,
        new.id,
    ]  # newest per trial, by trial number
    assert [v.id for v in store.verifications(job_id, history=True)] == [first.id, old.id, new.id]
    assert store.verifications(job_id, [1]) == [new]
    assert old.values["latency"].error == pytest.approx(0.5) and new.values["latency"].error is None
    assert first.values["loss"].error == 0.0  # searched 0: the absolute difference
    assert store.get_trial(job_id, 1).values == {
        "loss": 2.0,
        "latency": 2.0,
    }  # never over the searched values
    with pytest.raises(NotFoundError, match="has no trial with id"):
        store.record_verification(job_id, 10**6, "/c", 1, {}, [])


# ------------------------------------------------------------------------------------------ opening


def test_url_resolution_default_env_and_argument(tmp_path, monkeypatch, isolated_home):
    monkeypatch.delenv("SUPERNAS_DB", raising=False)
    with open_store() as default:
        assert default.url_display == f"sqlite:///{isolated_home / 'supernas.db'}"
    from_env = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("SUPERNAS_DB", from_env)
    with open_store() as chosen:
        assert chosen.url_display == from_env
    explicit = f"sqlite:///{tmp_path / 'explicit.db'}"
    with open_store(explicit) as chosen:
        assert chosen.url_display == explicit


@pytest.mark.parametrize(
    "url", ["nosuchdriver://x", "not a url at all", "postgresql://u:pw@host:notaport/db"]
)
def test_bad_urls_raise_one_line_store_errors(url):
    with pytest.raises(StoreError) as caught:
        open_store(url)
    message = str(caught.value)
    assert message.startswith("cannot open database ") and "\n" not in message
    assert ":pw@" not in message


def test_unreachable_postgres_names_the_url_without_its_password():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket is closed
    with pytest.raises(StoreError) as caught:
        open_store(f"postgresql://postgres:s3cret-pw@127.0.0.1:{port}/supernas")
    message = str(caught.value)
    assert message.startswith(f"cannot open database postgresql://postgres:***@127.0.0.1:{port}/supernas: ")
    assert "\n" not in message and "s3cret" not in message


# ------------------------------------------------------------------------------------------ concurrency


@pytest.mark.timing
def test_sqlite_readers_and_writers_work_at_once(tmp_path):
    path = tmp_path / "shared.db"
    reader, *writers = stores = [open_store(f"sqlite:///{path}") for _ in range(3)]
    jobs = [new_job(writer, f"job{i}") for i, writer in enumerate(writers)]
    errors: list[Exception] = []
    writing = threading.Event()

    def write(store: Store, job_id: int) -> None:  # two writers on one file: they queue (busy_timeout)
        for i, trial in enumerate(store.add_trials(job_id, archs(*(f"a{i}" for i in range(30))))):
            store.mark_running(trial.id, "w0")
            store.finish_trial(trial.id, {"loss": float(i % 7), "latency": float(-i % 5)}, True, TWO)

    def read() -> None:  # a dashboard reading while they write (WAL)
        while writing.is_set():
            for job_id in jobs:
                reader.get_job(job_id), reader.front(job_id), reader.trials(job_id, states=["complete"])

    def guarded(work: Callable[..., None], *args: object) -> None:
        try:
            work(*args)
        except Exception as e:  # a thread's exception would otherwise vanish
            errors.append(e)

    writing.set()
    threads = [
        threading.Thread(target=guarded, args=(write, store, job_id)) for store, job_id in zip(writers, jobs)
    ]
    threads.append(threading.Thread(target=guarded, args=(read,)))
    for thread in threads:
        thread.start()
    for thread in threads[:-1]:
        thread.join()
    writing.clear()
    threads[-1].join()
    assert errors == []
    assert [reader.get_job(job_id).n_complete for job_id in jobs] == [30, 30]

    # A reader in the middle of a transaction keeps its snapshot and does not hold the writer up: the
    # write commits while the reader's transaction is still open (a blocked writer could only fail).
    raw = sqlite3.connect(path, isolation_level=None)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    count = "SELECT count(*) FROM supernas_trials"
    raw.execute("BEGIN")
    before = raw.execute(count).fetchone()[0]
    writers[0].add_trials(jobs[0], archs("late"))
    with closing(sqlite3.connect(path)) as fresh:
        assert fresh.execute(count).fetchone()[0] == before + 1  # committed, the reader still open
    assert raw.execute(count).fetchone()[0] == before
    raw.execute("COMMIT")
    assert raw.execute(count).fetchone()[0] == before + 1
    raw.close()
    for store in stores:
        store.close()
