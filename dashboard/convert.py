"""Store records to API models."""

from __future__ import annotations

import json

from supernas.search.jobspec import JobSpec, objective_directions
from supernas.search.store import JobRecord, TrialRecord
from supernas.spaces import SpaceSpec

from .archview import ArchView
from .models import JobOut, Objective, SpaceLimits, TrialDetail, TrialOut


def objectives_of(job: JobRecord) -> list[Objective]:
    """The job's objectives with their directions filled in (the stored spec may leave them out)."""
    spec = JobSpec.model_validate(job.spec)
    return [Objective(metric=m, direction=d) for m, d in objective_directions(spec)]


def job_out(job: JobRecord) -> JobOut:
    objectives = objectives_of(job)
    names = [o.metric for o in objectives] + [c["metric"] for c in job.spec.get("constraints", [])]
    return JobOut(
        id=job.id, name=job.name, space=job.space, status=job.status, error=job.error, budget_trials=job.budget_trials,
        evaluated=job.n_complete + job.n_infeasible + job.n_failed, complete=job.n_complete,
        infeasible=job.n_infeasible, failed=job.n_failed, running=job.n_running, queued=job.n_queued,
        hypervolume=job.hypervolume, objectives=objectives, metrics=list(dict.fromkeys(names)), spec=job.spec,
        created_at=job.created_at, updated_at=job.updated_at,
    )


def trial_out(trial: TrialRecord, on_front: bool, view: ArchView) -> TrialOut:
    return TrialOut(
        number=trial.number, arch_id=trial.arch_id, state=trial.state, values=trial.values, on_front=on_front,
        summary=view.line, worker=trial.worker, error=trial.error, started_at=trial.started_at,
        finished_at=trial.finished_at, duration_s=trial.duration_s,
    )


def space_limits(space: SpaceSpec) -> SpaceLimits:
    c = space.layer
    return SpaceLimits(depth=max(space.depth), embed_dim=max(space.embed_dim), heads=max(c.heads),
                       ffn_dim=max(c.ffn_dim), experts=max(c.experts), weight_bits=max(c.weight_bits))


def trial_detail(job_id: int, trial: TrialRecord, view: ArchView, space: SpaceSpec) -> TrialDetail:
    return TrialDetail(
        **trial_out(trial, trial.on_front, view).model_dump(), job_id=job_id,
        architecture=json.loads(trial.arch_json), limits=space_limits(space),
    )
