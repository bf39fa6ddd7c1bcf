"""The store's side of job leases (:mod:`.leases`): one row per job, taken, renewed and released, each in one
transaction with the job's row locked, so of two controllers asking at once exactly one gets it."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from supernas.search.store.records import LeaseRecord
from supernas.search.store.tables import JobRow, LeaseRow, now


class LeaseStore:
    """Mixed into :class:`~supernas.search.store.store.Store`, which opens the sessions and locks jobs."""

    url_display: str

    def _read(self) -> AbstractContextManager[Session]: ...

    def _write(self) -> AbstractContextManager[Session]: ...

    def _lock_job(self, session: Session, job_id: int) -> JobRow: ...

    def take_lease(self, job_id: int, holder: str, seconds: float) -> LeaseRecord:
        """Hold the job's lease for ``seconds`` unless another holder's lease is still live; returns the
        lease as it stands (the caller's when taken). One transaction with the job locked, so of two
        controllers asking at once exactly one gets it."""
        with self._write() as session:
            self._lock_job(session, job_id)
            row, t = session.get(LeaseRow, job_id), now()
            if row is None:
                row = LeaseRow(
                    job_id=job_id, holder=holder, expires_at=t + timedelta(seconds=seconds), renewed_at=t
                )
                session.add(row)
            elif row.holder == holder or row.expires_at <= t:
                row.holder, row.expires_at, row.renewed_at = holder, t + timedelta(seconds=seconds), t
            return LeaseRecord(job_id, row.holder, row.expires_at, row.renewed_at)

    def renew_lease(self, job_id: int, holder: str, seconds: float) -> bool:
        """Extend the holder's lease; False when the job's lease is no longer this holder's."""
        with self._write() as session:
            self._lock_job(session, job_id)
            row, t = session.get(LeaseRow, job_id), now()
            if row is None or row.holder != holder:
                return False
            row.expires_at, row.renewed_at = t + timedelta(seconds=seconds), t
            return True

    def release_lease(self, job_id: int, holder: str) -> None:
        """Give the lease up (a no-op when it is someone else's by now)."""
        with self._write() as session:
            session.execute(delete(LeaseRow).where(LeaseRow.job_id == job_id, LeaseRow.holder == holder))

    def leases(self) -> dict[int, LeaseRecord]:
        """Every job's lease, live or expired, by job id."""
        with self._read() as session:
            return {
                row.job_id: LeaseRecord(row.job_id, row.holder, row.expires_at, row.renewed_at)
                for row in session.scalars(select(LeaseRow))
            }
