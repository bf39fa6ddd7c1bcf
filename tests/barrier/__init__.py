"""Barriers for tests of running jobs: hold a job at a known number of finished trials.

A job whose objectives include the ``gated`` metric (:mod:`tests.barrier.gate_metric`, a plugin file)
evaluates nothing until the test lets evaluations through its :class:`Gate`, so "stop after 3 trials"
means exactly 3, on a fast machine and on a loaded one.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

PLUGIN = Path(__file__).with_name("gate_metric.py")
OPEN = 10**9  # more evaluations than any test runs
Result = TypeVar("Result")


class Gate:
    """The test's side of a gate folder (see :mod:`tests.barrier.gate_metric`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        for sub in ("arrivals", "passes"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        (folder / "allowed").write_text("0")

    def metric(self) -> dict:
        """A job spec's metric entry (an objective, or a constraint with a bound) waiting at this gate."""
        return {"metric": "gated", "options": {"gate": str(self.folder)}}

    def constraint(self) -> dict:
        """A job spec's constraint that no trial breaks, whose every evaluation waits at this gate: with
        it a job's own objectives are kept (give the job a ``reference`` too, or the controller scores
        its anchor subnets through the gate before the first trial)."""
        return {**self.metric(), "max": OPEN}

    def job_fields(self, plugin: str | Path = PLUGIN) -> dict:
        """A job spec's objectives, constraints, plugins and reference point that make every trial wait at
        this gate: depth (gated) against FLOPs. The reference point is given, since the controller would
        otherwise evaluate anchor subnets for it (through the gate too) before the first trial."""
        return {
            "objectives": [self.metric(), {"metric": "flops"}],
            "constraints": [],
            "plugins": [str(plugin)],
            "reference": [100.0, 1.0e12],
        }

    @property
    def allowed(self) -> int:
        return int((self.folder / "allowed").read_text())

    def release(self, n: int) -> None:
        """Let ``n`` more evaluations through, whichever workers ask first."""
        path = self.folder / "allowed"
        path.with_suffix(".tmp").write_text(str(self.allowed + n))
        os.replace(path.with_suffix(".tmp"), path)  # a worker never reads a half-written number

    def open(self) -> None:
        """Let every evaluation through from now on."""
        self.release(OPEN - self.allowed)

    def passed(self) -> int:
        return len(os.listdir(self.folder / "passes"))

    def arrival_pids(self) -> list[int]:
        """The pid of every evaluation that reached the gate, passed or waiting or killed, in no order."""
        return [int(p.read_text().split()[0]) for p in (self.folder / "arrivals").iterdir()]

    def arrivals(self) -> int:
        return len(os.listdir(self.folder / "arrivals"))


def plugin_in(folder: Path) -> str:
    """The gate's plugin file copied into ``folder`` (a server accepts plugins inside its home only)."""
    folder.mkdir(parents=True, exist_ok=True)
    return str(shutil.copy(PLUGIN, folder / PLUGIN.name))


PATIENCE_S = 600  # how long a test waits for a job's progress before it fails, naming what it waited for


def wait_until(condition: Callable[[], object], what: str, timeout: float = PATIENCE_S, alive=None) -> None:
    """Wait for ``condition`` (polled every 50 ms); fail naming ``what`` after ``timeout`` seconds, or at
    once if the process ``alive`` (a Popen) has exited.

    The deadline only ends a test that would otherwise hang: with a busy loop on both cores of a 2-core
    machine, a Ray worker took 100 s to start and reach a gate (8 s idle), so it is set far above that.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if alive is not None and alive.poll() is not None:
            raise AssertionError(f"exited with {alive.returncode} while waiting for {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


class Background(threading.Thread):
    """``target`` (a job) run in a thread, watched like a process: ``poll()`` is None while it runs, and
    ``join()`` raises what it raised.

    As a context manager it opens the job's ``gate`` and waits for the job when the block is left, passed
    or failed. A job left waiting at a failed test's gate runs on in the test process, beside the next
    tests and their Ray: under load, one such job ended the whole pytest process several tests later.
    """

    def __init__(self, target: Callable[[], object], gate: Gate | None = None) -> None:
        super().__init__(daemon=True)
        self.work, self.gate, self.error, self.returncode = target, gate, None, None
        self.start()

    def __enter__(self) -> Background:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.gate is not None:
            self.gate.open()
        threading.Thread.join(self, PATIENCE_S)
        if self.is_alive():
            raise AssertionError(f"the job in the background still ran {PATIENCE_S} s after its gate opened")

    def run(self) -> None:
        try:
            self.work()
        except BaseException as e:  # handed to join()
            self.error = e
        self.returncode = 0 if self.error is None else 1

    def poll(self) -> int | None:
        return None if self.is_alive() else self.returncode

    def join(self, timeout: float | None = None) -> None:
        super().join(timeout)
        if self.error is not None:
            raise self.error


def on_two_workers(gate: Gate, job: Callable[[], Result], what: str = "both workers at the gate") -> Result:
    """Run ``job`` (on two workers, its every evaluation waiting at ``gate``) until two evaluations wait
    there at once, one per worker, then let everything through; return what the job returned. Both
    workers then do work however late one of them starts: under a busy loop on both cores a Ray worker
    took 100 s to start, and the other had finished a cheap job by then."""
    returned: list[Result] = []
    with Background(lambda: returned.append(job()), gate) as run:
        wait_until(lambda: gate.arrivals() == 2, what, alive=run)
        gate.open()
        run.join()
    return returned[0]
