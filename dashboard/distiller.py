"""Trial distillation in the background, one at a time per server.

Distilling a subnet (``supernas distill``) trains for minutes and holds a supernet and its parent in
memory, so POST .../distill starts it on a thread and answers at once, GET .../distill reports it, and a
second request while one runs is refused rather than queued.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from supernas.core.errors import SupernasError

DistillState = Literal["running", "done", "failed"]


@dataclass
class DistillRun:
    """One distillation the server started (kept until the server stops)."""

    job_id: int
    trial: int
    steps: int
    started_at: datetime
    state: DistillState = "running"
    error: str | None = None
    finished_at: datetime | None = None


class Distiller:
    """The server's distillations: at most one running; the newest per trial is kept."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[tuple[int, int], DistillRun] = {}
        self._running: DistillRun | None = None

    def start(self, job_id: int, trial: int, steps: int, work: Callable[[], None]) -> DistillRun | None:
        """Run ``work`` on a thread as the distillation of ``trial``; None while another one runs."""
        with self._lock:
            if self._running is not None:
                return None
            run = DistillRun(job_id, trial, steps, datetime.now(UTC))
            self._runs[job_id, trial] = self._running = run
        threading.Thread(target=self._run, args=(run, work), daemon=True, name="distill").start()
        return run

    def _run(self, run: DistillRun, work: Callable[[], None]) -> None:
        try:
            work()
            run.state = "done"
        except SupernasError as error:  # the user's data or trial: its message says what to change
            run.state, run.error = "failed", str(error)
        except Exception as error:  # noqa: BLE001 - reported on the trial page, not lost in a thread
            run.state, run.error = "failed", f"{type(error).__name__}: {error}"
        finally:
            run.finished_at = datetime.now(UTC)
            with self._lock:
                self._running = None

    def get(self, job_id: int, trial: int) -> DistillRun | None:
        return self._runs.get((job_id, trial))

    def running(self, job_id: int, trial: int) -> bool:
        run = self.get(job_id, trial)
        return run is not None and run.state == "running"
