"""Timing a forward pass: clocks, devices, thread counts, a steady heap, a reference probe, and adaptive
repeats.

Timing is the median of at least ``repeats`` runs after ``warmup`` runs, in inference mode with a fixed
thread count. The clock is wall time by default; ``clock="cpu"`` reads the thread's CPU time, which equals
the uncontended latency when the model runs on one thread (the only setting it is allowed with) and does
not count time other processes hold the core: on a shared 2-core VM, wall times of one model varied 2-3x
with the neighbours' load while its CPU time stayed within a few percent.

CPU time still sees what a neighbour does to the caches and the core it shares, and that changes over
seconds. So each run is paired with a run of a fixed reference :class:`Probe` timed just before it, and
counts as ``run / probe x probe.reference_ms``: a slow phase of the host slows both alike and cancels.
Runs are added until the median's relative standard error is at most ``target_error`` or ``max_repeats``
runs are done (pyperf and Google Benchmark likewise repeat until the estimate is steady).

Before any timing the process's heap is made steady (:func:`steady_heap`), so that a forward reuses the
memory of the last one instead of page-faulting fresh memory in.
"""

from __future__ import annotations

import ctypes
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Literal

import numpy as np
import torch

from supernas.core.errors import NotFoundError, SpecError, allowed

Clock = Literal["wall", "cpu"]
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.thread_time}
# glibc's mallopt parameters (malloc.h) and the values of a steady heap: buffers up to 32 MiB (the largest
# threshold glibc takes on 64-bit) come from the heap, and up to 1 GiB of freed heap stays in the process
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
STEADY_MMAP_THRESHOLD, STEADY_TRIM_THRESHOLD = 32 << 20, 1 << 30
# the standard error of a median is sqrt(pi / 2) times that of a mean; 1.4826 x MAD estimates sigma
MEDIAN_ERROR_FACTOR = math.sqrt(math.pi / 2) * 1.4826


@dataclass(frozen=True)
class LatencyStats:
    """Milliseconds per forward pass: the median over ``runs`` timed runs, and their p10/p90 and IQR.

    ``error`` is the median's relative standard error; ``statistic`` names what ``median_ms`` is.
    """

    median_ms: float
    p10: float
    p90: float
    iqr: float
    runs: int
    error: float
    statistic: str


@dataclass(frozen=True)
class Probe:
    """A fixed reference computation timed before every run; ``reference_ms`` is its typical time."""

    run: Callable[[], object]
    reference_ms: float


def relative_error(times: list[float]) -> float:
    """The relative standard error of the median of ``times`` (robust: from their median absolute
    deviation); infinite for fewer than 3 runs."""
    if len(times) < 3:
        return math.inf
    median = float(np.median(times))
    mad = float(np.median(np.abs(np.asarray(times) - median)))
    return MEDIAN_ERROR_FACTOR * mad / math.sqrt(len(times)) / median if median > 0 else math.inf


@cache
def steady_heap() -> str:
    """Fix glibc's malloc thresholds for this process, once; returns "steady", or "default" where the C
    library is not glibc.

    By default glibc adapts its thresholds to what the process freed before, and returns freed memory to
    the system, so a subnet's forward may map and fault in fresh pages on every run, or not, by what was
    timed before it. Measured on the MiniLM space (30 subnets, 2 passes in one order and 2 in the
    reverse): 94,000 page faults over the timed runs, and passes in opposite orders disagreed by 15.9%,
    a subnet's time moving 0.70x to 1.15x with its predecessor. With fixed thresholds: 91 faults, and
    7.1% between orders, as much as between two passes in the same order. Every forward after the
    warm-up then reuses memory, as in a serving process that links jemalloc or tcmalloc. Freed memory
    stays in the process: a process that times can afford it.
    """
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return "default"
    fixed = mallopt(M_MMAP_THRESHOLD, STEADY_MMAP_THRESHOLD) == 1
    fixed = mallopt(M_TRIM_THRESHOLD, STEADY_TRIM_THRESHOLD) == 1 and fixed
    return "steady" if fixed else "default"


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
    probe: Probe | None = None,
    max_repeats: int | None = None,
    target_error: float = 0.0,
    now: Callable[[], float] | None = None,
) -> LatencyStats:
    """Time ``run`` after ``warmup`` untimed calls; CUDA work is synchronized before each clock read.

    ``repeats`` runs, then ``repeats`` more at a time while the median's relative error exceeds
    ``target_error``, up to ``max_repeats`` (default: ``repeats``, no adaptation). ``now`` replaces
    the clock (tests drive it).
    """
    most = repeats if max_repeats is None else max_repeats
    if repeats < 1 or warmup < 0 or most < repeats:
        raise SpecError(
            "latency timing needs repeats >= 1, warmup >= 0 and max_repeats >= repeats, got "
            f"repeats={repeats}, warmup={warmup}, max_repeats={most}"
        )
    clock_read = check_clock(clock, device, threads)
    now = now or clock_read
    steady_heap()
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)

    def timed(call: Callable[[], object]) -> float:
        start = now()
        call()
        sync()
        return (now() - start) * 1e3

    times: list[float] = []
    with torch.inference_mode(), fixed_threads(threads):
        for _ in range(warmup):
            run()
            if probe is not None:
                probe.run()
        sync()
        while not times or (len(times) < most and relative_error(times) > target_error):
            for _ in range(min(repeats, most - len(times))):
                if probe is None:
                    times.append(timed(run))
                else:
                    probe_ms = timed(probe.run)
                    times.append(timed(run) / probe_ms * probe.reference_ms)
    p10, q1, median, q3, p90 = np.percentile(times, [10, 25, 50, 75, 90])
    statistic = f"median of {len(times)} {'probe-normalised ' if probe else ''}runs"
    return LatencyStats(
        float(median), float(p10), float(p90), float(q3 - q1), len(times), relative_error(times), statistic
    )
