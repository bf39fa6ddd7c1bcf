"""Latency of extracted subnets, timed under a workload in its backend (see the package's overview)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from supernas.data.inputs import random_batch
from supernas.models.checkpoint import extract
from supernas.models.model import Transformer
from supernas.models.supernet import Supernet
from supernas.predictors.latency import runtimes
from supernas.predictors.latency.probe import timing_options
from supernas.predictors.latency.runtimes import ONNXRUNTIME
from supernas.predictors.latency.timing import LatencyStats, fixed_threads, resolve_device, time_callable
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
    in the workload's backend, with its effort and probe (:func:`.probe.timing_options`): for onnxruntime
    it is exported and timed in an ONNX Runtime session (see :mod:`.runtimes`), and only the session's
    runs are timed. A torch model is moved to the workload's device in place."""
    w = workload
    device = resolve_device(w.device)
    inputs = random_batch(model.spec, w.batch_size, w.seq_len, seed).inputs
    if w.backend == ONNXRUNTIME:
        with fixed_threads(w.threads):
            run = runtimes.subnet_runner(model, inputs, w.threads, w.graph_optimization)
    else:
        model, inputs = model.to(device).eval(), inputs.to(device)
        run = lambda: model(inputs)  # noqa: E731
    return time_callable(run, device, **timing_options(w))


def timed_passes(time_one: Callable[[int], float], n: int, rounds: int) -> np.ndarray:
    """Milliseconds of items ``0..n-1``, timed in ``rounds`` passes through all of them (rounds x n).

    A shared host's speed drifts over minutes with its neighbours' load; passes spread each item's runs
    over the whole measurement, so the drift hits every item alike instead of some more.
    """
    return np.array([[time_one(i) for i in range(n)] for _ in range(rounds)])


def settled_medians(passes: np.ndarray, time_one: Callable[[int], float], retimes: int = 2) -> np.ndarray:
    """Each item's median over its passes, after timing again (up to ``retimes`` more times) each item
    whose passes disagree more than twice as much as the typical item's do: the outliers of this host's
    noise, where one pass caught a slow phase."""
    spread = np.ptp(passes, axis=0) / np.median(passes, axis=0)
    outliers = np.flatnonzero(spread > 2 * np.median(spread))
    medians = np.median(passes, axis=0)
    for i in outliers:
        times = list(passes[:, i]) + [time_one(int(i)) for _ in range(retimes)]
        medians[i] = np.median(times)
    return medians


def two_pass_disagreement(first: np.ndarray, second: np.ndarray) -> float:
    """How much two timings of the same items disagree: the mean of |a - b| / ((a + b) / 2)."""
    return float(np.mean(np.abs(first - second) / ((first + second) / 2)))


def subnet_latencies(
    supernet: Supernet, archs: Sequence[Architecture], workload: Workload, rounds: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The subnets' :func:`timed_passes` (rounds x n, ms) and their :func:`settled_medians`."""

    def time_one(i: int) -> float:
        return subnet_latency(supernet, archs[i], workload, seed).median_ms

    passes = timed_passes(time_one, len(archs), rounds)
    return passes, settled_medians(passes, time_one)
