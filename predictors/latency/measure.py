"""Latency of subnets: timed on a device, or predicted by models calibrated on that device.

This module times extracted subnets under a workload; the pieces live beside it: :mod:`.timing` (clocks,
devices, the median of repeated runs), :mod:`.workload` (what is measured on which machine),
:mod:`.forward_parts` (the parts of a forward pass the lookup table times), :mod:`.latency_predictors`,
:mod:`.calibration` (fit, score, save and load the predictors), :mod:`.calibration_report` and
:mod:`.latency_metrics` (the ``latency_ms`` and ``latency_predicted_ms`` metrics).

Timing a subnet means extracting and running it, and a search scores thousands, so :func:`calibrate`
times a sample once per (space, workload, machine) and fits two predictors, saved under
``supernas_home()/predictors`` and reused on the same machine:

- ``lut``: nn-Meter's kernel lookup table. A forward pass is the embedding-and-head part plus, per
  layer, an attention part (norm, projections, attention, residual) and an FFN part (norm, experts,
  residual). Each distinct part is timed standalone on random weights, and a subnet is predicted
  as the sum of its parts, corrected by a linear fit (scale, offset) on the measured subnets for what
  the sum misses (the glue between parts, cache effects).
- ``regressor``: gradient-boosted trees on architecture features (:func:`arch_features`), boosted
  from a ridge regression. Latency is close to additive over layers: with a hundred or so timed
  subnets trees alone cannot learn that sum (they reached ~70 % within ±10 % on gpt-tiny where the
  linear start reaches ~90 %), so the trees only fit what the linear model leaves.

Predictions are for the workload (batch shape, threads, clock, backend) the predictor was calibrated
with; its files are keyed by a hash of that workload and of the device's fingerprint.

``backend`` is what runs the subnet (see :mod:`.runtimes`): ``torch`` (eager; integer layers dequantize,
then matmul), ``triton`` (the fused kernels of :mod:`supernas.models.kernels`), so a search can weigh
quantization policies by what the kernels really cost, or ``onnxruntime`` (the subnet exported to ONNX and
run in ONNX Runtime on the CPU, with a graph optimization level), so it can rank subnets by what the
deployment runtime costs. ``triton`` times real kernels on a CUDA device only: on the CPU they run in
Triton's interpreter, which is correct but orders of magnitude slower and says nothing about deployed
speed. The lookup table times each part in the workload's backend (for ``onnxruntime``: each part
exported on its own), so it works per backend as the measured latency does.
"""

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
