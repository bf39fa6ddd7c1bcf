"""Starting and resuming jobs: store + Ray pool + controller, with a progress bar."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from supernas.search.controller import Controller, Progress
from supernas.search.jobspec import JobSpec, validate_job
from supernas.search.store.leases import job_lease
from supernas.search.store.records import EVALUATED
from supernas.spaces.spec import load_spec


def evaluator_args(spec: JobSpec) -> dict:
    return dict(
        space=load_spec(spec.space).model_dump(mode="json"),
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
    from supernas.core.progress import make_progress

    bar = make_progress(
        total=total, initial=initial, unit="trial", enabled=enabled
    )  # off a terminal: plain lines

    def update(p: Progress) -> None:
        bar.n = p.evaluated
        hv = "-" if p.hypervolume is None else f"{p.hypervolume:.4g}"
        bar.set_postfix_str(f"front {p.front_size}, hv {hv}", refresh=False)
        bar.refresh()

    try:
        yield update
    except KeyboardInterrupt:
        bar.leave = False  # Ctrl-C: clear the bar rather than draw it again above the resume hint
        raise
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
    role: str | None = None,
    num_cpus: float = 1.0,
) -> None:
    """Run (or continue) the job on a pool of ``workers`` Ray actors (``num_cpus`` each) until its budget
    is spent or it is stopped, holding the job's lease meanwhile (``role`` names this controller in a
    refusal)."""
    from supernas.workers.cluster import connect
    from supernas.workers.pool import EvaluatorPool

    with job_lease(store, job_id, role or " ".join(["supernas", *sys.argv[1:2]])) as lease:
        if progress:  # the seconds Ray takes to start are not silent (once the job is ours to run)
            where = f"the Ray cluster at {ray_address}" if ray_address else "a local Ray instance"
            print(
                f"starting {workers} evaluator{'s' if workers != 1 else ''} on {where}...",
                file=sys.stderr,
                flush=True,
            )
        connect(ray_address, workers)
        pool = EvaluatorPool(workers, evaluator_args(spec), num_cpus=num_cpus)
        done = store.count_trials(job_id, EVALUATED)
        stop = (lambda: lease.lost or should_stop()) if should_stop else (lambda: lease.lost)
        try:
            with progress_bar(spec.budget.trials, progress, initial=done) as update:
                Controller(
                    store, job_id, spec, pool, on_progress=update, should_stop=stop, holder=lease.holder
                ).run()
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
