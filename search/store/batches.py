"""Writing many trial changes in one transaction: a controller's batched progress, and bulk imports.

A job evaluating cheap architectures finishes hundreds of trials a second; one transaction per trial
event (queue it, mark it running, finish it: each with the job locked, the front read and a hypervolume
point appended) made the store the controller's bottleneck. Here a batch of ``TrialUpdate``s (new trials
and existing queued or running ones, in the order they happened) costs a handful of statements, and the
stored front and hypervolume history end exactly as if each update had been written on its own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from supernas.search.store.fronts import GrowingFront, Objectives
from supernas.search.store.records import EVALUATED, TRIAL_STATES, TrialUpdate
from supernas.search.store.tables import HypervolumeRow, JobRow, TrialRow, now

CHUNK = 500  # arch ids per IN (...) lookup: well under every backend's limit on bound parameters


def write_trials(
    session: Session, job: JobRow, updates: Sequence[TrialUpdate], objectives: Objectives
) -> None:
    """Insert the updates' new trials and update the job's existing ones, then the front and one hypervolume
    point per trial that became complete, in the updates' order. The job's row must be locked in ``session``.

    A trial the job already finished is never changed: an update for one is a caller bug (ValueError), and
    so is an update naming an unknown state, or two updates of one architecture.
    """
    arch_ids = [u.arch_id for u in updates]
    if len(set(arch_ids)) != len(arch_ids):
        raise ValueError(f"job {job.id}: one batch updates an architecture twice")
    unknown = sorted({u.state for u in updates} - set(TRIAL_STATES))
    if unknown:
        raise ValueError(f"unknown trial state(s) {', '.join(unknown)}; states are {', '.join(TRIAL_STATES)}")
    existing = _existing(session, job.id, arch_ids)
    done = [arch_id for arch_id, (_, state) in existing.items() if state in EVALUATED]
    if done:
        raise ValueError(
            f"job {job.id}: trial(s) of {', '.join(done[:3])} already finished; finished trials never change"
        )

    evaluated = session.scalar(
        select(func.count()).where(TrialRow.job_id == job.id, TrialRow.state.in_(EVALUATED))
    )
    old_front = list(
        session.scalars(select(TrialRow).where(TrialRow.job_id == job.id, TrialRow.on_front.is_(True)))
    )
    front = GrowingFront(
        old_front, objectives
    )  # keys: old front's row ids, ("new" | "changed", index) for the batch's
    reference = None if job.reference_json is None else json.loads(job.reference_json)
    stamp = now()
    rows: dict[str, list[dict]] = {"new": [], "changed": []}
    volumes = []
    for update_ in updates:
        row = _columns(update_)
        if update_.arch_id in existing:
            kind, row["id"] = "changed", existing[update_.arch_id][0]
        else:
            kind = "new"
            row.update(
                job_id=job.id,
                number=update_.number,
                arch_id=update_.arch_id,
                arch_json=update_.arch_json,
                created_at=update_.created_at or stamp,
            )
        rows[kind].append(row)
        if update_.state in EVALUATED:
            evaluated += 1
        if update_.state != "complete":
            continue
        front.add(
            (kind, len(rows[kind]) - 1), update_.values or {}, f"trial {update_.number} of job {job.id}"
        )
        if reference is not None:
            volumes.append(
                dict(
                    job_id=job.id,
                    n_evaluated=evaluated,
                    hypervolume=front.hypervolume(reference),
                    recorded_at=update_.finished_at or stamp,
                )
            )

    kept = set(front.keys)
    for key in kept:
        if isinstance(key, tuple):
            rows[key[0]][key[1]]["on_front"] = True
    dropped = [row.id for row in old_front if row.id not in kept]
    if dropped:
        session.execute(update(TrialRow).where(TrialRow.id.in_(dropped)).values(on_front=False))
    if rows["new"]:
        session.execute(insert(TrialRow), rows["new"])
    if rows["changed"]:
        session.execute(update(TrialRow), rows["changed"])  # by primary key, as one executemany
    if volumes:
        session.execute(insert(HypervolumeRow), volumes)


def _existing(session: Session, job_id: int, arch_ids: list[str]) -> dict[str, tuple[int, str]]:
    """arch_id -> (row id, state) of the job's trials among ``arch_ids``."""
    found: dict[str, tuple[int, str]] = {}
    for start in range(0, len(arch_ids), CHUNK):
        chunk = arch_ids[start : start + CHUNK]
        query = select(TrialRow.arch_id, TrialRow.id, TrialRow.state).where(
            TrialRow.job_id == job_id, TrialRow.arch_id.in_(chunk)
        )
        found.update((arch_id, (row_id, state)) for arch_id, row_id, state in session.execute(query))
    return found


def _columns(update_: TrialUpdate) -> dict:
    """The columns an update sets, on a new trial and on an existing one alike."""
    duration = None
    if update_.started_at is not None and update_.finished_at is not None:
        duration = (update_.finished_at - update_.started_at).total_seconds()
    values = None if update_.values is None else json.dumps({k: float(v) for k, v in update_.values.items()})
    return dict(
        state=update_.state,
        worker=update_.worker,
        values_json=values,
        error=update_.error,
        started_at=update_.started_at,
        finished_at=update_.finished_at,
        duration_s=duration,
        on_front=False,
    )
