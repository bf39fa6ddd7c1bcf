"""The API's response models: what clients can rely on, and what /docs shows."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from supernas.export.exporters import FORMATS

JobStatus = Literal["queued", "running", "stopped", "completed", "failed"]
TrialState = Literal["queued", "running", "complete", "failed", "infeasible"]
ExportFormat = Literal[FORMATS]  # every format export_subnet writes


class Objective(BaseModel):
    metric: str
    direction: Literal["minimize", "maximize"]
    unit: str = Field(description="the metric's unit, as it declares it (ms, params, bytes, ...)")


class ConstraintOut(BaseModel):
    metric: str
    min: float | None
    max: float | None
    unit: str


class JobOut(BaseModel):
    id: int
    name: str
    space: str
    status: JobStatus
    error: str | None
    budget_trials: int | None
    evaluated: int = Field(description="finished trials: complete + infeasible + failed")
    complete: int
    infeasible: int
    failed: int
    running: int
    queued: int
    hypervolume: float | None = Field(description="latest (= best: the history never decreases)")
    objectives: list[Objective]
    metrics: list[str] = Field(
        description="every metric the job measures: objectives, then constraint-only ones"
    )
    units: dict[str, str] = Field(description="the unit of each metric in ``metrics``")
    constraints: list[ConstraintOut]
    reference: list[float] | None = Field(
        description="the hypervolume's reference point, one value per objective in its own units "
        "(null until the job fixes it); the hypervolume is in the product of the objectives' units"
    )
    spec: dict
    created_at: datetime
    updated_at: datetime


class VerifiedValueOut(BaseModel):
    """One metric as searched and as re-measured on the trial's extracted, reloaded checkpoint."""

    searched: float | None
    measured: float | None = Field(description="null: not re-measured (note says why)")
    error: float | None = Field(description="relative error |measured - searched| / |searched|")
    method: str = Field(description="how it was re-measured")
    deterministic: bool = Field(
        description="the two must agree to float rounding (latency is measured: it has noise)"
    )
    spread: float | None = Field(description="timed metrics: (p90 - p10) / median of the runs")
    noise: float | None = Field(
        description="the relative error within which the two agree: 1e-5 for a deterministic metric, "
        "the runs' spread for a timed one"
    )
    within_noise: bool | None = Field(description="error <= noise (null if either is missing)")
    note: str | None


class VerificationOut(BaseModel):
    """The newest verification of a trial (``supernas verify``, or POST .../verify)."""

    verified_at: datetime
    checkpoint_bytes: int = Field(description="size of the checkpoint's model.safetensors")
    hardware: str | None = Field(description="where it was re-measured")
    values: dict[str, VerifiedValueOut]
    weights: Literal["extracted", "distilled"] = Field(
        description="extracted: the trial's subnet as searched; distilled: a checkpoint distilled from it "
        "(`supernas distill`, POST .../distill), whose values differ from the searched ones by design"
    )


class TrialOut(BaseModel):
    number: int
    arch_id: str
    state: TrialState
    values: dict[str, float] | None
    on_front: bool
    summary: str = Field(description="depth, embedding width and attention type per layer")
    worker: str | None
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None
    verification: VerificationOut | None = Field(
        default=None, description="the newest verification on its checkpoint; null if never verified"
    )


class SpaceLimits(BaseModel):
    """The largest value of each elastic dimension, to draw an architecture to the space's scale."""

    depth: int
    embed_dim: int
    heads: int
    ffn_dim: int
    experts: int
    weight_bits: int


class FormatOut(BaseModel):
    """An export format as it applies to the trial's subnet: the answer `supernas export` gives too."""

    format: ExportFormat = Field(description="the value of POST .../extract?format=")
    available: bool
    reason: str | None = Field(description="why the format does not apply, one line; null when available")


class TrialDetail(TrialOut):
    job_id: int
    architecture: dict
    limits: SpaceLimits
    front_end: str | None = Field(
        default=None, description="speech spaces: the conv front end before the layers"
    )
    formats: list[FormatOut] = Field(
        description="every export format, in order; Extract refuses an unavailable one (422) with its reason"
    )


class DistillOut(BaseModel):
    """A trial's distillation on this server (POST .../distill starts it in the background)."""

    job_id: int
    trial: int
    steps: int
    state: Literal["running", "done", "failed"] = Field(
        description="done: the distilled checkpoint is verified (the trial's verification, weights "
        "distilled) and extract serves it with weights=distilled"
    )
    error: str | None = Field(description="why it failed")
    started_at: datetime
    finished_at: datetime | None


class TrialPage(BaseModel):
    total: int = Field(description="trials matching the filters")
    offset: int
    limit: int
    items: list[TrialOut]


class HypervolumePoint(BaseModel):
    evaluated: int
    hypervolume: float


class PointSet(BaseModel):
    """Trials as columns: ``values[i]`` is objective i and ``dims[j]`` dimension j, one entry per trial."""

    numbers: list[int]
    values: list[list[float]]
    dims: list[list[float]]
    hover: list[str]


class VerifiedPoints(BaseModel):
    """Verified front trials as columns: ``searched[i]``, ``measured[i]``, ``errors[i]`` and
    ``within_noise[i]`` are objective i, one entry per trial; a measured entry (and its error) is null
    where that objective could not be re-measured."""

    numbers: list[int]
    searched: list[list[float]]
    measured: list[list[float | None]]
    errors: list[list[float | None]] = Field(description="relative error |measured - searched| / |searched|")
    within_noise: list[list[bool | None]] = Field(description="the error within the value's noise")


class PlotData(BaseModel):
    """What the job page charts. Dominated and infeasible trials are thinned evenly (every k-th by
    number) above a cap; the totals say how many there are."""

    objectives: list[Objective]
    dimensions: list[str]
    front: PointSet
    dominated: PointSet
    infeasible: PointSet
    dominated_total: int
    infeasible_total: int
    verified: VerifiedPoints = Field(
        description="front trials re-measured on their checkpoints (`supernas verify`)"
    )


class SpaceOut(BaseModel):
    name: str
    task: str
    description: str
    log10_subnets: float
    limits: SpaceLimits


class ErrorOut(BaseModel):
    """Every 4xx answer. ``detail`` is one line for a user mistake (a bad spec, an unknown job or trial),
    or FastAPI's list of field errors when a parameter itself is malformed."""

    detail: str | list[dict[str, object]]


NOT_FOUND = {404: {"model": ErrorOut, "description": "no such job, trial or space"}}
REJECTED = {
    422: {"model": ErrorOut, "description": "a user mistake (one line) or malformed parameters (a list)"}
}
