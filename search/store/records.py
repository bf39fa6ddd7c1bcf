"""The store's records: frozen, plain values that the rest of supernas gets instead of database rows,
and the names of the states they move through."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

JOB_STATUSES = ("queued", "running", "stopped", "completed", "failed")
TRIAL_STATES = ("queued", "running", "complete", "failed", "infeasible")
EVALUATED = ("complete", "infeasible", "failed")  # a trial in these states is finished: never evaluated again


@dataclass(frozen=True)
class JobRecord:
    """A job as stored, with its trial counts by state and its latest hypervolume (None before any)."""

    id: int
    name: str
    space: str
    spec: dict
    status: str
    budget_trials: int | None
    reference: list[float] | None
    error: str | None
    created_at: datetime
    updated_at: datetime
    n_complete: int
    n_infeasible: int
    n_failed: int
    n_queued: int
    n_running: int
    hypervolume: float | None


@dataclass(frozen=True)
class LeaseRecord:
    """Which controller holds a job's lease (``search.leases``), until when, and when it last renewed it."""

    job_id: int
    holder: str
    expires_at: datetime
    renewed_at: datetime


@dataclass(frozen=True)
class VerifiedValue:
    """One metric of a trial as searched and as re-measured on its checkpoint (``measured`` None: not
    re-measured, ``note`` says why). ``deterministic``: the two must agree to float rounding."""

    metric: str
    searched: float | None
    measured: float | None
    method: str
    deterministic: bool
    spread: float | None = None  # timed metrics: (p90 - p10) / median of the runs
    note: str | None = None

    @property
    def error(self) -> float | None:
        """Relative error |measured - searched| / |searched| (absolute when searched is 0)."""
        if self.measured is None or self.searched is None:
            return None
        difference = abs(self.measured - self.searched)
        return difference / abs(self.searched) if self.searched != 0 else difference


@dataclass(frozen=True)
class VerificationRecord:
    """A trial's checkpoint and its metrics re-measured on it, as stored (one per verification run)."""

    id: int
    job_id: int
    trial_id: int
    trial_number: int
    checkpoint: str
    checkpoint_bytes: int  # size of the checkpoint's model.safetensors file
    machine: dict
    values: dict[str, VerifiedValue]
    created_at: datetime
    weights: str = "extracted"  # or "distilled": a checkpoint distilled from the trial's subnet


@dataclass(frozen=True)
class TrialRecord:
    """One architecture in one job. ``values`` is None until the trial finished with metric values."""

    id: int
    job_id: int
    number: int
    arch_id: str
    arch_json: str
    state: str
    values: dict[str, float] | None
    worker: str | None
    error: str | None
    on_front: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None


@dataclass(frozen=True)
class TrialPoint:
    """What a chart shows of a trial (``Store.trial_points``)."""

    number: int
    values: dict[str, float] | None
    arch_json: str


@dataclass(frozen=True)
class TrialUpdate:
    """A trial as its controller last saw it, written with others in one transaction
    (``Store.record_trials``): a new trial is inserted with ``number``, an existing one (queued or running)
    takes the new state, times, values and error."""

    arch_id: str
    number: int
    arch_json: str
    state: str
    worker: str | None = None
    values: dict[str, float] | None = None
    error: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
