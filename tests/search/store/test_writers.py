"""Two writers of one job take turns (SQLite and PostgreSQL); a bulk import, and a controller's batch of
trial changes, store exactly what adding and finishing the same trials one by one stores."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from supernas.search.pareto import hypervolume, minimization_vector
from supernas.search.store.leases import LeaseLost
from supernas.search.store.records import TrialUpdate
from supernas.search.store.store import open_store
from tests.search.jobs_helpers import brute_force_front
from tests.search.store.helpers import THREE, TWO, archs, new_job

ROUNDS = 15


def test_two_writers_of_one_job_take_turns(store_url):
    """Each writer queues its own architectures plus ones the other also queues, then finishes what it got.
    Taking turns means: trial numbers without gaps or repeats, every architecture once, one hypervolume
    point per finished trial counted in order, and the stored front equal to a brute-force filter."""
    first, second = open_store(store_url), open_store(store_url)
    job_id = new_job(first)
    first.set_reference(job_id, [10.0, 10.0])
    start, errors = threading.Barrier(2), []

    def write(store, name: str, seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            start.wait()
            for i in range(ROUNDS):
                for trial in store.add_trials(job_id, archs(f"{name}{i}", f"shared{i}")):
                    store.mark_running(trial.id, name)
                    store.finish_trial(
                        trial.id,
                        {"loss": float(rng.integers(0, 9)), "latency": float(rng.integers(0, 9))},
                        True,
                        TWO,
                    )
        except Exception as e:  # a thread's exception would otherwise vanish
            errors.append(e)

    threads = [
        threading.Thread(target=write, args=(s, n, k))
        for k, (s, n) in enumerate([(first, "a"), (second, "b")])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    trials = first.trials(job_id)
    assert [t.number for t in trials] == list(range(3 * ROUNDS))  # a{i}, b{i} and one shared{i} each round
    assert sorted(t.arch_id for t in trials) == sorted(
        [f"{n}{i}" for n in ("a", "b", "shared") for i in range(ROUNDS)]
    )
    assert all(t.state == "complete" for t in trials)
    assert {t.id for t in first.front(job_id)} == brute_force_front(trials, TWO)
    history = first.hypervolume_history(job_id)
    assert [n for n, _ in history] == list(range(1, 3 * ROUNDS + 1))
    volumes = [v for _, v in history]
    assert all(b >= a for a, b in zip(volumes, volumes[1:]))
    front = np.array([minimization_vector(t.values, TWO) for t in first.front(job_id)])
    assert volumes[-1] == hypervolume(front, [10.0, 10.0])
    first.close()
    second.close()


def _one_by_one(store, job_id: int, batch) -> None:
    for arch_id, arch_json, values, feasible in batch:
        added = store.add_trials(job_id, [(arch_id, arch_json)])
        if not added:
            continue  # the job has it already: import skips it too
        if values is None:
            store.fail_trial(added[0].id, "imported as failed")
        else:
            store.finish_trial(added[0].id, values, feasible, THREE)


def _stored(store, job_id: int) -> tuple:
    trials = [(t.number, t.arch_id, t.state, t.values, t.on_front, t.error) for t in store.trials(job_id)]
    return trials, store.hypervolume_history(job_id)


def test_import_trials_stores_what_adding_them_one_by_one_stores(store_url):
    rng = np.random.default_rng(7)

    def batch(prefix: str, n: int) -> list:
        rows = []
        for i in range(n):
            outcome = rng.random()
            values = None if outcome < 0.1 else {name: float(rng.integers(0, 6)) for name, _ in THREE}
            rows.append((f"{prefix}{i}", f'{{"id": "{prefix}{i}"}}', values, outcome > 0.3))
        return rows

    earlier, later = batch("old", 12), batch("new", 40)
    later += [later[3], earlier[0]]  # a repeat within the batch and an architecture the job has
    with open_store(store_url) as store:
        jobs = [new_job(store, name) for name in ("one-by-one", "imported")]
        for job_id in jobs:  # the same history before: a front to extend and a fixed reference
            store.set_reference(job_id, [6.0, 0.0, 6.0])
            _one_by_one(store, job_id, earlier)
        _one_by_one(store, jobs[0], later)
        added = store.import_trials(jobs[1], later, THREE)
        expected, imported = _stored(store, jobs[0]), _stored(store, jobs[1])
        assert added == 40
        assert imported == expected
        assert {t.id for t in store.front(jobs[1])} == brute_force_front(store.trials(jobs[1]), THREE)
        assert store.import_trials(jobs[1], later, THREE) == 0  # all known now: nothing changes
        assert _stored(store, jobs[1]) == expected


def test_record_trials_stores_what_the_one_by_one_calls_store(store_url):
    """A controller's batches (trials new in the batch and finished in it, trials queued by an earlier batch
    and finished in a later one, a running one put back in the queue, a failure) end in the store exactly as
    the same events written one call each: states, numbers, values, times, front and hypervolume history."""
    rng = np.random.default_rng(3)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    events = []  # (arch_id, outcome) in the order they happen; outcome None: put back in the queue
    for i in range(30):
        outcome = rng.random()
        values = {name: float(rng.integers(0, 6)) for name, _ in THREE}
        events.append(
            (f"a{i}", None if outcome < 0.1 else "failed" if outcome < 0.2 else (values, outcome > 0.4))
        )
    with open_store(store_url) as store:
        jobs = [new_job(store, name) for name in ("one-by-one", "batched")]
        for job_id in jobs:
            store.set_reference(job_id, [6.0, 0.0, 6.0])

        ids, requeued = {}, set()
        for _i, (arch_id, outcome) in enumerate(events):  # one call per event
            if arch_id not in ids:
                ids[arch_id] = store.add_trials(jobs[0], [(arch_id, f'{{"id": "{arch_id}"}}')])[0].id
            store.mark_running(ids[arch_id], "w1")
            if outcome is None:
                store.requeue(ids[arch_id])
                requeued.add(arch_id)
            elif outcome == "failed":
                store.fail_trial(ids[arch_id], "boom")
            else:
                store.finish_trial(ids[arch_id], outcome[0], outcome[1], THREE, "w2")

        batches, trial = [[]], {}  # the same events as TrialUpdates, written 7 at a time
        for i, (arch_id, outcome) in enumerate(events):
            trial[arch_id] = replace(
                trial.get(arch_id) or TrialUpdate(arch_id, i, f'{{"id": "{arch_id}"}}', "queued"),
                state="running",
                worker="w1",
                started_at=t0 + timedelta(seconds=i),
            )
            if outcome is None:
                trial[arch_id] = replace(trial[arch_id], state="queued", worker=None, started_at=None)
            elif outcome == "failed":
                trial[arch_id] = replace(
                    trial[arch_id],
                    state="failed",
                    error="boom",
                    finished_at=t0 + timedelta(seconds=i, milliseconds=5),
                )
            else:
                trial[arch_id] = replace(
                    trial[arch_id],
                    state="complete" if outcome[1] else "infeasible",
                    worker="w2",
                    values=outcome[0],
                    finished_at=t0 + timedelta(seconds=i, milliseconds=5),
                )
            batches[-1].append(trial[arch_id])
            if len(batches[-1]) == 7:
                batches.append([])
        for batch in batches:
            store.record_trials(jobs[1], batch, THREE)

        expected, batched = _stored(store, jobs[0]), _stored(store, jobs[1])
        assert batched == expected
        assert requeued and {t.arch_id for t in store.trials(jobs[1], states=["queued"])} == requeued
        finished = store.trials(jobs[1], states=["complete", "infeasible", "failed"])
        assert all(t.worker == ("w1" if t.state == "failed" else "w2") for t in finished)
        assert all(t.duration_s == pytest.approx(0.005) for t in finished)  # the controller's own times
        assert {t.id for t in store.front(jobs[1])} == brute_force_front(store.trials(jobs[1]), THREE)

        done = next(t for t in finished if t.state == "complete")
        again = TrialUpdate(done.arch_id, done.number, done.arch_json, "running")
        with pytest.raises(ValueError, match="finished trials never change"):
            store.record_trials(jobs[1], [again], THREE)
        assert _stored(store, jobs[1]) == expected


def test_record_trials_refuses_a_writer_whose_lease_passed_on(store_url):
    with open_store(store_url) as store:
        job_id = new_job(store)
        store.take_lease(job_id, "first", 60)
        store.record_trials(job_id, [TrialUpdate("x0", 0, "{}", "queued")], THREE, holder="first")
        store.release_lease(job_id, "first")
        store.take_lease(job_id, "second", 60)
        with pytest.raises(LeaseLost, match="job .* is no longer run by first; second took it over"):
            store.record_trials(job_id, [TrialUpdate("x1", 1, "{}", "queued")], THREE, holder="first")
        assert [t.arch_id for t in store.trials(job_id)] == ["x0"]  # nothing of the refused batch
