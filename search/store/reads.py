"""The Store's reads: trials, fronts, hypervolume histories and verifications as plain records.

Every read is one REPEATABLE READ snapshot (WAL on SQLite), so it never blocks the writer and always
sees a consistent job. The conversions from rows to records live here too, as the write paths return
the same records.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from contextlib import AbstractContextManager

from sqlalchemy import Select, func, select
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from supernas.core.errors import NotFoundError
from supernas.search.store.records import (
    TRIAL_STATES,
    JobRecord,
    TrialPoint,
    TrialRecord,
    VerificationRecord,
    VerifiedValue,
)
from supernas.search.store.tables import HypervolumeRow, JobRow, TrialRow, VerificationRow


class TrialReads:
    """What the Store reads back; mixed into :class:`~supernas.search.store.store.Store`, which opens the
    sessions (``_read``)."""

    def _read(self) -> AbstractContextManager[Session]: ...

    def find_trial(self, job_id: int, arch_id: str) -> TrialRecord | None:
        """The job's trial of this architecture, if it has one."""
        with self._read() as session:
            row = session.scalar(
                select(TrialRow).where(TrialRow.job_id == job_id, TrialRow.arch_id == arch_id)
            )
            return None if row is None else trial_record(row)

    def get_trial(self, job_id: int, trial: int | str) -> TrialRecord:
        """A trial of the job by its number (int) or its ``arch_id`` (str)."""
        column = TrialRow.number if isinstance(trial, int) else TrialRow.arch_id
        with self._read() as session:
            row = session.scalar(select(TrialRow).where(TrialRow.job_id == job_id, column == trial))
            if row is None:
                n = session.scalar(select(func.count()).where(TrialRow.job_id == job_id))
                what = f"number {trial}" if isinstance(trial, int) else f"with arch_id '{trial}'"
                span = f"its trials are numbered 0 to {n - 1}" if n else "it has no trials yet"
                raise NotFoundError(f"job {job_id} has no trial {what} ({span})")
            return trial_record(row)

    def trials(
        self,
        job_id: int,
        states: Sequence[str] | None = None,
        on_front: bool | None = None,
        order_by: str = "number",
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
        every: int = 1,
    ) -> list[TrialRecord]:
        """The job's trials, filtered by state and front membership (and to numbers that are multiples of
        ``every``: an even sample of a big job), ordered by number or by a metric.

        Ordering by a metric sorts in Python; trials without that metric come last either way.
        """
        # plain rows, not ORM objects: building tens of thousands of tracked instances costs seconds
        query = _filtered(select(TrialRow.__table__), job_id, states, on_front, every)
        if order_by == "number":
            query = (
                query.order_by(TrialRow.number.desc() if descending else TrialRow.number)
                .offset(offset)
                .limit(limit)
            )
        else:
            query = query.order_by(TrialRow.number)
        with self._read() as session:
            records = [trial_record(row) for row in session.execute(query)]
        if order_by == "number":
            return records
        measured = [t for t in records if t.values and order_by in t.values]
        ranked = sorted(measured, key=lambda t: t.values[order_by], reverse=descending)
        ranked += [t for t in records if not (t.values and order_by in t.values)]
        return ranked[offset : None if limit is None else offset + limit]

    def trial_points(
        self,
        job_id: int,
        states: Sequence[str] | None = None,
        on_front: bool | None = None,
        every: int = 1,
    ) -> list[TrialPoint]:
        """What a chart plots of the job's trials (number, values, architecture), filtered as ``trials``
        filters them, in number order: a third of the cost of whole records on a big job."""
        columns = select(TrialRow.number, TrialRow.values_json, TrialRow.arch_json)
        query = _filtered(columns, job_id, states, on_front, every).order_by(TrialRow.number)
        with self._read() as session:
            return [
                TrialPoint(number, None if values is None else json.loads(values), arch_json)
                for number, values, arch_json in session.execute(query)
            ]

    def count_trials(
        self, job_id: int, states: Sequence[str] | None = None, on_front: bool | None = None
    ) -> int:
        """How many trials the job has (in ``states``, on or off the front, when given); cheaper than
        ``len(trials(...))``."""
        query = _in_states(select(func.count()).where(TrialRow.job_id == job_id), states)
        if on_front is not None:
            query = query.where(TrialRow.on_front == on_front)
        with self._read() as session:
            return session.scalar(query)

    def front(self, job_id: int) -> list[TrialRecord]:
        """The job's Pareto front: complete trials no other complete trial dominates (ties all kept)."""
        return self.trials(job_id, on_front=True)

    def hypervolume_history(self, job_id: int) -> list[tuple[int, float]]:
        """``(trials evaluated, hypervolume)`` after each feasible trial since the reference was fixed."""
        query = select(HypervolumeRow.n_evaluated, HypervolumeRow.hypervolume).where(
            HypervolumeRow.job_id == job_id
        )
        with self._read() as session:
            return [tuple(row) for row in session.execute(query.order_by(HypervolumeRow.id))]

    def hypervolume_steps(self, job_id: int) -> list[tuple[int, float]]:
        """The history as its step curve: where each hypervolume value was first reached, and the last point.
        A long job records one point per feasible trial; its hypervolume never decreases (the reference is
        fixed and the front only gains ground), so the database can drop the repeats."""
        of_job = HypervolumeRow.job_id == job_id
        firsts = (
            select(func.min(HypervolumeRow.n_evaluated), HypervolumeRow.hypervolume)
            .where(of_job)
            .group_by(HypervolumeRow.hypervolume)
        )
        last = (
            select(HypervolumeRow.n_evaluated, HypervolumeRow.hypervolume)
            .where(of_job)
            .order_by(HypervolumeRow.id.desc())
            .limit(1)
        )
        with self._read() as session:
            steps = sorted(tuple(row) for row in session.execute(firsts))
            steps += [tuple(row) for row in session.execute(last) if not steps or tuple(row) != steps[-1]]
        return steps

    # ------------------------------------------------------------------------------------ artifacts

    def verifications(
        self, job_id: int, trial_numbers: Sequence[int] | None = None, history: bool = False
    ) -> list[VerificationRecord]:
        """The job's verifications ordered by trial number: the newest of each trial, or every one
        (oldest first within a trial) with ``history``; only those trials when ``trial_numbers`` is given."""
        query = (
            select(VerificationRow, TrialRow.number)
            .join(TrialRow, TrialRow.id == VerificationRow.trial_id)
            .where(VerificationRow.job_id == job_id)
        )
        if trial_numbers is not None:
            query = query.where(TrialRow.number.in_(list(trial_numbers)))
        if not history:
            newest = (
                select(func.max(VerificationRow.id))
                .where(VerificationRow.job_id == job_id)
                .group_by(VerificationRow.trial_id)
            )
            query = query.where(VerificationRow.id.in_(newest))
        with self._read() as session:
            rows = session.execute(query.order_by(TrialRow.number, VerificationRow.id)).all()
            return [verification_record(row, number) for row, number in rows]

    # ------------------------------------------------------------------------------------ block libraries


