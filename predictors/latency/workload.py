"""What a latency is measured on (the workload: batch shape, device, threads, clock, backend) and the
fingerprint of the machine that measures it: predictors are keyed by both."""

from __future__ import annotations

import hashlib
import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path

import torch

from supernas.core.errors import SpecError
from supernas.predictors.latency import runtimes
from supernas.predictors.latency.runtimes import DEFAULT_GRAPH_OPTIMIZATION, ONNXRUNTIME
from supernas.predictors.latency.timing import Clock, check_clock, resolve_device, steady_heap


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_fingerprint(device: str = "cpu", threads: int | None = None) -> dict:
    """What a latency depends on besides the architecture: hardware, threads, torch version, and whether
    the heap is steady (:func:`.timing.steady_heap`; timings with page faults are another scale)."""
    target = resolve_device(device)
    hardware = torch.cuda.get_device_name(target) if target.type == "cuda" else _cpu_model()
    return {
        "device": target.type,
        "hardware": hardware,
        "cpu_count": os.cpu_count(),
        "threads": threads or torch.get_num_threads(),
        "torch": torch.__version__,
        "heap": steady_heap(),
    }


def fingerprint_hash(fingerprint: dict) -> str:
    return hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()[:10]


@dataclass(frozen=True)
class Workload:
    """What a latency is measured on: batch shape, device, threads, clock, timing effort and backend.

    ``graph_optimization`` is ONNX Runtime's level (disable, basic, extended, all) for backend onnxruntime.
    The effort: ``warmup`` runs, then ``repeats`` timed runs and more, up to ``max_repeats`` (None: 3 x
    repeats), until the median's relative standard error is at most ``target_error``; with ``probe``
    each run is scaled by the reference probe timed before it (see :mod:`.timing`).
    """

    batch_size: int = 1
    seq_len: int = 64
    device: str = "cpu"
    threads: int | None = None
    clock: Clock = "wall"
    warmup: int = 3
    repeats: int = 10
    backend: str = "torch"
    graph_optimization: str = DEFAULT_GRAPH_OPTIMIZATION
    probe: bool = True
    max_repeats: int | None = None
    target_error: float = 0.02

    def __post_init__(self) -> None:
        if self.max_repeats is not None and self.max_repeats < self.repeats:
            raise SpecError(f"max_repeats {self.max_repeats} must be >= repeats {self.repeats}")
        if isinstance(self.target_error, bool) or not isinstance(self.target_error, (int, float)):
            raise SpecError(
                f"target_error {self.target_error!r} must be a number in [0, 1) (a relative error)"
            )
        if not 0 <= self.target_error < 1:
            raise SpecError(f"target_error {self.target_error} must be in [0, 1) (a relative error)")
        if not isinstance(self.probe, bool):
            raise SpecError(f"probe {self.probe!r} must be true or false")
        runtimes.check_latency_backend(self.backend, self.device, self.graph_optimization)
        check_clock(self.clock, self.device, self.threads)

    def fingerprint(self) -> dict:
        """The device's fingerprint, with the ONNX Runtime version, level and threads for that backend."""
        runtime = runtimes.runtime_fingerprint(self.backend, self.threads, self.graph_optimization)
        return {**device_fingerprint(self.device, self.threads), **runtime}

    def key(self) -> str:
        """Short hash of the fingerprint and of what the latency means (not of the effort).

        The default backend adds nothing, so predictors calibrated before backends existed keep their key.
        """
        measured = {"batch_size": self.batch_size, "seq_len": self.seq_len, "clock": self.clock}
        if self.backend != "torch":
            measured["backend"] = self.backend
        return fingerprint_hash({**self.fingerprint(), **measured})

    def most_repeats(self) -> int:
        """The most timed runs one measurement may take."""
        return self.max_repeats or 3 * self.repeats

    def threads_label(self) -> str:
        """The threads the latency runs on, for messages."""
        if self.threads is None and self.backend == ONNXRUNTIME:
            return "ONNX Runtime's default"
        return str(self.threads or torch.get_num_threads())
