"""Jobs submitted to the server live through cancel/resume and through the server's own restarts:
a graceful stop queues the running job again, a crash (SIGKILL) leaves it running in the store, and
the next server finishes it with every finished trial kept and the budget spent exactly. Every job waits
at a gate (:mod:`tests.barrier`), so each stop comes after exactly the trials the test let through."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import yaml

from supernas.search.store.records import EVALUATED
from supernas.search.store.store import open_store
from tests.barrier import Gate, plugin_in, wait_until
from tests.dashboard.server import serving, small_job
from tests.search.jobs_helpers import assert_consistent

pytestmark = pytest.mark.timing

BUDGET = 12


def gated_job(gate: Gate, home: Path, name: str = "gated") -> dict:
    """A one-worker job whose every trial waits at ``gate``, so a test stops it at a known trial count
    (the gate's plugin file is copied into the server's home, where the server accepts plugins)."""
    return small_job(name=name, budget={"trials": BUDGET}, **gate.job_fields(plugin_in(home / "plugins")))


def finished_trials(db_url: str, job_id: int) -> dict[int, tuple]:
    with open_store(db_url) as store:
        return {t.number: (t.arch_id, t.state, t.values) for t in store.trials(job_id, states=EVALUATED)}


def check_finished(db_url: str, job_id: int, spec: dict, tmp_path, kept: dict[int, tuple]) -> None:
    """Budget exact, front and hypervolume consistent, and the trials finished earlier unchanged."""
    job_file = tmp_path / "job.yaml"
    job_file.write_text(yaml.safe_dump(spec))
    after = finished_trials(db_url, job_id)
    assert all(after[n] == kept[n] for n in kept)
    with open_store(db_url) as store:
        assert_consistent(store, job_id, str(job_file), budget=BUDGET)


def test_cancel_then_resume_finishes_the_budget(tmp_path):
    home, gate = tmp_path / "home", Gate(tmp_path / "gate")
    spec = gated_job(gate, home)
    with serving(home) as server:
        job = server.submit(spec)
        gate.release(3)
        server.wait(job["id"], ("running",), evaluated=3)
        with server.client() as c:
            assert c.post(f"/api/jobs/{job['id']}/cancel").status_code == 200
        stopped = server.wait(job["id"], ("stopped",))
        assert stopped["evaluated"] == 3 and stopped["running"] == 0
        kept = finished_trials(server.db_url, job["id"])
        gate.open()
        with server.client() as c:
            assert c.post(f"/api/jobs/{job['id']}/resume").status_code == 200
        assert server.wait(job["id"])["status"] == "completed"
        check_finished(server.db_url, job["id"], spec, tmp_path, kept)


def test_server_restarts_pick_the_job_back_up(tmp_path):
    home, gate = tmp_path / "home", Gate(tmp_path / "gate")
    spec = gated_job(gate, home)
    with serving(home) as server:
        job_id = server.submit(spec)["id"]
        gate.release(2)
        server.wait(job_id, ("running",), evaluated=2)
        assert server.stop(signal.SIGINT) == 0  # graceful: the job goes back to the queue
        with open_store(server.db_url) as store:
            assert store.get_job(job_id).status == "queued" and store.get_job(job_id).n_running == 0
        kept = finished_trials(server.db_url, job_id)
        assert len(kept) == 2
    with serving(home) as server:
        gate.release(2)
        server.wait(job_id, ("running",), evaluated=4)
        server.stop(signal.SIGKILL)  # a crash: the store still says running
        with open_store(server.db_url) as store:
            assert store.get_job(job_id).status == "running"
        kept = finished_trials(server.db_url, job_id)
        assert len(kept) == 4
    gate.open()
    with serving(home) as server:
        assert server.wait(job_id)["status"] == "completed"
        check_finished(server.db_url, job_id, spec, tmp_path, kept)


def test_two_jobs_run_at_once_and_a_cancel_stops_only_its_own(tmp_path):
    """``serve --max-jobs 2``: two jobs on one local Ray instance (one worker each on 2 CPUs), each held at
    its own gate; both wait there at once, so they run at the same time."""
    home = tmp_path / "home"
    gates = {name: Gate(tmp_path / f"gate-{name}") for name in ("first", "second")}
    specs = {name: gated_job(gate, home, name) for name, gate in gates.items()}
    with serving(home, "--max-jobs", "2") as server:
        ids = {name: server.submit(spec)["id"] for name, spec in specs.items()}
        for name, gate in gates.items():
            gate.release(2)
            server.wait(ids[name], ("running",), evaluated=2)
        wait_until(
            lambda: all(g.arrivals() == 3 for g in gates.values()), "both jobs' third trials at their gates"
        )
        with server.client() as c:
            assert c.post(f"/api/jobs/{ids['second']}/cancel").status_code == 200
        assert server.wait(ids["second"], ("stopped",))["evaluated"] == 2
        with server.client() as c:
            assert c.get(f"/api/jobs/{ids['first']}").json()["status"] == "running"  # the other runs on
        gates["first"].open()
        assert server.wait(ids["first"])["status"] == "completed"
        kept = finished_trials(server.db_url, ids["second"])
        gates["second"].open()
        with server.client() as c:
            assert c.post(f"/api/jobs/{ids['second']}/resume").status_code == 200
        assert server.wait(ids["second"])["status"] == "completed"
        check_finished(server.db_url, ids["first"], specs["first"], tmp_path, {})
        check_finished(server.db_url, ids["second"], specs["second"], tmp_path, kept)


def test_a_running_jobs_data_follows_its_trials(tmp_path):
    """What the pages read of a running job (its counts, chart points and trials table) follows the job:
    held at 3 trials, then at 5, each view comes to show exactly those (the server's copy of a job may
    be a moment late, never ahead)."""
    home, gate = tmp_path / "home", Gate(tmp_path / "gate")
    with serving(home) as server:
        job_id = server.submit(gated_job(gate, home))["id"]

        def shown() -> tuple[int, int, list[int]]:
            """Trials on the chart, trials in the table, and the table's trial numbers."""
            with server.client() as c:
                plot = c.get(f"/api/jobs/{job_id}/plot").json()
                table = c.get(f"/api/jobs/{job_id}/trials", params={"state": "complete"}).json()
            charted = len(plot["front"]["numbers"]) + plot["dominated_total"]
            return charted, table["total"], sorted(row["number"] for row in table["items"])

        for done in (3, 5):
            gate.release(done - gate.allowed)
            job = server.wait(job_id, ("running",), evaluated=done)
            assert job["evaluated"] == job["complete"] == done  # no constraint: every trial is complete
            wait_until(lambda n=done: shown()[:2] == (n, n), f"the chart and the table to show {done} trials")
            assert shown()[2] == sorted(finished_trials(server.db_url, job_id))
        gate.open()
        assert server.wait(job_id)["status"] == "completed"