def _filtered(
    query: Select, job_id: int, states: Sequence[str] | None, on_front: bool | None, every: int
) -> Select:
    """``query`` over the job's trials in ``states``, on or off the front, numbered by a multiple of
    ``every``."""
    query = _in_states(query.where(TrialRow.job_id == job_id), states)
    if on_front is not None:
        query = query.where(TrialRow.on_front == on_front)
    if every > 1:
        query = query.where(TrialRow.number % every == 0)
    return query


def _in_states(query: Select, states: Sequence[str] | None) -> Select:
    """``query`` restricted to trials in ``states`` (all trials when None); an unknown state is a caller
    bug."""
    if states is None:
        return query
    unknown = sorted(set(states) - set(TRIAL_STATES))
    if unknown:
        raise ValueError(f"unknown trial state(s) {', '.join(unknown)}; states are {', '.join(TRIAL_STATES)}")
    return query.where(TrialRow.state.in_(states))


def trial_record(row: TrialRow | Row) -> TrialRecord:
    return TrialRecord(
        id=row.id,
        job_id=row.job_id,
        number=row.number,
        arch_id=row.arch_id,
        arch_json=row.arch_json,
        state=row.state,
        values=None if row.values_json is None else json.loads(row.values_json),
        worker=row.worker,
        error=row.error,
        on_front=row.on_front,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        duration_s=row.duration_s,
    )


def value_data(value: VerifiedValue) -> dict:
    return {
        "searched": value.searched,
        "measured": value.measured,
        "method": value.method,
        "deterministic": value.deterministic,
        "spread": value.spread,
        "note": value.note,
    }


def verification_record(row: VerificationRow, number: int) -> VerificationRecord:
    values = {metric: VerifiedValue(metric, **data) for metric, data in json.loads(row.values_json).items()}
    return VerificationRecord(
        id=row.id,
        job_id=row.job_id,
        trial_id=row.trial_id,
        trial_number=number,
        checkpoint=row.checkpoint,
        checkpoint_bytes=row.checkpoint_bytes,
        machine=json.loads(row.machine_json),
        values=values,
        created_at=row.created_at,
        weights=row.weights,
    )


def job_records(session: Session, rows: list[JobRow]) -> list[JobRecord]:
    """Records for ``rows`` with their trial counts and latest hypervolume, in two queries."""
    ids = [row.id for row in rows]
    counts: dict[int, Counter[str]] = {job_id: Counter() for job_id in ids}
    by_state = (
        select(TrialRow.job_id, TrialRow.state, func.count())
        .where(TrialRow.job_id.in_(ids))
        .group_by(TrialRow.job_id, TrialRow.state)
    )
    for job_id, state, n in session.execute(by_state):
        counts[job_id][state] = n
    newest = (
        select(func.max(HypervolumeRow.id))
        .where(HypervolumeRow.job_id.in_(ids))
        .group_by(HypervolumeRow.job_id)
    )
    latest_query = select(HypervolumeRow.job_id, HypervolumeRow.hypervolume).where(
        HypervolumeRow.id.in_(newest)
    )
    latest = dict(session.execute(latest_query).all())
    return [
        JobRecord(
            id=row.id,
            name=row.name,
            space=row.space,
            spec=json.loads(row.spec_json),
            status=row.status,
            budget_trials=row.budget_trials,
            reference=None if row.reference_json is None else json.loads(row.reference_json),
            error=row.error,
            created_at=row.created_at,
            updated_at=row.updated_at,
            n_complete=counts[row.id]["complete"],
            n_infeasible=counts[row.id]["infeasible"],
            n_failed=counts[row.id]["failed"],
            n_queued=counts[row.id]["queued"],
            n_running=counts[row.id]["running"],
            hypervolume=latest.get(row.id),
        )
        for row in rows
    ]
