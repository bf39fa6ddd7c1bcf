"""The hypervolume reference is fixed from the spec and the space before the first trial (never from the
first trials' values), so runs of one spec are compared against the same point."""

from __future__ import annotations

import pytest

from supernas.search.jobspec import load_job_spec, objective_directions
from supernas.search.pareto import hypervolume, minimization_vector
from supernas.search.reference import MARGIN
from supernas.search.runner import create_job, evaluator_args, execute
from supernas.search.store.store import open_store
from supernas.spaces.architecture import largest, smallest
from supernas.spaces.spec import load_spec
from supernas.workers.cluster import connect, disconnect
from supernas.workers.evaluator import Evaluator
from tests.search.jobs_helpers import write_job


@pytest.fixture(scope="module")
def local_ray():
    connect(None, workers=2)
    yield
    disconnect()


def test_runs_of_one_spec_share_the_reference(local_ray, tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'reference.db'}")
    jobs = []
    for _ in range(2):
        spec = load_job_spec(write_job(tmp_path, budget={"trials": 8}))  # hidden_cov up, flops <= 3e6
        job_id = create_job(store, spec)
        execute(store, job_id, spec, workers=2, ray_address=None, progress=False)
        jobs.append(store.get_job(job_id))
    assert jobs[0].reference == jobs[1].reference

    # hidden_cov (maximized, unconstrained): the worse of the largest and smallest subnets, plus 10 % of
    # their difference, scored here independently; flops: its constraint's bound
    evaluator = Evaluator(**evaluator_args(spec))
    space = load_spec(spec.space)
    anchors = [
        -evaluator.evaluate(arch.to_json())["hidden_cov"] for arch in (largest(space), smallest(space))
    ]
    expected_cov = max(anchors) + MARGIN * (max(anchors) - min(anchors))
    assert jobs[0].reference == [pytest.approx(expected_cov, rel=1e-12), 3.0e6]

    objectives = objective_directions(spec)
    for job in jobs:
        front = [minimization_vector(t.values, objectives) for t in store.front(job.id)]
        assert store.hypervolume_history(job.id)[-1][1] == hypervolume(front, job.reference)
        assert (
            len(store.hypervolume_history(job.id)) == job.n_complete
        )  # one per feasible trial, from the first


def test_existing_jobs_keep_their_reference(local_ray, tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'kept.db'}")
    spec = load_job_spec(write_job(tmp_path, budget={"trials": 4}))
    job_id = create_job(store, spec)
    store.set_reference(job_id, [-1.0, 2.5e6])  # as an earlier supernas fixed it from its first trials
    execute(store, job_id, spec, workers=2, ray_address=None, progress=False)
    assert store.get_job(job_id).reference == [-1.0, 2.5e6]
