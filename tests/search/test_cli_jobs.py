"""The job commands as a user runs them: run, jobs, show, pareto, extract JOB TRIAL, and their errors."""

from __future__ import annotations

import csv
import io
import json
import subprocess

import pytest

from supernas.search.store import open_store
from supernas.spaces import Architecture, load_subnet
from supernas.spaces.inputs import random_batch

from .jobs_helpers import write_job


def supernas(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["supernas", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def finished_job(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli-job")
    url = f"sqlite:///{tmp / 'jobs.db'}"
    done = supernas("run", write_job(tmp, budget={"trials": 10}), "--db", url, "--workers", "1", "--no-progress")
    assert done.returncode == 0, done.stdout + done.stderr
    return url, done.stdout


def test_run_prints_the_job_and_its_front(finished_job):
    url, out = finished_job
    assert out.startswith("job 1 (test-job): nsga2 on gpt-tiny, 1 workers")
    assert "Pareto front of job 1" in out and "job 1 completed:" in out


def test_jobs_and_show(finished_job):
    url, _ = finished_job
    jobs = supernas("jobs", "--db", url)
    assert jobs.returncode == 0 and "test-job" in jobs.stdout and "10/10" in jobs.stdout and "completed" in jobs.stdout
    shown = supernas("show", "test-job", "--db", url)
    assert shown.returncode == 0 and "trials: 10/10 evaluated" in shown.stdout and "metric: hidden_cov" in shown.stdout


def test_pareto_json_and_csv_match_the_store(finished_job):
    url, _ = finished_job
    store = open_store(url)
    front = {t.number: t for t in store.front(1)}
    as_json = json.loads(supernas("pareto", "1", "--format", "json", "--db", url).stdout)
    assert {row["trial"] for row in as_json} == set(front)
    for row in as_json:
        assert row["hidden_cov"] == front[row["trial"]].values["hidden_cov"]
        assert Architecture.model_validate(row["architecture"]).arch_id == row["arch_id"]
    rows = list(csv.DictReader(io.StringIO(supernas("pareto", "1", "--format", "csv", "--db", url).stdout)))
    assert {int(r["trial"]) for r in rows} == set(front)
    assert all(float(r["flops"]) == front[int(r["trial"])].values["flops"] for r in rows)


def test_extract_a_trial_of_a_job(finished_job, tmp_path):
    url, _ = finished_job
    trial = open_store(url).front(1)[0]
    done = supernas("extract", "1", str(trial.number), "-o", str(tmp_path / "ckpt"), "--db", url)
    assert done.returncode == 0, done.stderr
    model = load_subnet(tmp_path / "ckpt")
    assert model.arch.arch_id == trial.arch_id
    assert model(random_batch(model.spec, 1, 8).inputs).shape == (1, 8, 256)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["show", "99"], "no job '99'"),
        (["pareto", "1", "--format", "xml"], "--format 'xml' is not supported (allowed: csv, json, table)"),
        (["extract", "1", "9999", "-o", "x"], "9999"),
        (["extract", "1", "-o", "x"], "extract JOB needs TRIAL"),
        (["resume", "nope"], "no job 'nope'"),
    ],
)
def test_job_command_errors_are_one_line(finished_job, args, needle):
    url, _ = finished_job
    done = supernas(*args, "--db", url)
    assert done.returncode == 2 and needle in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_bad_job_file_is_one_line_and_stores_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    bad = tmp_path / "bad.yaml"
    bad.write_text(open(write_job(tmp_path)).read().replace("trials: 16", "trials: -1"))
    done = supernas("run", str(bad), "--db", url)
    assert done.returncode == 2 and "field 'budget.trials' = -1" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert supernas("run", str(tmp_path / "absent.yaml"), "--db", url).returncode == 2
    assert open_store(url).list_jobs() == []
    assert supernas("run", str(bad), "--db", "nosuchdriver://x").returncode == 2
