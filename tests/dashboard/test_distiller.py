"""The server's background distillations: one at a time, each one's outcome kept, failures with their
message, on real threads."""

from __future__ import annotations

import threading

from supernas.core.errors import SpecError
from supernas.dashboard.distiller import Distiller, DistillRun


def finished(distiller: Distiller, run: DistillRun) -> DistillRun:
    for _ in range(1000):
        if not distiller.running(run.job_id, run.trial):
            return run
        threading.Event().wait(0.01)
    raise AssertionError(f"still running: {run}")


def test_one_runs_at_a_time_and_another_starts_once_it_is_done():
    distiller, gate = Distiller(), threading.Event()
    first = distiller.start(1, 3, 10, lambda: gate.wait(60))
    refused = distiller.start(1, 4, 10, lambda: None)
    assert first is not None and first.state == "running" and distiller.running(1, 3)
    assert refused is None and distiller.get(1, 4) is None
    gate.set()
    assert finished(distiller, first).state == "done" and first.error is None
    assert first.finished_at >= first.started_at
    second = distiller.start(1, 4, 10, lambda: None)
    assert second is not None and finished(distiller, second).state == "done"
    assert distiller.get(1, 3) is first and distiller.get(1, 4) is second


def test_a_failure_keeps_its_message_and_frees_the_server():
    distiller = Distiller()

    def bad_data() -> None:
        raise SpecError("data 'x.txt': no such file")

    def crash() -> None:
        raise RuntimeError("out of memory")

    mistake = finished(distiller, distiller.start(2, 0, 5, bad_data))
    assert (mistake.state, mistake.error) == ("failed", "data 'x.txt': no such file")
    crashed = finished(distiller, distiller.start(2, 0, 5, crash))
    assert (crashed.state, crashed.error) == ("failed", "RuntimeError: out of memory")
    assert distiller.get(2, 0) is crashed  # the newest run of the trial
