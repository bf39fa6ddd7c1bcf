"""The reference probe timed beside every run (see :mod:`.timing`), and the timing options of a workload.

The probe is a fixed matrix product on the workload's device and threads. Its quiet time (the lowest
median of a few bursts spread over half a second, so a busy moment at the first use does not set it) is
measured once per machine, clock and thread count and kept under
``supernas_home()/predictors``: every process on the machine scales its runs by the same value, so a
latency timed by the search, by calibration and by verify later is on one scale, whatever the host was
doing when each process started.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path

import torch

from supernas.core.paths import supernas_home
from supernas.predictors.latency.timing import Probe, resolve_device, time_callable
from supernas.predictors.latency.workload import Workload, device_fingerprint, fingerprint_hash

PROBE_SIZE = 192  # a 192 x 192 fp32 product: ~0.14 ms on one thread of a cloud CPU core
REFERENCE_BURSTS = 8  # bursts of REFERENCE_RUNS runs, REFERENCE_PAUSE_S apart
REFERENCE_RUNS = 25
REFERENCE_PAUSE_S = 0.06


def probe_run(device: torch.device) -> Callable[[], torch.Tensor]:
    """The probe's computation: one fixed matrix product on ``device``."""
    matrix = torch.randn(PROBE_SIZE, PROBE_SIZE, generator=torch.Generator().manual_seed(0)).to(device)
    return lambda: matrix @ matrix


def reference_file(workload: Workload) -> Path:
    """Where the probe's typical time for this machine, device, threads and clock is kept."""
    fingerprint = device_fingerprint(workload.device, workload.threads)
    key = fingerprint_hash({**fingerprint, "clock": workload.clock, "probe": PROBE_SIZE})
    folder = supernas_home() / "predictors"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"probe-{key}.json"


def reference_probe(workload: Workload) -> Probe:
    """The probe for ``workload``'s device, threads and clock (see :func:`_reference_probe`)."""
    return _reference_probe(supernas_home(), workload.device, workload.threads, workload.clock)


@cache
def _reference_probe(home: Path, device: str, threads: int | None, clock: str) -> Probe:
    """The probe, its typical time measured on first use on this machine and kept; built once per process
    and setting (``home`` keys the cache: the file lives there), since every timed subnet asks for it.

    Two processes measuring at once both try to create the file; the first one's value wins and the
    other reads it, so no two processes scale by different values.
    """
    workload = Workload(device=device, threads=threads, clock=clock)
    target = resolve_device(device)
    run, path = probe_run(target), reference_file(workload)
    if not path.is_file():
        measured = {"reference_ms": quiet_time(run, target, threads, clock), "runs": REFERENCE_RUNS}
        draft = path.with_suffix(f".{os.getpid()}.tmp")
        draft.write_text(json.dumps(measured))
        try:
            os.link(draft, path)  # fails if another process created it first
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return Probe(run, float(json.loads(path.read_text())["reference_ms"]))


def quiet_time(run: Callable[[], object], device: torch.device, threads: int | None, clock: str) -> float:
    """The lowest median of ``REFERENCE_BURSTS`` bursts of ``run``: a busy phase of the host shorter than
    the bursts' span (seen in CI: a finishing job's workers) raises some bursts, not the lowest."""
    medians = []
    for _ in range(REFERENCE_BURSTS):
        medians.append(time_callable(run, device, 3, REFERENCE_RUNS, threads, clock).median_ms)
        time.sleep(REFERENCE_PAUSE_S)
    return min(medians)


def timing_options(workload: Workload) -> dict:
    """Keyword arguments of :func:`.timing.time_callable` for ``workload``'s effort, clock and probe."""
    w = workload
    return {
        "warmup": w.warmup,
        "repeats": w.repeats,
        "threads": w.threads,
        "clock": w.clock,
        "probe": reference_probe(w) if w.probe else None,
        "max_repeats": w.most_repeats(),
        "target_error": w.target_error,
    }


def statistic_name(workload: Workload) -> str:
    """What one timing under ``workload`` is, for reports: the statistic a predictor estimates."""
    w = workload
    normalised = " probe-normalised" if w.probe else ""
    return (
        f"median of {w.repeats} to {w.most_repeats()}{normalised} {w.clock}-clock runs "
        f"(more while its standard error > {w.target_error:.0%})"
    )
