"""Latency of extracted subnets, timed under a workload in its backend (see the package's overview)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from supernas.data.inputs import random_batch
from supernas.models.checkpoint import extract
from supernas.models.model import Transformer
from supernas.models.supernet import Supernet
from supernas.predictors.latency import runtimes
from supernas.predictors.latency.runtimes import ONNXRUNTIME
from supernas.predictors.latency.timing import (
    LatencyStats,
    fixed_threads,
    measure_latency,
    resolve_device,
    time_callable,
)
from supernas.predictors.latency.workload import Workload
from supernas.spaces.architecture import Architecture


def subnet_latency(supernet: Supernet, arch: Architecture, workload: Workload, seed: int = 0) -> LatencyStats:
    """Extract ``arch`` from ``supernet`` with the workload's backend and time it (:func:`model_latency`).

    Extraction runs with the workload's threads too: on a loaded 2-core machine two threads spin on
    each other and extract several times slower.
    """
    with fixed_threads(workload.threads):
        model = extract(supernet, arch, runtimes.leaf_backend(workload.backend))
    return model_latency(model, workload, seed)


def model_latency(model: Transformer, workload: Workload, seed: int = 0) -> LatencyStats:
    """Time a built subnet (extracted, or a loaded checkpoint) on a random batch of the workload's shape,
    in the workload's backend: for onnxruntime it is exported and timed in an ONNX Runtime session (see
    :mod:`.runtimes`), and only the session's runs are timed."""
    w = workload
    inputs = random_batch(model.spec, w.batch_size, w.seq_len, seed).inputs
    if w.backend != ONNXRUNTIME:
        return measure_latency(model, inputs, w.warmup, w.repeats, w.device, w.threads, w.clock)
    with fixed_threads(w.threads):
        run = runtimes.subnet_runner(model, inputs, w.threads, w.graph_optimization)
    return time_callable(run, resolve_device(w.device), w.warmup, w.repeats, w.threads, w.clock)


def subnet_latencies(
    supernet: Supernet, archs: Sequence[Architecture], workload: Workload, rounds: int, seed: int = 0
) -> np.ndarray:
    """Median latency (ms) of each subnet over ``rounds`` passes through all of them.

    A shared VM's speed drifts over minutes with its neighbours' load; passes spread each subnet's
    runs over the whole measurement, so the drift hits every subnet alike instead of some more.
    """
    passes = [
        [subnet_latency(supernet, arch, workload, seed).median_ms for arch in archs] for _ in range(rounds)
    ]
    return np.median(passes, axis=0)
