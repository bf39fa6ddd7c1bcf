"""Search jobs end to end on real Ray workers and a real database (SQLite file and PostgreSQL)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from datetime import UTC, datetime

import pytest

from supernas.search.jobspec import load_job_spec
from supernas.search.runner import create_job, execute
from supernas.search.store.records import EVALUATED
from supernas.search.store.store import open_store
from supernas.workers.cluster import connect, disconnect
from tests.processes import kill_ray_session_of
from tests.search.jobs_helpers import assert_consistent, write_job


@pytest.fixture(scope="module")
def local_ray():
    connect(None, workers=2)
    yield
    disconnect()


def test_two_objective_job_on_two_workers(local_ray, tmp_path, store_url):
    job_file = write_job(tmp_path)
    spec = load_job_spec(job_file)
    store = open_store(store_url)
    job_id = create_job(store, spec)
    execute(store, job_id, spec, workers=2, ray_address=None, progress=False)
    assert_consistent(store, job_id, job_file, budget=16)
    workers = {t.worker for t in store.trials(job_id)}
    assert len(workers) == 2  # both actors did work
    infeasible = [t for t in store.trials(job_id) if t.state == "infeasible"]
    assert all(t.values["flops"] > 3.0e6 for t in infeasible)  # stored and marked, not dropped


def _kill_a_busy_worker(store_url: str, job_id: int, killed: list, stop: threading.Event) -> None:
    store = open_store(store_url)
    while not stop.is_set():
        running = [t for t in store.trials(job_id, states=["running"]) if t.worker]
        if running and store.count_trials(job_id, EVALUATED) >= 1:
            known = {t.worker for t in store.trials(job_id) if t.worker}
            pid = int(running[0].worker.split(":")[1].split("@")[0])
            os.kill(pid, signal.SIGKILL)
            killed.append((running[0].worker, known, datetime.now(UTC)))
            return
        time.sleep(0.05)


def test_killed_worker_is_replaced_and_its_trial_redone(local_ray, tmp_path, store_url):
    slow = [{"metric": "hidden_cov"}, {"metric": "latency_ms", "options": {"repeats": 30, "seq_len": 64}}]
    # enough work left after the kill for Ray's restart of the actor (a new process importing torch and
    # building its supernet takes as long as ~10 of these trials on the one worker left; 24 was too few)
    job_file = write_job(tmp_path, objectives=slow, constraints=[], budget={"trials": 40})
    spec = load_job_spec(job_file)
    store = open_store(store_url)
    job_id = create_job(store, spec)
    killed, stop = [], threading.Event()
    killer = threading.Thread(target=_kill_a_busy_worker, args=(store_url, job_id, killed, stop))
    killer.start()
    try:
        execute(store, job_id, spec, workers=2, ray_address=None, progress=False)
    finally:
        stop.set()
        killer.join()
    assert killed, "a worker was killed mid-job"
    dead, known_before, when = killed[0]
    trials = store.trials(job_id)
    assert {t.worker for t in trials} - known_before, "a replacement worker evaluated trials"
    assert all(
        t.finished_at <= when for t in trials if t.worker == dead
    )  # the dead worker finished nothing after
    assert_consistent(
        store, job_id, job_file, budget=40
    )  # its in-flight trial was re-queued: budget exact, no duplicates


def test_sigkilled_controller_then_resume(tmp_path, store_url):
    """A second controller is refused while the first holds the job's lease, and takes the job over once
    the SIGKILLed first one's lease expires: budget exact, nothing finished lost or evaluated twice."""
    job_file = write_job(tmp_path, budget={"trials": 60})
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
    _wait_for(lambda: store.list_jobs() and store.leases(), run)  # the run holds the job (it starts Ray next)
    job_id = store.list_jobs()[0].id
    resume = ["supernas", "resume", str(job_id), "--db", store_url, "--no-progress"]
    refused = subprocess.run(resume, capture_output=True, text=True, timeout=120, env=env)
    assert refused.returncode == 2
    assert refused.stderr.startswith(
        f"error: job {job_id} is being run by supernas run on {socket.gethostname()} (pid {run.pid})"
    )
    assert len(refused.stderr.strip().splitlines()) == 1

    _wait_for(lambda: store.count_trials(job_id, EVALUATED) >= 5, run)  # the first one runs on
    os.killpg(run.pid, signal.SIGKILL)  # the controller, at once
    run.wait()
    kill_ray_session_of(run.pid)  # and the local Ray it started, which runs in sessions of its own
    before = {t.id: (t.arch_id, t.state, t.values) for t in store.trials(job_id, states=EVALUATED)}
    assert 5 <= len(before) < 60 and store.get_job(job_id).status == "running"

    time.sleep(3)  # the dead controller's lease expires
    resumed = subprocess.run(resume, capture_output=True, text=True, timeout=300, env=env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    after = {t.id: (t.arch_id, t.state, t.values) for t in store.trials(job_id, states=EVALUATED)}
    assert all(after[i] == before[i] for i in before)  # nothing finished was lost or re-run
    assert_consistent(store, job_id, job_file, budget=60)
    assert store.leases() == {}  # given up at the end


def test_a_controller_whose_lease_passed_on_stops_and_leaves_the_job_alone(tmp_path):
    """Another controller took the job over (the first stalled past its lease): the first stops at its next
    write with one line naming the new holder, and neither writes the job's trials nor changes its status."""
    url = f"sqlite:///{tmp_path / 'taken.db'}"
    job_file = write_job(tmp_path, budget={"trials": 400})
    run = subprocess.Popen(
        ["supernas", "run", job_file, "--db", url, "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    store = open_store(url)
    try:
        _wait_for(lambda: store.list_jobs() and store.count_trials(1, EVALUATED) >= 5, run)
        (lease,) = store.leases().values()
        store.release_lease(1, lease.holder)  # as an expiry would let it
        store.take_lease(1, "the other controller", 60)
        _, stderr = run.communicate(timeout=120)
    finally:
        kill_ray_session_of(run.pid)
    assert run.returncode == 2
    assert (
        stderr.strip()
        == f"error: job 1 is no longer run by {lease.holder}; the other controller took it over"
    )
    trials = {t.id: (t.state, t.values) for t in store.trials(1)}
    time.sleep(0.5)
    assert {t.id: (t.state, t.values) for t in store.trials(1)} == trials  # nothing written after the refusal
    assert store.get_job(1).status == "running" and len(trials) < 400  # the new holder's to carry on
    assert store.leases()[1].holder == "the other controller"


def _wait_for(condition, run: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert run.poll() is None, run.stdout.read()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path):
    url = f"sqlite:///{tmp_path / 'interrupt.db'}"
    budget = 100_000  # far more than it can finish before the signal, however fast the machine
    job_file = write_job(tmp_path, budget={"trials": budget})
    run = subprocess.Popen(
        ["supernas", "run", job_file, "--db", url, "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    store = open_store(url)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not (store.list_jobs() and store.count_trials(1, EVALUATED) >= 3):
        time.sleep(0.1)
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 130
    assert "supernas resume 1" in err and "Traceback" not in err
    job = store.get_job(1)
    assert job.status == "stopped" and job.n_running == 0
    assert 3 <= store.count_trials(1, EVALUATED) < budget
