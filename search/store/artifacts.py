"""What the store keeps beside a job's trials: where their checkpoints were written, their verifications,
and block libraries reusable across jobs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractContextManager

from sqlalchemy import select
from sqlalchemy.orm import Session

from supernas.core.errors import NotFoundError
from supernas.search.store.reads import value_data, verification_record
from supernas.search.store.records import VerificationRecord, VerifiedValue
from supernas.search.store.tables import BlockLibraryRow, CheckpointRow, TrialRow, VerificationRow


class ArtifactStore:
    """Mixed into :class:`~supernas.search.store.store.Store`, which opens the sessions."""

    url_display: str

    def _read(self) -> AbstractContextManager[Session]: ...

    def _write(self) -> AbstractContextManager[Session]: ...

    def record_checkpoint(self, job_id: int, trial_id: int, path: str) -> None:
        """Remember that a trial's subnet was extracted to ``path``."""
        with self._write() as session:
            session.add(CheckpointRow(job_id=job_id, trial_id=trial_id, path=path))

    def record_verification(
        self,
        job_id: int,
        trial_id: int,
        checkpoint: str,
        checkpoint_bytes: int,
        machine: dict,
        values: Sequence[VerifiedValue],
        weights: str = "extracted",
    ) -> VerificationRecord:
        """Store a trial's re-measured values beside its searched ones (never over them). Re-verifying
        a trial appends: :meth:`~.reads.TrialReads.verifications` returns the newest per trial unless
        asked for all."""
        with self._write() as session:
            number = session.scalar(
                select(TrialRow.number).where(TrialRow.id == trial_id, TrialRow.job_id == job_id)
            )
            if number is None:
                raise NotFoundError(f"job {job_id} has no trial with id {trial_id} in {self.url_display}")
            row = VerificationRow(
                job_id=job_id,
                trial_id=trial_id,
                checkpoint=checkpoint,
                checkpoint_bytes=int(checkpoint_bytes),
                machine_json=json.dumps(machine),
                values_json=json.dumps({v.metric: value_data(v) for v in values}),
                weights=weights,
            )
            session.add(row)
            session.flush()
            return verification_record(row, number)

    def get_block_library(self, key: dict[str, str]) -> dict | None:
        """The stored block library (its JSON data) for ``key`` (space, supernet, data, workload), or None."""
        with self._read() as session:
            row = session.scalar(select(BlockLibraryRow).filter_by(**key))
            return None if row is None else json.loads(row.library_json)

    def save_block_library(self, key: dict[str, str], library: dict) -> None:
        """Keep a block library under ``key``; one built meanwhile by another process under the same key
        stays."""
        with self._write() as session:
            if session.scalar(select(BlockLibraryRow.id).filter_by(**key)) is None:
                session.add(BlockLibraryRow(**key, library_json=json.dumps(library)))
