"""The latency metrics: ``latency_ms`` (the extracted subnet timed on a device) and
``latency_predicted_ms`` (the predictor calibrated on this machine)."""

from __future__ import annotations

from typing import ClassVar

from supernas.core.errors import SpecError
from supernas.predictors.base import CostClass, Metric, MetricContext, int_option, register
from supernas.predictors.latency.calibration import load_predictor
from supernas.predictors.latency.measure import subnet_latency
from supernas.predictors.latency.predictors import LatencyPredictor
from supernas.predictors.latency.runtimes import DEFAULT_GRAPH_OPTIMIZATION
from supernas.predictors.latency.workload import Workload
from supernas.spaces.architecture import Architecture
from supernas.spaces.spec import SpaceSpec

WORKLOAD_OPTIONS: dict[str, object] = {
    "batch_size": 1,
    "seq_len": 64,
    "device": "cpu",
    "threads": None,
    "clock": "wall",
    "backend": "torch",
    "graph_optimization": DEFAULT_GRAPH_OPTIMIZATION,
}


def workload_option(metric: Metric) -> Workload:
    """The workload a latency metric's options describe (timing effort only for metrics that time)."""
    s, effort = metric.settings, {}
    if "repeats" in s:
        effort = {
            "warmup": int_option(metric, "warmup", minimum=0),
            "repeats": int_option(metric, "repeats"),
            "max_repeats": None if s["max_repeats"] is None else int_option(metric, "max_repeats"),
            "target_error": s["target_error"],
            "probe": s["probe"],
        }
    threads = None if s["threads"] is None else int_option(metric, "threads")
    shape = int_option(metric, "batch_size"), int_option(metric, "seq_len")
    try:
        return Workload(
            *shape,
            str(s["device"]),
            threads,
            s["clock"],
            backend=str(s["backend"]),
            graph_optimization=str(s["graph_optimization"]),
            **effort,
        )
    except SpecError as e:
        raise SpecError(f"metric '{metric.name}': {e}") from None


class _WorkloadMetric(Metric):
    """A latency metric: its workload options are checked with the job spec, before any trial runs."""

    def check_applicable(self, spec: SpaceSpec) -> None:
        super().check_applicable(spec)
        workload_option(self)


@register
class LatencyMeasured(_WorkloadMetric):
    name = "latency_ms"
    direction = "minimize"
    unit = "ms"
    cost = CostClass.measured
    description = "median forward-pass time of the extracted subnet on a device"
    options: ClassVar[dict[str, object]] = {
        **WORKLOAD_OPTIONS,
        "warmup": 3,
        "repeats": 10,
        "max_repeats": None,
        "target_error": 0.02,
        "probe": True,
    }

    def evaluate(self, arch: Architecture, context: MetricContext) -> float:
        return subnet_latency(context.supernet, arch, workload_option(self), context.seed).median_ms


@register
class LatencyPredicted(_WorkloadMetric):
    name = "latency_predicted_ms"
    direction = "minimize"
    unit = "ms"
    cost = CostClass.predicted
    description = "latency_ms as predicted by the predictor calibrated on this machine (`supernas calibrate`)"
    options: ClassVar[dict[str, object]] = {**WORKLOAD_OPTIONS, "kind": "best"}

    def __init__(self, **options: object) -> None:
        super().__init__(**options)
        self._predictors: dict[str, LatencyPredictor] = {}

    def evaluate(self, arch: Architecture, context: MetricContext) -> float:
        spec = context.spec
        if spec.name not in self._predictors:
            self._predictors[spec.name] = load_predictor(
                spec, workload_option(self), str(self.settings["kind"])
            )
        return float(self._predictors[spec.name].predict([arch])[0])
