"""The job page's data for a job the trial cache has not read (the first view after a server start) is
read straight from the store, and equals what the cache serves once it has read the job."""

from __future__ import annotations

import time

import numpy as np

from supernas.dashboard import jobdata
from supernas.dashboard.jobdata import JobData, JobDataCache, page_point_sets
from supernas.search.store.store import open_store
from supernas.spaces.architecture import sample_many
from supernas.spaces.spec import load_spec

OBJECTIVES = [("a", "minimize"), ("b", "maximize")]


def test_page_data_from_the_store_equals_the_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(jobdata, "MAX_DOMINATED", 70)  # thinning at a test's size
    monkeypatch.setattr(jobdata, "MAX_INFEASIBLE", 30)
    rng = np.random.default_rng(3)
    rows = []
    for arch in sample_many(load_spec("gpt-tiny"), 800, seed=5):
        values = None if rng.random() < 0.05 else {"a": float(rng.random()), "b": float(rng.random())}
        rows.append((arch.arch_id, arch.to_json(), values, bool(rng.random() > 0.2)))
    store = open_store(f"sqlite:///{tmp_path / 'page.db'}")
    job_id = store.create_job("page", "gpt-tiny", {}, 800).id
    store.set_reference(job_id, [1.0, 0.0])
    store.import_trials(job_id, rows, OBJECTIVES)

    cold = page_point_sets(store, job_id, ["a", "b"])
    warm = JobData(job_id)
    warm.refresh(store)
    assert cold == warm.point_sets(["a", "b"])
    front, dominated, infeasible, n_dominated, n_infeasible = cold
    assert len(front.numbers) == store.count_trials(job_id, ["complete"], on_front=True)
    assert n_dominated + len(front.numbers) == store.count_trials(job_id, ["complete"]) and n_dominated > 70
    step = jobdata.thinning_step(n_dominated, 70)
    assert step > 1 and dominated.numbers == [
        t.number for t in store.trials(job_id, ["complete"], on_front=False) if t.number % step == 0
    ]
    assert n_infeasible > 30 and 0 < len(infeasible.numbers) <= 1.5 * 30
    history = store.hypervolume_history(job_id)
    steps = [p for i, p in enumerate(history) if i in (0, len(history) - 1) or p[1] != history[i - 1][1]]
    assert (
        2 < len(steps) < len(history) // 4 and [(p.evaluated, p.hypervolume) for p in warm.history] == steps
    )

    cache = JobDataCache(store)
    monkeypatch.setattr(JobDataCache, "LOAD_DELAY_S", 0.0)
    assert not cache.ready(job_id)  # not read yet: it is read in the background
    deadline = time.monotonic() + 60
    while not cache.ready(job_id):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with cache.fresh(job_id) as data:
        assert len(data.trials) == 800
