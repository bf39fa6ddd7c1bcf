"""Starting and resuming jobs: store + Ray pool + controller, with a progress bar."""

from __future__ import annotations

from contextlib import contextmanager
from collections.abc import Callable, Iterator

from supernas.spaces import get_space

from .controller import Controller, Progress
from .jobspec import JobSpec, validate_job


def evaluator_args(spec: JobSpec) -> dict:
    return dict(
        space=get_space(spec.space).model_dump(mode="json"),
        metrics=spec.metric_uses(),
        batch_size=spec.batch.batch_size,
        seq_len=spec.batch.seq_len,
        seed=spec.seed,
        supernet_dir=spec.supernet,
        data=spec.data,
        plugins=spec.plugins,
    )


@contextmanager
def progress_bar(total: int | None, enabled: bool, initial: int = 0) -> Iterator:
    from tqdm import tqdm

    bar = tqdm(total=total, initial=initial, unit="trial", disable=None if enabled else True, dynamic_ncols=True)

    def update(p: Progress) -> None:
        bar.n = p.evaluated
        hv = "-" if p.hypervolume is None else f"{p.hypervolume:.4g}"
        bar.set_postfix_str(f"front {p.front_size}, hv {hv}", refresh=False)
        bar.refresh()

    try:
        yield update
    finally:
        bar.close()


def execute(
    store,
    job_id: int,
    spec: JobSpec,
    workers: int,
    ray_address: str | None,
    progress: bool,
    should_stop: Callable[[], bool] | None = None,
) -> None:
    """Run (or continue) the job on a pool of ``workers`` Ray actors until its budget is spent or it is stopped."""
    from supernas.workers.cluster import connect
    from supernas.workers.pool import EvaluatorPool

    connect(ray_address, workers)
    pool = EvaluatorPool(workers, evaluator_args(spec))
    done = store.count_trials(job_id, ["complete", "infeasible", "failed"])
    try:
        with progress_bar(spec.budget.trials, progress, initial=done) as update:
            Controller(store, job_id, spec, pool, on_progress=update, should_stop=should_stop).run()
    finally:
        pool.shutdown()


def create_job(store, spec: JobSpec) -> int:
    job = store.create_job(spec.name, spec.space, spec.model_dump(mode="json"), spec.budget.trials)
    return job.id


def stored_spec(store, job_id: int) -> JobSpec:
    job = store.get_job(job_id)
    return validate_job(job.spec, f"job {job.id} (stored spec)")


def spec_with_workers(spec: JobSpec, workers: int | None) -> JobSpec:
    return spec if workers is None else spec.model_copy(update={"workers": workers})
