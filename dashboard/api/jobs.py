"""/api/jobs: submit, list, inspect, cancel and resume jobs; their Pareto front, hypervolume history
and chart data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from supernas.dashboard.archview import DIMENSIONS, arch_view
from supernas.dashboard.convert import job_out, objectives_of, trial_out, verified_points
from supernas.dashboard.deps import Authorized, CacheDep, JobId, RunnerDep, SettingsDep, StoreDep
from supernas.dashboard.jobdata import hypervolume_steps, page_point_sets
from supernas.dashboard.models import (
    NOT_FOUND,
    REJECTED,
    ErrorOut,
    HypervolumePoint,
    JobOut,
    PlotData,
    TrialOut,
)
from supernas.dashboard.security import read_limited
from supernas.dashboard.submission import MAX_SPEC_BYTES, read_submission
from supernas.search.runner import create_job
from supernas.search.store.store import Store

router = APIRouter(prefix="/api/jobs", tags=["jobs"], responses=REJECTED)

SPEC_BODY = {
    "required": True,
    "description": f"a job spec, as in `supernas run JOB.yaml` (at most {MAX_SPEC_BYTES // 1024} KiB)",
    "content": {
        "application/x-yaml": {"schema": {"type": "string"}},
        "application/json": {"schema": {"type": "object"}},
    },
}


@dataclass(frozen=True)
class Upload:
    body: bytes
    content_type: str


async def spec_upload(request: Request) -> Upload:
    """The raw body, read here (async) so the route itself can run in the thread pool."""
    return Upload(await read_limited(request, MAX_SPEC_BYTES), request.headers.get("content-type", ""))


@router.post(
    "",
    status_code=201,
    dependencies=Authorized,
    openapi_extra={"requestBody": SPEC_BODY},
    responses={
        413: {"description": "spec too large"},
        422: {"model": ErrorOut, "description": "invalid spec; the message names the field"},
    },
)
def submit_job(
    upload: Annotated[Upload, Depends(spec_upload)], store: StoreDep, runner: RunnerDep, settings: SettingsDep
) -> JobOut:
    """Queue a job; the server runs its jobs one at a time, oldest first."""
    spec = read_submission(upload.body, upload.content_type, settings.home)
    job_id = create_job(store, spec)
    runner.notify()
    return job_out(store.get_job(job_id))


@router.get("")
def list_jobs(store: StoreDep) -> list[JobOut]:
    """Every job, oldest first."""
    return [job_out(job) for job in store.list_jobs()]


@router.get("/{job_id}", responses=NOT_FOUND)
def get_job(job_id: JobId, store: StoreDep) -> JobOut:
    return job_out(store.get_job(job_id))


def _transition(job_id: int, store: Store, change: Callable[[int], bool], only: str) -> JobOut:
    """Apply a runner's cancel or resume and return the job; when the runner refuses, a 409 naming the
    job's status and ``only`` (the jobs the change applies to), so both endpoints answer alike."""
    if not change(job_id):
        status = store.get_job(job_id).status
        raise HTTPException(409, f"job {job_id} is {status}: only {only}")
    return job_out(store.get_job(job_id))


@router.post(
    "/{job_id}/cancel",
    dependencies=Authorized,
    responses={**NOT_FOUND, 409: {"description": "not queued or running here"}},
)
def cancel_job(job_id: JobId, store: StoreDep, runner: RunnerDep) -> JobOut:
    """Stop a queued or running job; finished trials are kept and ``resume`` continues it."""
    return _transition(job_id, store, runner.cancel, "jobs queued or running on this server can be cancelled")


@router.post(
    "/{job_id}/resume",
    dependencies=Authorized,
    responses={**NOT_FOUND, 409: {"description": "not stopped or failed"}},
)
def resume_job(job_id: JobId, store: StoreDep, runner: RunnerDep) -> JobOut:
    """Queue a stopped or failed job again; it continues from its finished trials."""
    return _transition(job_id, store, runner.resume, "stopped or failed jobs can be resumed")


@router.get("/{job_id}/front", responses=NOT_FOUND)
def get_front(job_id: JobId, store: StoreDep) -> list[TrialOut]:
    """The Pareto front: complete trials no other complete trial dominates, by number (each with its
    newest verification, if any)."""
    store.job_spec(job_id)  # (a missing job is a 404)
    verified = {v.trial_number: v for v in store.verifications(job_id)}
    return [trial_out(t, True, arch_view(t.arch_json), verified.get(t.number)) for t in store.front(job_id)]


@router.get("/{job_id}/hypervolume", responses=NOT_FOUND)
def get_hypervolume(job_id: JobId, store: StoreDep, cache: CacheDep) -> list[HypervolumePoint]:
    """Hypervolume over evaluated trials: each point where it changed, and the latest."""
    store.job_spec(job_id)  # (a missing job is a 404)
    if not cache.ready(job_id):
        return hypervolume_steps(store, job_id)
    with cache.fresh(job_id) as data:
        return data.history


@router.get("/{job_id}/plot", responses=NOT_FOUND)
def get_plot(job_id: JobId, store: StoreDep, cache: CacheDep, response: Response) -> PlotData:
    """Chart data: every front trial; dominated and infeasible ones thinned evenly above a few thousand; the
    verified front trials' measured objectives. Its Server-Timing header says where the trials came from:
    ``memory`` (the server's copy of the job) or ``store`` (a first view, read from the database)."""
    objectives = objectives_of(store.job_spec(job_id))
    metrics = [o.metric for o in objectives]
    if cache.ready(job_id):
        with cache.fresh(job_id) as data:
            front, dominated, infeasible, n_dominated, n_infeasible = data.point_sets(metrics)
        response.headers["Server-Timing"] = 'trials;desc="memory"'
    else:  # the first view since the server started: only what the chart shows
        front, dominated, infeasible, n_dominated, n_infeasible = page_point_sets(store, job_id, metrics)
        response.headers["Server-Timing"] = 'trials;desc="store"'
    verified = verified_points(
        store.verifications(job_id), set(front.numbers), metrics
    )  # verifications change apart from trials
    return PlotData(
        objectives=objectives,
        dimensions=list(DIMENSIONS),
        front=front,
        dominated=dominated,
        infeasible=infeasible,
        dominated_total=n_dominated,
        infeasible_total=n_infeasible,
        verified=verified,
    )
