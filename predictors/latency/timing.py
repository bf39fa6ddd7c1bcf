"""Timing a forward pass: clocks, devices, thread counts, and the median of repeated runs.

Timing is the median of ``repeats`` runs after ``warmup`` runs, in inference mode with a fixed thread
count. The clock is wall time by default; ``clock="cpu"`` reads the thread's CPU time, which equals the
uncontended latency when the model runs on one thread (the only setting it is allowed with) and does
not count time other processes hold the core: on a shared 2-core VM, wall times of one model varied
2-3x with the neighbours' load while its CPU time stayed within a few percent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

from supernas.core.errors import NotFoundError, SpecError, allowed

Clock = Literal["wall", "cpu"]
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.thread_time}


@dataclass(frozen=True)
class LatencyStats:
    """Milliseconds per forward pass over ``runs`` timed runs; p10/p90 and IQR show the spread."""

    median_ms: float
    p10: float
    p90: float
    iqr: float
    runs: int


def available_devices() -> list[str]:
    return ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]


def resolve_device(device: str) -> torch.device:
    """The torch device for a name, or a clear error when this machine has no such device."""
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise SpecError(f"unknown device '{device}' (allowed: cpu, cuda, cuda:N)") from None
    present = resolved.type == "cpu" or (
        resolved.type == "cuda"
        and torch.cuda.is_available()
        and (resolved.index or 0) < torch.cuda.device_count()
    )
    if not present:
        raise NotFoundError(
            f"device '{device}' is not available on this machine "
            f"(available: {', '.join(available_devices())})"
        )
    return resolved


@contextmanager
def fixed_threads(threads: int | None) -> Iterator[None]:
    """Run with ``threads`` intra-op threads (None: leave torch's setting), restored afterwards."""
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def check_clock(clock: str, device: torch.device | str, threads: int | None) -> Callable[[], float]:
    """The clock function; CPU time is a latency only for one thread on the CPU."""
    if clock not in CLOCKS:
        raise SpecError(f"unknown clock '{clock}' ({allowed(CLOCKS)})")
    device_type = device.type if isinstance(device, torch.device) else str(device).split(":")[0]
    if clock == "cpu" and (device_type != "cpu" or threads != 1):
        raise SpecError(
            "clock 'cpu' (thread CPU time) needs device cpu and threads 1; use clock 'wall' otherwise"
        )
    return CLOCKS[clock]


def time_callable(
    run: Callable[[], object],
    device: torch.device,
    warmup: int,
    repeats: int,
    threads: int | None,
    clock: Clock = "wall",
) -> LatencyStats:
    """Time ``run`` after ``warmup`` untimed calls; CUDA work is synchronized before each clock read."""
    if repeats < 1 or warmup < 0:
        raise SpecError(
            f"latency timing needs repeats >= 1 and warmup >= 0, got repeats={repeats}, warmup={warmup}"
        )
    now = check_clock(clock, device, threads)
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    times = []
    with torch.inference_mode(), fixed_threads(threads):
        for _ in range(warmup):
            run()
        sync()
        for _ in range(repeats):
            start = now()
            run()
            sync()
            times.append((now() - start) * 1e3)
    p10, q1, median, q3, p90 = np.percentile(times, [10, 25, 50, 75, 90])
    return LatencyStats(float(median), float(p10), float(p90), float(q3 - q1), repeats)


def measure_latency(
    model: nn.Module,
    inputs: torch.Tensor,
    warmup: int = 3,
    repeats: int = 10,
    device: str = "cpu",
    threads: int | None = None,
    clock: Clock = "wall",
) -> LatencyStats:
    """Forward-pass latency of ``model`` on ``inputs`` (both moved to ``device``, the model in place)."""
    target = resolve_device(device)
    model = model.to(target).eval()
    inputs = inputs.to(target)
    return time_callable(lambda: model(inputs), target, warmup, repeats, threads, clock)


# ---------------------------------------------------------------- device fingerprint, workloads and files
