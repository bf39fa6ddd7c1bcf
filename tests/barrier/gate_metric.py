"""A plugin metric that waits at a gate: each evaluation blocks until the test lets one more through.

Tests that stop, kill, cancel or take over a running job use it to hold the job at a known number of
finished trials, whatever the machine's speed (:class:`tests.barrier.Gate` is the test's side). The gate
is a folder shared by the test and every worker process:

- ``arrivals/``: one file per evaluation that reached the gate, holding the worker's pid;
- ``allowed``: how many evaluations may pass, in all (written by the test);
- ``passes/``: one file per evaluation that passed, numbered 0, 1, ...; creating it exclusively claims
  the pass, so exactly ``allowed`` evaluations pass however many workers wait.

An evaluation killed while it waits claims nothing. One that waits longer than ``timeout`` seconds
raises, so a test that forgets to open its gate fails loudly instead of hanging.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from supernas.predictors.plugins import metric


@metric("gated", direction="minimize", unit="layers", cost="analytic")
def gated(arch, context, gate: str = "", timeout: float = 300.0) -> float:
    """The architecture's depth, once the gate at folder ``gate`` lets this evaluation through."""
    folder = Path(gate)
    (folder / "arrivals" / uuid.uuid4().hex).write_text(f"{os.getpid()} {arch.arch_id}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        allowed = int((folder / "allowed").read_text() or 0)
        for number in range(len(os.listdir(folder / "passes")), allowed):
            try:
                os.close(os.open(folder / "passes" / str(number), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                continue
            return float(arch.depth)
        time.sleep(0.01)
    raise TimeoutError(f"gate {folder}: not let through in {timeout:g} s (the test never opened it)")
