import pytest

from supernas.core.errors import NotFoundError, SpecError
from supernas.predictors.catalogue import metric_names
from supernas.search.jobspec import JobSpec, load_job_spec, objective_directions
from tests.predictors.plugin_helpers import write_plugin

GOOD = """
name: t
space: gpt-tiny
objectives:
  - metric: hidden_cov
  - metric: params
constraints:
  - {metric: params, max: 1000000}
strategy: nsga2
budget: {trials: 10}
"""


def write(tmp_path, text, name="job.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_good_spec_and_defaults(tmp_path):
    job = load_job_spec(write(tmp_path, GOOD))
    assert job.strategy.name == "nsga2" and job.workers == 2 and job.seed == 0
    assert objective_directions(job) == [("hidden_cov", "maximize"), ("params", "minimize")]
    assert job.metric_uses() == {"hidden_cov": {}, "params": {}}
    assert job.constraints[0].violation(1_000_500) == 500 and job.constraints[0].violation(10) == 0


@pytest.mark.parametrize(
    "edit, needle",
    [
        (
            ("metric: params\nconstraints", "metric: parms\nconstraints"),
            "field 'objectives[1]': unknown metric 'parms'",
        ),
        (
            ("  - metric: params\n", "  - metric: params\n  - metric: flops\n  - metric: macs\n"),
            "field 'objectives' = ",
        ),
        (("trials: 10", "trials: -5"), "field 'budget.trials' = -5"),
        (("space: gpt-tiny", "space: gpt-huge"), "field 'space': unknown space 'gpt-huge'"),
        (("strategy: nsga2", "strategy: annealing"), "field 'strategy.name' = 'annealing'"),
        (
            ("strategy: nsga2", "strategy: {name: nsga2, start: [biggest]}"),
            "start[0] 'biggest' is not an architecture (allowed: largest, or an architecture mapping)",
        ),
        (
            ("strategy: nsga2", "strategy: {name: nsga2, start: [{embed_dim: 7, layers: []}]}"),
            "field 'strategy': architecture field 'depth (number of layers)' = 0 is not in space",
        ),
        (("space: gpt-tiny", "space: bert-mini\nobjectives_extra: 1"), "unknown field 'objectives_extra'"),
        (("metric: hidden_cov", "metric: decoder_params\n  - metric: flops"), None),
        (("max: 1000000", "min: 5, max: 1"), "min 5.0 > max 1.0"),
        (
            ("metric: hidden_cov", "metric: latency_ms\n    options: {batch_sise: 2}"),
            "unknown option 'batch_sise'",
        ),
    ],
)
def test_bad_specs_name_the_field(tmp_path, edit, needle):
    path = write(tmp_path, GOOD.replace(*edit))
    if needle is None:  # decoder_params + flops + params: 3 objectives, all valid
        assert len(load_job_spec(path).objectives) == 3
        return
    with pytest.raises(SpecError) as err:
        load_job_spec(path)
    assert needle in str(err.value) and str(path) in str(err.value)
    assert "\n" not in str(err.value)


def test_metric_not_applicable_to_space(tmp_path):
    path = write(
        tmp_path,
        GOOD.replace("space: gpt-tiny", "space: bert-mini").replace(
            "metric: hidden_cov", "metric: decoder_params"
        ),
    )
    with pytest.raises(SpecError, match="does not apply to space 'bert-mini'"):
        load_job_spec(path)


def test_yaml_syntax_error_and_missing_file(tmp_path):
    with pytest.raises(SpecError, match="not valid YAML"):
        load_job_spec(write(tmp_path, "name: [oops\n"))
    with pytest.raises(NotFoundError, match="no such file"):
        load_job_spec(tmp_path / "absent.yaml")


def test_a_stored_jobs_plugin_metric_is_known_before_its_plugin_was_imported(tmp_path):
    """A server restarted after a plugin job was submitted shows that job before its runner imported the
    plugin: the objective's direction comes from the plugin, imported on demand."""
    write_plugin(tmp_path, "restarted_server_metrics", metric="restarted_score")
    stored = JobSpec.model_validate(
        {
            "name": "stored",
            "space": "gpt-tiny",
            "objectives": [{"metric": "restarted_score"}, {"metric": "flops"}],
            "plugins": [str(tmp_path / "restarted_server_metrics.py")],
            "budget": {"trials": 4},
        }
    )
    assert "restarted_score" not in metric_names()
    assert objective_directions(stored) == [("restarted_score", "maximize"), ("flops", "minimize")]
