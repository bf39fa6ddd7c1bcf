"""Shared checks for job tests: the stored results must be internally consistent."""

from __future__ import annotations

import yaml

from supernas.search.jobspec import load_job_spec, objective_directions
from supernas.search.pareto import minimization_vector
from supernas.search.store.records import EVALUATED


def write_job(tmp_path, **overrides) -> str:
    job = {
        "name": "test-job",
        "space": "gpt-tiny",
        "objectives": [{"metric": "hidden_cov"}, {"metric": "flops"}],
        "constraints": [{"metric": "flops", "max": 3.0e6}],
        "strategy": {"name": "nsga2", "population": 8},
        "budget": {"trials": 16},
        "workers": 2,
        "seed": 0,
        **overrides,
    }
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(job))
    return str(path)


def brute_force_front(trials, objectives) -> set[int]:
    """Ids of complete (feasible) trials that no other complete trial dominates, by an O(n^2) scan."""
    points = {t.id: minimization_vector(t.values, objectives) for t in trials if t.state == "complete"}

    def dominated(p):
        return any(
            all(a <= b for a, b in zip(q, p)) and any(a < b for a, b in zip(q, p)) for q in points.values()
        )

    return {i for i, p in points.items() if not dominated(p)}


def assert_consistent(store, job_id: int, job_file: str, budget: int) -> None:
    """Budget spent exactly, every arch once, stored front = brute-force filter, hypervolume monotone."""
    objectives = objective_directions(load_job_spec(job_file))
    trials = store.trials(job_id)
    finished = [t for t in trials if t.state in EVALUATED]
    assert len(finished) == budget
    assert not [t for t in trials if t.state in ("running", "queued")]
    assert len({t.arch_id for t in trials}) == len(trials)
    assert {t.id for t in store.front(job_id)} == brute_force_front(trials, objectives)
    assert not [t for t in trials if t.state == "infeasible" and t.on_front]
    history = [hv for _, hv in store.hypervolume_history(job_id)]
    assert history, "a hypervolume history was recorded"
    assert all(b >= a for a, b in zip(history, history[1:]))
    assert store.get_job(job_id).status == "completed"
