"""Store records to API models."""

from __future__ import annotations

import json

from supernas.dashboard.archview import ArchView, front_end_line
from supernas.dashboard.models import (
    ConstraintOut,
    FormatOut,
    JobOut,
    Objective,
    SpaceLimits,
    TrialDetail,
    TrialOut,
    VerificationOut,
    VerifiedPoints,
    VerifiedValueOut,
)
from supernas.export.exporters import format_refusals
from supernas.search.jobspec import Constraint, JobSpec, metric_units, objective_directions
from supernas.search.pareto import minimization_vector
from supernas.search.store.records import JobRecord, TrialRecord, VerificationRecord
from supernas.search.verify import noise_band, within_noise
from supernas.spaces.architecture import Architecture, parse_architecture
from supernas.spaces.spec import SpaceSpec


def objectives_of(spec: dict) -> list[Objective]:
    """A stored spec's objectives with their directions filled in (the stored spec may leave them out)
    and their units."""
    job = JobSpec.model_validate(spec)
    return _objectives(job, metric_units(job))


def _objectives(job: JobSpec, units: dict[str, str]) -> list[Objective]:
    return [Objective(metric=m, direction=d, unit=units[m]) for m, d in objective_directions(job)]


def metrics_of(spec: dict) -> list[str]:
    """The metrics a job's trials carry: its objectives', then its constraints'."""
    uses = [*spec["objectives"], *spec.get("constraints", [])]
    return list(dict.fromkeys(use["metric"] for use in uses))


def constraint_out(constraint: Constraint, unit: str) -> ConstraintOut:
    return ConstraintOut(metric=constraint.metric, min=constraint.min, max=constraint.max, unit=unit)


def job_out(job: JobRecord) -> JobOut:
    spec = JobSpec.model_validate(job.spec)
    units = metric_units(spec)
    objectives = _objectives(spec, units)
    reference = None
    if job.reference is not None:  # stored minimized; negating a maximized objective again undoes it
        directions = [(o.metric, o.direction) for o in objectives]
        reference = minimization_vector(dict(zip((m for m, _ in directions), job.reference)), directions)
    return JobOut(
        id=job.id,
        name=job.name,
        space=job.space,
        status=job.status,
        error=job.error,
        budget_trials=job.budget_trials,
        evaluated=job.n_complete + job.n_infeasible + job.n_failed,
        complete=job.n_complete,
        infeasible=job.n_infeasible,
        failed=job.n_failed,
        running=job.n_running,
        queued=job.n_queued,
        hypervolume=job.hypervolume,
        objectives=objectives,
        metrics=metrics_of(job.spec),
        units=units,
        constraints=[constraint_out(c, units[c.metric]) for c in spec.constraints],
        reference=reference,
        spec=job.spec,
        created_at=job.created_at,
        updated_at=job.updated_at,
    )


def verification_out(record: VerificationRecord | None) -> VerificationOut | None:
    if record is None:
        return None
    values = {
        m: VerifiedValueOut(
            searched=v.searched,
            measured=v.measured,
            error=v.error,
            method=v.method,
            deterministic=v.deterministic,
            spread=v.spread,
            noise=noise_band(v),
            within_noise=within_noise(v),
            note=v.note,
        )
        for m, v in record.values.items()
    }
    return VerificationOut(
        verified_at=record.created_at,
        checkpoint_bytes=record.checkpoint_bytes,
        hardware=record.machine.get("hardware"),
        values=values,
        weights=record.weights,
    )


def trial_out(
    trial: TrialRecord, on_front: bool, view: ArchView, verification: VerificationRecord | None = None
) -> TrialOut:
    return TrialOut(
        number=trial.number,
        arch_id=trial.arch_id,
        state=trial.state,
        values=trial.values,
        on_front=on_front,
        summary=view.line,
        worker=trial.worker,
        error=trial.error,
        started_at=trial.started_at,
        finished_at=trial.finished_at,
        duration_s=trial.duration_s,
        verification=verification_out(verification),
    )


def verified_points(records: list[VerificationRecord], front: set[int], metrics: list[str]) -> VerifiedPoints:
    """The verified front trials' searched and measured objectives, as chart columns."""
    kept = [
        r
        for r in records
        if r.weights == "extracted" and r.trial_number in front and all(m in r.values for m in metrics)
    ]
    return VerifiedPoints(
        numbers=[r.trial_number for r in kept],
        searched=[[r.values[m].searched for r in kept] for m in metrics],
        measured=[[r.values[m].measured for r in kept] for m in metrics],
        errors=[[r.values[m].error for r in kept] for m in metrics],
        within_noise=[[within_noise(r.values[m]) for r in kept] for m in metrics],
    )


def space_limits(space: SpaceSpec) -> SpaceLimits:
    c = space.layer
    return SpaceLimits(
        depth=max(space.depth),
        embed_dim=max(space.embed_dim),
        heads=max(c.heads),
        ffn_dim=max(c.ffn_dim),
        experts=max(c.experts),
        weight_bits=max(c.weight_bits),
    )


def trial_architecture(space: SpaceSpec, trial: TrialRecord) -> Architecture:
    return parse_architecture(space, trial.arch_json, f"trial {trial.number}")


def formats_out(space: SpaceSpec, arch: Architecture) -> list[FormatOut]:
    """Each export format with whether it applies to the subnet and, if not, why."""
    return [
        FormatOut(format=fmt, available=reason is None, reason=reason)
        for fmt, reason in format_refusals(space, arch).items()
    ]


def trial_detail(
    job_id: int,
    trial: TrialRecord,
    view: ArchView,
    space: SpaceSpec,
    verification: VerificationRecord | None = None,
) -> TrialDetail:
    return TrialDetail(
        **trial_out(trial, trial.on_front, view, verification).model_dump(),
        job_id=job_id,
        architecture=json.loads(trial.arch_json),
        limits=space_limits(space),
        front_end=front_end_line(space, json.loads(trial.arch_json)["embed_dim"]),
        formats=formats_out(space, trial_architecture(space, trial)),
    )
