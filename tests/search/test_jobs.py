"""Search jobs end to end on real Ray workers and a real database (SQLite file and PostgreSQL).

Tests that interrupt a running job (kill a worker, SIGKILL or Ctrl-C the controller, take its lease)
hold it at a gate (:mod:`tests.barrier`): the job has finished exactly the trials the test let through
when it acts, however fast or loaded the machine is, and no test asserts on elapsed time."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from datetime import UTC, datetime

import pytest

from supernas.search.jobspec import load_job_spec
from supernas.search.runner import create_job, execute
from supernas.search.store.records import EVALUATED
from supernas.search.store.store import open_store
from supernas.workers.cluster import connect, disconnect
from tests.barrier import PATIENCE_S, PLUGIN, Background, Gate, on_two_workers, wait_until
from tests.processes import kill_ray_session_of
from tests.search.jobs_helpers import assert_consistent, write_job

pytestmark = pytest.mark.timing


@pytest.fixture(scope="module")
def local_ray():
    connect(None, workers=2)
    yield
    disconnect()


def test_two_objective_job_on_two_workers(local_ray, tmp_path, store_url):
    """Both workers do work: the trials wait at a gate (a constraint no trial breaks) until both workers
    hold one, however fast one of them starts."""
    gate = Gate(tmp_path / "gate")
    constraints = [{"metric": "flops", "max": 3.0e6}, gate.constraint()]
    job_file = write_job(tmp_path, constraints=constraints, plugins=[str(PLUGIN)], reference=[-1000.0, 3.0e6])
    spec = load_job_spec(job_file)
    store = open_store(store_url)
    job_id = create_job(store, spec)
    on_two_workers(gate, lambda: execute(store, job_id, spec, workers=2, ray_address=None, progress=False))
    assert_consistent(store, job_id, job_file, budget=16)
    workers = {t.worker for t in store.trials(job_id)}
    assert len(workers) == 2  # both actors did work
    infeasible = [t for t in store.trials(job_id) if t.state == "infeasible"]
    assert all(t.values["flops"] > 3.0e6 for t in infeasible)  # stored and marked, not dropped


def gated_job(tmp_path, gate: Gate, trials: int) -> str:
    """A job whose every trial waits at ``gate``: depth (gated) against FLOPs, no constraint, and a given
    reference point, so nothing but trials is evaluated."""
    return write_job(tmp_path, **gate.job_fields(), budget={"trials": trials})


def evaluated(store, job_id: int = 1) -> int:
    return store.count_trials(job_id, EVALUATED) if store.list_jobs() else 0


def test_killed_worker_is_replaced_and_its_trial_redone(local_ray, tmp_path, store_url):
    """A worker killed mid-trial is restarted by Ray, its trial goes back to the queue, and the
    replacement evaluates trials: budget exact, nothing evaluated twice, nothing finished by the dead one
    after it died."""
    gate = Gate(tmp_path / "gate")
    job_file = gated_job(tmp_path, gate, trials=12)
    spec = load_job_spec(job_file)
    store = open_store(store_url)
    job_id = create_job(store, spec)
    gate.release(1)
    job = lambda: execute(store, job_id, spec, workers=2, ray_address=None, progress=False)  # noqa: E731
    with Background(job, gate) as run:
        watcher = open_store(store_url)  # this thread's own connections
        wait_until(
            lambda: evaluated(watcher, job_id) == 1 and gate.arrivals() == 3,
            "one trial stored and both workers at the gate",
            alive=run,
        )
        workers = set(gate.arrival_pids())
        victim = min(workers)

        def by_victim() -> set[int]:
            return {t.id for t in watcher.trials(job_id, states=EVALUATED) if f":{victim}@" in t.worker}

        finished_by_victim = by_victim()
        os.kill(victim, signal.SIGKILL)  # while it holds a trial at the gate
        wait_until(lambda: set(gate.arrival_pids()) - workers, "a replacement worker at the gate", alive=run)
        (replacement,) = set(gate.arrival_pids()) - workers
        gate.open()
        run.join()
        assert by_victim() == finished_by_victim  # the dead worker finished nothing after
        assert any(f":{replacement}@" in t.worker for t in store.trials(job_id, states=EVALUATED))
    assert_consistent(store, job_id, job_file, budget=12)  # its trial was re-queued: exact, no duplicates


def test_sigkilled_controller_then_resume(tmp_path, store_url):
    """A second controller is refused while the first holds the job's lease, and takes the job over once
    the SIGKILLed first one's lease expires: budget exact, nothing finished lost or evaluated twice."""
    gate = Gate(tmp_path / "gate")
    job_file = gated_job(tmp_path, gate, trials=12)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "SUPERNAS_LEASE_S": "3"}
    run = subprocess.Popen(
        ["supernas", "run", job_file, "--db", store_url, "--no-progress"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    store = open_store(store_url)
    wait_until(lambda: store.list_jobs() and store.leases(), "the run to hold the job", alive=run)
    job_id = store.list_jobs()[0].id
    resume = ["supernas", "resume", str(job_id), "--db", store_url, "--no-progress"]
    refused = subprocess.run(resume, capture_output=True, text=True, timeout=PATIENCE_S, env=env)
    assert refused.returncode == 2
    assert refused.stderr.startswith(
        f"error: job {job_id} is being run by supernas run on {socket.gethostname()} (pid {run.pid})"
    )
    assert len(refused.stderr.strip().splitlines()) == 1

    gate.release(5)
    wait_until(lambda: evaluated(store, job_id) == 5 and gate.arrivals() == 7, "5 trials stored", alive=run)
    os.killpg(run.pid, signal.SIGKILL)  # the controller, at once
    run.wait()
    kill_ray_session_of(run.pid)  # and the local Ray it started, which runs in sessions of its own
    before = {t.id: (t.arch_id, t.state, t.values) for t in store.trials(job_id, states=EVALUATED)}
    assert len(before) == 5 and store.get_job(job_id).status == "running"

    (lease,) = store.leases().values()
    wait_until(lambda: datetime.now(UTC) > lease.expires_at, "the dead controller's lease to expire")
    gate.open()
    resumed = subprocess.run(resume, capture_output=True, text=True, timeout=PATIENCE_S, env=env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    after = {t.id: (t.arch_id, t.state, t.values) for t in store.trials(job_id, states=EVALUATED)}
    assert all(after[i] == before[i] for i in before)  # nothing finished was lost or re-run
    assert_consistent(store, job_id, job_file, budget=12)
    assert store.leases() == {}  # given up at the end


def test_a_controller_whose_lease_passed_on_stops_and_leaves_the_job_alone(tmp_path):
    """Another controller took the job over (the first stalled past its lease): the first stops at its next
    write with one line naming the new holder, and neither writes the job's trials nor changes its status."""
    url = f"sqlite:///{tmp_path / 'taken.db'}"
    gate = Gate(tmp_path / "gate")
    job_file = gated_job(tmp_path, gate, trials=40)
    run = subprocess.Popen(
        ["supernas", "run", job_file, "--db", url, "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    store = open_store(url)
    try:
        gate.release(5)
        wait_until(lambda: evaluated(store) == 5 and gate.arrivals() == 7, "5 trials stored", alive=run)
        finished = {t.id: (t.state, t.values) for t in store.trials(1, states=EVALUATED)}
        (lease,) = store.leases().values()
        store.release_lease(1, lease.holder)  # as an expiry would let it
        store.take_lease(1, "the other controller", 60)
        gate.open()  # its next results: the write that finds the lease gone
        _, stderr = run.communicate(timeout=PATIENCE_S)
    finally:
        kill_ray_session_of(run.pid)
    assert run.returncode == 2
    assert (
        stderr.strip()
        == f"error: job 1 is no longer run by {lease.holder}; the other controller took it over"
    )
    # nothing written after the refusal: the trials finished before it are all there are
    assert {t.id: (t.state, t.values) for t in store.trials(1, states=EVALUATED)} == finished
    assert store.get_job(1).status == "running"  # the new holder's to carry on
    assert store.leases()[1].holder == "the other controller"


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path):
    url = f"sqlite:///{tmp_path / 'interrupt.db'}"
    gate = Gate(tmp_path / "gate")
    job_file = gated_job(tmp_path, gate, trials=40)
    run = subprocess.Popen(
        ["supernas", "run", job_file, "--db", url, "--no-progress"],
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},  # SIGABRT prints every thread's stack
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # Ctrl-C as in a user's shell
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    store = open_store(url)
    gate.release(3)
    wait_until(lambda: evaluated(store) == 3 and gate.arrivals() == 5, "3 trials stored", alive=run)
    run.send_signal(signal.SIGINT)
    try:
        _, err = run.communicate(timeout=PATIENCE_S)
    except subprocess.TimeoutExpired:
        run.send_signal(signal.SIGABRT)
        _, err = run.communicate(timeout=60)
        raise AssertionError(
            f"still running {PATIENCE_S} s after Ctrl-C; its threads then:\n{err[-8000:]}"
        ) from None
    finally:
        kill_ray_session_of(run.pid)
    assert run.returncode == 130
    assert "supernas resume 1" in err and "Traceback" not in err
    job = store.get_job(1)
    assert job.status == "stopped" and job.n_running == 0
    assert store.count_trials(1, EVALUATED) == 3
