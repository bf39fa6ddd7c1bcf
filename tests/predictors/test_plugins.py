"""Users' own metrics: a plugin module outside the package, named by a job spec, scored on real Ray
workers (each imports it from the runtime environment Ray ships, not from the spec's folder)."""

from __future__ import annotations

import os
import subprocess

import pytest

from supernas.predictors.catalogue import get_metric
from supernas.predictors.plugins import PluginError, load_plugins
from supernas.search.jobspec import load_job_spec
from supernas.search.runner import create_job, execute
from supernas.search.store.store import open_store
from supernas.spaces.architecture import Architecture, sample_many
from supernas.spaces.spec import load_spec
from supernas.workers.cluster import connect, disconnect
from tests.barrier import PLUGIN, Gate, on_two_workers
from tests.predictors.plugin_helpers import expected, write_plugin
from tests.search.jobs_helpers import write_job


@pytest.fixture(scope="module")
def local_ray():
    connect(None, workers=2)
    yield
    disconnect()


@pytest.mark.timing
def test_plugin_metric_is_an_objective_on_two_workers(local_ray, tmp_path):
    """Trials wait at a gate (a constraint evaluated after the plugin's metric, so failed trials never
    reach it) until both workers hold one, so both do work however late one of them starts."""
    write_plugin(tmp_path, "team_metrics_a", raise_depth=2, nan_depth=3)
    gate = Gate(tmp_path / "gate")
    job_file = write_job(
        tmp_path,
        plugins=["team_metrics_a.py", str(PLUGIN)],
        budget={"trials": 14},
        constraints=[gate.constraint()],
        objectives=[{"metric": "team_score", "options": {"scale": 0.5}}, {"metric": "flops"}],
        reference=[0.0, 1.0e12],
    )
    spec = load_job_spec(job_file)
    assert spec.plugins[0] == str(tmp_path / "team_metrics_a.py")  # made absolute, as resume and workers need
    store = open_store(f"sqlite:///{tmp_path / 'plugins.db'}")
    job_id = create_job(store, spec)
    on_two_workers(gate, lambda: execute(store, job_id, spec, workers=2, ray_address=None, progress=False))

    trials = store.trials(job_id)
    assert len(trials) == 14 and store.get_job(job_id).status == "completed"
    assert len({t.worker for t in trials}) == 2
    depths = {t.number: Architecture.from_json(t.arch_json).depth for t in trials}
    for t in trials:
        if depths[t.number] == 2:
            assert t.state == "failed" and "RuntimeError: team_score cannot score depth 2" in t.error
        elif depths[t.number] == 3:
            assert t.state == "failed" and "metric 'team_score' gave nan" in t.error
        else:
            assert t.state == "complete" and t.values["team_score"] == expected(t.arch_json, 0.5)
    assert set(depths.values()) == {2, 3, 4}  # both kinds of failure happened, and the job went on


def test_plugin_that_fails_to_import_stops_the_job_before_any_trial(tmp_path):
    (tmp_path / "broken_metrics.py").write_text(
        "import math\nraise ImportError('needs the lab_harness package')\n"
    )
    job_file = write_job(tmp_path, plugins=["broken_metrics.py"])
    db = f"sqlite:///{tmp_path / 'broken.db'}"
    run = subprocess.run(
        ["supernas", "run", job_file, "--db", db, "--no-progress"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        f"error: {job_file}: field 'plugins': plugin '{tmp_path / 'broken_metrics.py'}' failed to import: "
        "ImportError: needs the lab_harness package (broken_metrics.py:2)"
    ]
    assert open_store(db).list_jobs() == []
    with pytest.raises(
        PluginError, match="plugin 'no_such_plugin_module': no module named 'no_such_plugin_module'"
    ):
        load_plugins(["no_such_plugin_module"])


def test_decorated_function_is_a_metric_with_its_options(tmp_path, monkeypatch):
    write_plugin(tmp_path, "team_metrics_c", metric="team_score_c")
    monkeypatch.syspath_prepend(str(tmp_path))
    load_plugins(["team_metrics_c"])
    metric = get_metric("team_score_c", scale=2.0)
    assert (metric.direction, metric.unit, metric.cost.value, metric.settings) == (
        "maximize",
        "points",
        "analytic",
        {"scale": 2.0},
    )
    arch = sample_many(load_spec("gpt-tiny"), 1, seed=0)[0]
    assert metric.evaluate(arch, None) == expected(arch.to_json(), 2.0)
    write_plugin(tmp_path, "team_metrics_d", metric="team_score_c")  # another module taking the same name
    with pytest.raises(
        PluginError,
        match="metric 'team_score_c' is registered twice: by team_metrics_c and by team_metrics_d",
    ):
        load_plugins(["team_metrics_d"])


def test_metrics_command_lists_plugins_and_installed_entry_points(tmp_path):
    """An installed package's ``supernas.metrics`` entry point (a dist-info on the path, as pip leaves
    it) and a --plugin file both show up, each with the module it came from."""
    write_plugin(tmp_path, "installed_metrics", metric="installed_score")
    info = tmp_path / "installed_metrics-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: installed-metrics\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[supernas.metrics]\ninstalled = installed_metrics\n")
    write_plugin(tmp_path, "side_metrics", metric="side_score")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    listed = subprocess.run(
        ["supernas", "metrics", "--plugin", str(tmp_path / "side_metrics.py")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert listed.returncode == 0, listed.stderr
    rows = {
        cells[0]: cells
        for cells in ([c.strip() for c in line.split("│")[1:-1]] for line in listed.stdout.splitlines())
        if cells
    }
    assert (
        rows["installed_score"][1:4] == ["maximize", "points", "analytic"]
        and rows["installed_score"][6] == "installed_metrics"
    )
    assert rows["side_score"][6] == "side_metrics" and rows["params"][6] == "built-in"
