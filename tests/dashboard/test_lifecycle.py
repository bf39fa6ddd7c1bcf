"""Jobs submitted to the server live through cancel/resume and through the server's own restarts:
a graceful stop queues the running job again, a crash (SIGKILL) leaves it running in the store, and
the next server finishes it with every finished trial kept and the budget spent exactly."""

from __future__ import annotations

import signal

import yaml

from supernas.search.store.records import EVALUATED
from supernas.search.store.store import open_store
from tests.dashboard.server import serving, small_job
from tests.search.jobs_helpers import assert_consistent

BUDGET = 20


def slow_job() -> dict:
    """Trials of a few tenths of a second (measured latency), so a run can be caught half-way."""
    return small_job(
        name="slow",
        budget={"trials": BUDGET},
        constraints=[],
        objectives=[
            {"metric": "hidden_cov"},
            {"metric": "latency_ms", "options": {"seq_len": 64, "repeats": 30}},
        ],
    )


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
    with serving(tmp_path / "home") as server:
        job = server.submit(slow_job())
        server.wait(job["id"], ("running",), evaluated=3)
        with server.client() as c:
            assert c.post(f"/api/jobs/{job['id']}/cancel").status_code == 200
        stopped = server.wait(job["id"], ("stopped",))
        assert 3 <= stopped["evaluated"] < BUDGET and stopped["running"] == 0
        kept = finished_trials(server.db_url, job["id"])
        with server.client() as c:
            assert c.post(f"/api/jobs/{job['id']}/resume").status_code == 200
        assert server.wait(job["id"])["status"] == "completed"
        check_finished(server.db_url, job["id"], slow_job(), tmp_path, kept)


def test_server_restarts_pick_the_job_back_up(tmp_path):
    home = tmp_path / "home"
    with serving(home) as server:
        job_id = server.submit(slow_job())["id"]
        server.wait(job_id, ("running",), evaluated=2)
        assert server.stop(signal.SIGINT) == 0  # graceful: the job goes back to the queue
        with open_store(server.db_url) as store:
            assert store.get_job(job_id).status == "queued" and store.get_job(job_id).n_running == 0
        kept = finished_trials(server.db_url, job_id)
    with serving(home) as server:
        server.wait(job_id, ("running",), evaluated=len(kept) + 2)
        server.stop(signal.SIGKILL)  # a crash: the store still says running
        with open_store(server.db_url) as store:
            assert store.get_job(job_id).status == "running"
        kept = finished_trials(server.db_url, job_id)
        assert len(kept) < BUDGET
    with serving(home) as server:
        assert server.wait(job_id)["status"] == "completed"
        check_finished(server.db_url, job_id, slow_job(), tmp_path, kept)


def test_two_jobs_run_at_once_and_a_cancel_stops_only_its_own(tmp_path):
    """``serve --max-jobs 2``: two jobs on one local Ray instance (one worker each on 2 CPUs)."""
    with serving(tmp_path / "home", "--max-jobs", "2") as server:
        first, second = (server.submit(slow_job() | {"name": name})["id"] for name in ("first", "second"))
        for job_id in (first, second):
            server.wait(job_id, ("running",), evaluated=2)
        with server.client() as c:
            assert c.post(f"/api/jobs/{second}/cancel").status_code == 200
        assert server.wait(second, ("stopped",))["evaluated"] < BUDGET
        with server.client() as c:
            assert c.get(f"/api/jobs/{first}").json()["status"] in (
                "running",
                "completed",
            )  # the other runs on
        assert server.wait(first)["status"] == "completed"
        kept = finished_trials(server.db_url, second)
        with server.client() as c:
            assert c.post(f"/api/jobs/{second}/resume").status_code == 200
        assert server.wait(second)["status"] == "completed"

        check_finished(server.db_url, first, slow_job() | {"name": "first"}, tmp_path, {})
        check_finished(server.db_url, second, slow_job() | {"name": "second"}, tmp_path, kept)
        with open_store(server.db_url) as store:
            a, b = store.trials(first), store.trials(second)
        overlapping = [
            (x.number, y.number)
            for x in a
            for y in b
            if x.started_at < y.finished_at and y.started_at < x.finished_at
        ]
        assert overlapping, "the two jobs' trials ran at the same time"
