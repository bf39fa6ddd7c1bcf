"""What a new user meets first: one-line errors with suggestions, directions in tables, machine output."""

from __future__ import annotations

import csv
import io
import json

import pytest

from supernas.search.store.store import open_store
from supernas.spaces.architecture import sample_many
from supernas.spaces.spec import load_spec
from tests.helpers import run_main

JOB_SPEC = {
    "name": "twice",
    "space": "gpt-tiny",
    "objectives": [{"metric": "params", "direction": None}, {"metric": "hidden_cov"}],
    "budget": {"trials": 4},
}
VALUES = [
    {"params": 3.0, "hidden_cov": 1.0},
    {"params": 1.0, "hidden_cov": -2.0},
    {"params": 2.0, "hidden_cov": 0.5},
    {"params": 4.0, "hidden_cov": 0.0},
]  # hidden_cov is maximized: all but the last are on the front


@pytest.fixture
def stored_jobs(tmp_path):
    """Two jobs named 'twice' (ids 1 and 2) in a SQLite store; the second has four trials."""
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    archs = sample_many(load_spec("gpt-tiny"), len(VALUES), seed=0)
    objectives = [("params", "minimize"), ("hidden_cov", "maximize")]
    with open_store(url) as store:
        store.create_job("twice", "gpt-tiny", JOB_SPEC, 4)
        job = store.create_job("twice", "gpt-tiny", JOB_SPEC, 4)
        store.import_trials(
            job.id, [(a.arch_id, a.to_json(), v, True) for a, v in zip(archs, VALUES)], objectives
        )
    return url


def test_version(monkeypatch, capsys):
    code, out, _ = run_main(monkeypatch, capsys, "--version")
    assert code == 0 and out.startswith("supernas ") and len(out.split()) == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (["jobz"], "error: No such command 'jobz'. Did you mean 'jobs'? (see `supernas --help`)"),
        (["sample", "gpt-tiny", "-n", "0"], "error: Invalid value for '-n'"),
        (["pareto"], "error: Missing argument 'job'. (see `supernas pareto --help`)"),
        (["space", "show", "gpt-tny"], "error: unknown space 'gpt-tny' (did you mean 'gpt-tiny'?)"),
        (
            [
                "score",
                "gpt-tiny",
                "--arch",
                sample_many(load_spec("gpt-tiny"), 1, seed=0)[0].to_json(),
                "--metrics",
                "hiden_cov",
            ],
            "error: unknown metric 'hiden_cov' (did you mean 'hidden_cov'?)",
        ),
    ],
)
def test_usage_mistakes_are_one_error_line(monkeypatch, capsys, args, message):
    code, out, err = run_main(monkeypatch, capsys, *args)
    assert code == 2 and out == ""
    assert err.startswith(message) and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize(
    "text, message",
    [
        (
            (
                "name: x\nspace: gpt-tiny\nobjectives: [{metric: params}, {metric: flops}]\n"
                "budjet: {trials: 3}\n"
            ),
            "unknown field 'budjet' (did you mean 'budget', a required field?)",
        ),
        (
            (
                "name: x\nspace: gpt-tiny\nobjectives: [{metric: params}, {metric: flops}]\n"
                "budget: {trials: 3}\nstrategy: {name: nsga2, populaton: 4}\n"
            ),
            "unknown field 'strategy.populaton' (did you mean 'population'?)",
        ),
        ("name: x\n  space: [gpt\n", "not valid YAML: line 2, column 8: mapping values are not allowed here"),
    ],
)
def test_job_file_mistakes_name_the_place(monkeypatch, capsys, tmp_path, text, message):
    path = tmp_path / "job.yaml"
    path.write_text(text)
    code, _, err = run_main(monkeypatch, capsys, "run", str(path))
    assert code == 2 and err.strip() == f"error: {path}: {message}"


def test_a_directory_names_a_file_inside(monkeypatch, capsys, tmp_path):
    (tmp_path / "b.yaml").write_text("{}")
    (tmp_path / "a.yaml").write_text("{}")
    code, _, err = run_main(monkeypatch, capsys, "run", str(tmp_path))
    assert code == 2 and err.strip() == (
        f"error: {tmp_path} is a directory: give one spec file inside it; for example {tmp_path / 'a.yaml'}"
    )


def test_front_table_csv_and_json_agree_and_show_directions(monkeypatch, capsys, stored_jobs):
    code, table, err = run_main(monkeypatch, capsys, "pareto", "twice", "--db", stored_jobs)
    assert code == 0 and "note: 2 jobs are named 'twice'; using the newest, job 2" in err
    assert "params ↓" in table and "hidden_cov ↑" in table
    _, text, _ = run_main(monkeypatch, capsys, "pareto", "2", "--format", "csv", "--db", stored_jobs)
    rows = list(csv.DictReader(io.StringIO(text)))
    _, text, _ = run_main(monkeypatch, capsys, "pareto", "2", "--json", "--db", stored_jobs)
    points = json.loads(text)
    assert (
        [float(r["params"]) for r in rows] == [p["params"] for p in points] == [1.0, 2.0, 3.0]
    )  # the table's order
    assert list(rows[0])[:4] == [
        "trial",
        "arch_id",
        "params",
        "hidden_cov",
    ]  # the job's metrics, in its order
    code, shown, _ = run_main(monkeypatch, capsys, "show", "2", "--db", stored_jobs)
    assert (
        "direction: minimize" in shown and "direction: maximize" in shown and "direction: null" not in shown
    )


def test_jobs_json_and_a_missing_job_points_at_jobs(monkeypatch, capsys, stored_jobs):
    code, out, _ = run_main(monkeypatch, capsys, "jobs", "--json", "--db", stored_jobs)
    jobs = json.loads(out)
    assert code == 0 and [(j["id"], j["name"], j["evaluated"], j["front"]) for j in jobs] == [
        (1, "twice", 0, 0),
        (2, "twice", 4, 3),
    ]
    code, _, err = run_main(monkeypatch, capsys, "pareto", "999", "--db", stored_jobs)
    assert code == 2 and "no job '999'" in err and "`supernas jobs` lists the jobs there" in err


def test_resuming_a_job_whose_budget_is_spent_starts_nothing(monkeypatch, capsys, stored_jobs):
    code, out, err = run_main(monkeypatch, capsys, "resume", "2", "--db", stored_jobs)
    assert code == 0 and err == ""
    assert out.strip() == (
        "job 2 (twice) has evaluated its budget of 4 trials; "
        "nothing to resume (`supernas show 2` shows its front)"
    )
