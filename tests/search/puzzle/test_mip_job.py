"""A ``mip`` job on a trained gpt-tiny supernet, through Ray workers and a real store: its proposals are the
MILP's answers, its stored front is the non-dominated filter of its trials, and its block library is stored
under the key a later job on the same supernet, data and workload looks up."""

from __future__ import annotations

import pytest

from supernas.core.errors import SpecError
from supernas.data.text import stdlib_text
from supernas.models.supernet import Supernet
from supernas.search.jobspec import Constraint, load_job_spec, objective_directions
from supernas.search.puzzle.library import obtain_library
from supernas.search.puzzle.mip import least, most, solve
from supernas.search.runner import create_job, execute
from supernas.search.store.store import open_store
from supernas.search.strategies.mip import MipStrategy, layerwise_problem
from supernas.spaces.analytic import count_params
from supernas.spaces.architecture import Architecture
from supernas.spaces.spec import load_spec
from supernas.training.sandwich import train_supernet
from supernas.workers.cluster import connect, disconnect
from tests.search.jobs_helpers import assert_consistent, write_job

VAL_LOSS = {"batches": 1, "batch_size": 4, "seq_len": 32}
MIP = {"name": "mip", "population": 3, "solutions": 2, "heldout_batches": 1}


@pytest.fixture(scope="module")
def trained_gpt_tiny(tmp_path_factory):
    directory = tmp_path_factory.mktemp("gpt-tiny-net")
    train_supernet(
        Supernet(load_spec("gpt-tiny"), seed=0),
        stdlib_text(),
        steps=3,
        batch_size=4,
        seq_len=32,
        checkpoint_dir=directory,
        progress=False,
    )
    return directory


def test_mip_job_runs_through_ray_and_stores_a_measured_front(tmp_path, trained_gpt_tiny):
    objectives = [{"metric": "val_loss", "options": VAL_LOSS}, {"metric": "params"}]
    job_file = write_job(
        tmp_path,
        supernet=str(trained_gpt_tiny),
        objectives=objectives,
        constraints=[],
        strategy=MIP,
        budget={"trials": 6},
        workers=1,
    )
    spec = load_job_spec(job_file)
    store = open_store(f"sqlite:///{tmp_path / 'jobs.db'}")
    job_id = create_job(store, spec)
    connect(None, workers=1)
    try:
        execute(store, job_id, spec, workers=1, ray_address=None, progress=False)
    finally:
        disconnect()
    assert_consistent(store, job_id, job_file, budget=6)

    space = load_spec("gpt-tiny")
    library, reused = obtain_library(store, space, spec.supernet, None, spec.metric_uses(), 1)
    assert reused  # built by the job's controller, found again by key
    proposals = MipStrategy(space, objective_directions(spec), spec.strategy, spec.seed, [], library).ask(6)
    problem = layerwise_problem(library)
    top_level = most(problem, "params")
    assert all(
        a.embed_dim == max(space.embed_dim) for a in proposals
    )  # the MILP's answers, not random fill-ins
    trials = store.trials(job_id)
    assert [t.arch_id for t in trials] == [a.arch_id for a in proposals]
    cheapest = solve(problem, {"params": least(problem, "params")})[0]
    assert trials[0].arch_id == library.architecture(cheapest.depth, list(cheapest.layers)).arch_id
    assert max(t.values["params"] for t in trials) <= top_level
    for t in trials:  # measured by the workers, not the library's sum
        assert t.values["params"] == count_params(space, Architecture.from_json(t.arch_json))

    # a constraint on the swept resource caps the sweep: every level is at most the cap, the top one is it
    cap = (least(problem, "params") + top_level) / 2
    constrained = MipStrategy(
        space,
        objective_directions(spec),
        spec.strategy,
        spec.seed,
        [Constraint(metric="params", max=cap)],
        library,
    ).ask(6)
    assert all(count_params(space, a) <= cap for a in constrained)
    at_cap = solve(problem, {"params": cap})[0]
    assert library.architecture(at_cap.depth, list(at_cap.layers)).arch_id in {a.arch_id for a in constrained}


def test_mip_needs_an_objective_it_can_budget(tmp_path):
    job_file = write_job(
        tmp_path, objectives=[{"metric": "hidden_cov"}, {"metric": "synflow"}], constraints=[], strategy=MIP
    )
    with pytest.raises(SpecError, match="strategy 'mip' needs an objective it can budget"):
        load_job_spec(job_file)
