"""The job commands as a user runs them: run, jobs, show, pareto, extract JOB TRIAL, and their errors."""

from __future__ import annotations

import csv
import io
import json

import pytest

from supernas.data.inputs import random_batch
from supernas.models.checkpoint import load_subnet
from supernas.search.store.store import open_store
from supernas.spaces.architecture import Architecture
from tests.helpers import supernas
from tests.search.jobs_helpers import write_job


@pytest.fixture(scope="module")
def finished_job(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli-job")
    url = f"sqlite:///{tmp / 'jobs.db'}"
    done = supernas(
        "run", write_job(tmp, budget={"trials": 10}), "--db", url, "--workers", "1", "--no-progress"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return url, done.stdout


def test_run_prints_the_job_and_its_front(finished_job):
    url, out = finished_job
    assert out.startswith("job 1 (test-job): nsga2 on gpt-tiny, 1 workers")
    assert "Pareto front of job 1" in out and "job 1 completed:" in out


def test_jobs_and_show(finished_job):
    url, _ = finished_job
    jobs = supernas("jobs", "--db", url)
    assert (
        jobs.returncode == 0
        and "test-job" in jobs.stdout
        and "10/10" in jobs.stdout
        and "completed" in jobs.stdout
    )
    shown = supernas("show", "test-job", "--db", url)
    assert (
        shown.returncode == 0
        and "trials: 10/10 evaluated" in shown.stdout
        and "metric: hidden_cov" in shown.stdout
    )


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
    assert (
        done.returncode == 2
        and "field 'budget.trials' = -1" in done.stderr
        and len(done.stderr.strip().splitlines()) == 1
    )
    assert supernas("run", str(tmp_path / "absent.yaml"), "--db", url).returncode == 2
    assert open_store(url).list_jobs() == []
    assert supernas("run", str(bad), "--db", "nosuchdriver://x").returncode == 2


def test_export_a_trial_as_onnx_runs_in_onnx_runtime(finished_job, tmp_path):
    import numpy as np

    from supernas.export.onnx import example_inputs, runtime_session, torch_outputs

    url, _ = finished_job
    trial = open_store(url).front(1)[0]
    done = supernas(
        "export", "1", str(trial.number), "--format", "onnx", "-o", str(tmp_path / "onnx"), "--db", url
    )
    assert done.returncode == 0, done.stderr
    assert "ONNX Runtime ran it" in done.stdout
    assert sorted(p.name for p in (tmp_path / "onnx").iterdir()) == ["model.onnx"]
    supernas("extract", "1", str(trial.number), "-o", str(tmp_path / "ckpt"), "--db", url)
    model = load_subnet(tmp_path / "ckpt")
    again = supernas(
        "export", "--checkpoint", str(tmp_path / "ckpt"), "--format", "onnx", "-o", str(tmp_path / "onnx2")
    )
    assert again.returncode == 0, again.stderr
    inputs = example_inputs(model.spec, 1, 8)
    a = runtime_session(tmp_path / "onnx" / "model.onnx").run(None, inputs)[0]
    b = runtime_session(tmp_path / "onnx2" / "model.onnx").run(None, inputs)[0]
    assert np.array_equal(a, b)  # the job's trial and its extracted checkpoint export the same model
    assert a.shape == torch_outputs(model, inputs)[0].shape == (1, 8, 256)


def test_export_refuses_a_failed_trial(finished_job, tmp_path):
    import shutil

    url, _ = finished_job
    copy = tmp_path / "copy.db"
    shutil.copy(url.removeprefix("sqlite:///"), copy)
    store = open_store(f"sqlite:///{copy}")
    arch = Architecture.model_validate(json.loads(store.get_trial(1, 0).arch_json))
    changed = arch.model_copy(update={"embed_dim": 64 if arch.embed_dim != 64 else 96})
    (added,) = store.add_trials(1, [(changed.arch_id, changed.to_json())])
    store.fail_trial(added.id, "RuntimeError: out of memory")
    done = supernas(
        "export",
        "1",
        str(added.number),
        "--format",
        "onnx",
        "-o",
        str(tmp_path / "x"),
        "--db",
        f"sqlite:///{copy}",
    )
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert f"trial {added.number} of job 1 failed (RuntimeError: out of memory)" in done.stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "args, needle",
    [
        (
            ["export", "1", "0", "--format", "tflite", "-o", "x"],
            "unknown export format 'tflite' (allowed: supernas, onnx, hf, sentence-transformers)",
        ),
        (
            ["export", "1", "0", "--format", "sentence-transformers", "-o", "x"],
            "space 'gpt-tiny' is task 'causal_lm'; use --format hf",
        ),
        (["export", "1", "-o", "x"], "export needs JOB TRIAL"),
        (["export", "1", "9999", "-o", "x"], "9999"),
        (["export", "--checkpoint", "nowhere", "-o", "x"], "nowhere"),
    ],
)
def test_export_errors_are_one_line(finished_job, tmp_path, monkeypatch, args, needle):
    url, _ = finished_job
    monkeypatch.chdir(tmp_path)
    done = supernas(*args, "--db", url)
    assert done.returncode == 2 and needle in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_export_into_a_non_empty_directory_is_refused(finished_job, tmp_path):
    url, _ = finished_job
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    done = supernas("export", "1", "0", "--format", "onnx", "-o", str(tmp_path / "out"), "--db", url)
    assert done.returncode == 2 and "exists and is not empty" in done.stderr
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["keep.txt"]
