"""Re-measuring a metric on an extracted, reloaded subnet checkpoint instead of the supernet.

A search scores subnets through the weight-sharing supernet (or predicts them); verification asks
whether the checkpoint a user loads keeps those promises. :class:`CheckpointMeasurer` loads the
checkpoint with ``load_subnet`` and re-measures each metric on it, by the first rule that applies:

- ``params``: counted on the loaded model (:func:`supernas.models.dense.parameter_count`);
  ``non_embedding_params`` and ``decoder_params``: the same less its token, position and segment
  embeddings (and patch embedding and class token for vision).
- ``weight_bytes``: the bytes of tensor data in ``model.safetensors`` on disk (the file's size less its
  header: the analytic metric counts tensor bytes, so like is compared with like; the whole file size
  is kept in the verification too).
- other analytic metrics (``flops``, ``macs``, ``kv_cache_bytes``, ``peak_activation_bytes``, plugins'
  analytic metrics): computed from the architecture and space read back from the checkpoint's
  ``config.json``. They count what an architecture implies, so this checks the checkpoint describes the
  searched subnet; it does not count operations at run time.
- ``latency_ms``: the loaded checkpoint timed with the metric's own workload (batch, sequence length,
  device, threads, clock, warm-up, repeats, backend, ONNX Runtime level), on the same random batch the
  search timed. ``latency_predicted_ms`` is re-measured the same way: the searched value was a
  prediction, the verified one is the latency it predicted.
- every other metric (proxies, one-shot ``val_loss``/``val_accuracy``, plugins): its own ``evaluate``
  with a :class:`~supernas.models.checkpoint.CheckpointAsSupernet` as the context's supernet, so the
  same code runs on the checkpoint's weights. The context has the search's calibration batch and seed,
  and the held-out text kept with the job's supernet.
- except weight-gradient proxies (``synflow``, ``snip``, ``grad_norm``, ``zico``) on a subnet with
  weights below 32 bits: a checkpoint stores those weights as fp16 or integer buffers, which have no
  gradients (the supernet's straight-through estimator has), so the proxy measures something else on
  it. They are reported as not re-measured, with that reason.

With ``runtime="onnxruntime"`` the checkpoint is also exported to ``model.onnx`` beside it, and what a
runtime changes is measured on that file: held-out quality (one-shot metrics) by running the file in ONNX
Runtime on the held-out data (:class:`~supernas.export.onnx.RuntimeModel`), and latency by timing the
same graph in ONNX Runtime with the metric's workload (backend ``onnxruntime`` whatever the search
used). Counts and proxies are properties of the weights, measured on the checkpoint as above.

A metric whose ``evaluate`` cannot run on a checkpoint is reported as not re-measured with its error,
never as a value. Values of analytic, proxy and one-shot metrics are deterministic: the verified value
must equal the searched one (to float rounding); measured latencies come with the spread of their runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from supernas.core.errors import SpecError, SupernasError, allowed
from supernas.data.inputs import Batch
from supernas.export.onnx import ONNX_FILE, RuntimeModel, to_onnx
from supernas.models.checkpoint import (
    WEIGHTS,
    CheckpointAsSupernet,
    load_subnet,
    read_subnet_config,
    tensor_bytes_on_disk,
)
from supernas.models.dense import parameter_count
from supernas.models.model import Transformer
from supernas.models.supernet import Supernet
from supernas.predictors.base import CostClass, Metric, MetricContext
from supernas.predictors.catalogue import get_metric
from supernas.predictors.latency import runtimes
from supernas.predictors.latency.measure import model_latency
from supernas.predictors.latency.metrics import workload_option
from supernas.predictors.latency.probe import statistic_name
from supernas.predictors.latency.workload import Workload

DETERMINISTIC = (CostClass.analytic, CostClass.proxy, CostClass.one_shot)
WEIGHT_GRADIENT_PROXIES = ("synflow", "snip", "grad_norm", "zico")
EMBEDDINGS = ("wte", "wpe", "wtt", "patch", "cls")  # Transformer's embedding modules
RUNTIMES = ("torch", runtimes.ONNXRUNTIME)  # where verification runs a subnet


def check_runtime(runtime: str) -> str:
    if runtime not in RUNTIMES:
        raise SpecError(f"unknown runtime '{runtime}' ({allowed(RUNTIMES)})")
    return runtime


@dataclass(frozen=True)
class Remeasured:
    """One metric re-measured on a checkpoint. ``value`` is None when it could not be (``note`` says why)."""

    value: float | None
    method: str
    deterministic: bool
    spread: float | None = None  # timed metrics: (p90 - p10) / median of the runs
    note: str | None = None


def embedding_parameters(model: Transformer) -> int:
    """Parameters of the loaded model's token, position and segment embeddings (patch and class token)."""
    return sum(
        parameter_count(module) for name in EMBEDDINGS if (module := getattr(model, name, None)) is not None
    )


class CheckpointMeasurer:
    """Re-measures metrics on one checkpoint directory, loaded once with ``load_subnet``.

    ``batch``, ``seed`` and ``data`` are the search's calibration batch, seed and task data; ``beside`` is
    the supernet the checkpoint was extracted from, read only for what it keeps beside its weights
    (held-out text or task data, its parent). ``runtime`` ``onnxruntime`` measures quality and latency
    on the exported file (see the module docstring).
    """

    def __init__(
        self,
        directory: str | Path,
        batch: Batch | None = None,
        seed: int = 0,
        beside: Supernet | None = None,
        data: str | None = None,
        runtime: str = "torch",
    ) -> None:
        self.runtime = check_runtime(runtime)
        self.directory = Path(directory)
        self.spec, self.arch, self.config = read_subnet_config(self.directory)
        self.model = load_subnet(self.directory)
        self.seed = seed
        # a job's data (its held-out split is what one-shot metrics scored), as the workers' context has it
        self.context = MetricContext(self.spec, batch=batch, seed=seed, data=data)
        self.context.supernet = CheckpointAsSupernet(self.model, beside)
        self.quality_context = self.context
        if self.runtime == runtimes.ONNXRUNTIME:
            onnx_file = self.directory / ONNX_FILE
            onnx_file.write_bytes(to_onnx(self.model))
            self.quality_context = MetricContext(self.spec, batch=batch, seed=seed, data=data)
            deployed = RuntimeModel(onnx_file, self.spec, self.arch)
            self.quality_context.supernet = CheckpointAsSupernet(deployed, beside)

    def measure(self, name: str, options: dict[str, object]) -> Remeasured:
        """Re-measure metric ``name`` (with the job's ``options``) on the checkpoint; see the module
        docstring."""
        metric = get_metric(name, **options)
        deterministic = metric.cost in DETERMINISTIC
        rule = self._rule(metric)
        try:
            return rule()
        except SupernasError as e:
            return Remeasured(None, "not re-measured", deterministic, note=str(e))
        except Exception as e:  # a metric that cannot run on a checkpoint: say so, never a value
            return Remeasured(None, "not re-measured", deterministic, note=f"{type(e).__name__}: {e}")

    def _rule(self, metric: Metric) -> Callable[[], Remeasured]:
        name, model = metric.name, self.model
        if name == "params":
            return lambda: Remeasured(float(parameter_count(model)), "counted on the loaded model", True)
        if name in ("non_embedding_params", "decoder_params"):
            return lambda: Remeasured(
                float(parameter_count(model) - embedding_parameters(model)),
                "counted on the loaded model, less its embeddings",
                True,
            )
        if name == "weight_bytes":
            return lambda: Remeasured(
                float(tensor_bytes_on_disk(self.directory / WEIGHTS)),
                f"tensor bytes of {WEIGHTS} on disk",
                True,
            )
        if metric.cost is CostClass.analytic:
            return lambda: Remeasured(
                float(metric.evaluate(self.arch, self.context)),
                "analytic, from the checkpoint's config.json",
                True,
            )
        if name in ("latency_ms", "latency_predicted_ms"):
            return lambda: self._latency(metric)
        if name in WEIGHT_GRADIENT_PROXIES and any(layer.weight_bits < 32 for layer in self.arch.layers):
            note = (
                "a weight-gradient proxy: the checkpoint stores weights below 32 bits as fp16/integer "
                "buffers, which have no gradients (the supernet's straight-through estimator has)"
            )
            return lambda: Remeasured(None, "not re-measured", True, note=note)
        if metric.cost is CostClass.one_shot:
            # another runtime's sums differ from torch's by float rounding: its values are reported with
            # their error, not held to the checkpoint's exact equality
            same = self.runtime == "torch"
            where = "the loaded checkpoint" if same else f"{ONNX_FILE} in ONNX Runtime"
            return lambda: Remeasured(
                float(metric.evaluate(self.arch, self.quality_context)), f"held-out quality of {where}", same
            )
        return lambda: Remeasured(
            float(metric.evaluate(self.arch, self.context)),
            "the metric on the loaded checkpoint",
            metric.cost in DETERMINISTIC,
        )

    def _latency(self, metric: Metric) -> Remeasured:
        workload = workload_option(
            metric
        )  # a predicted latency's workload has the default effort (3 + 10 runs)
        if self.runtime == runtimes.ONNXRUNTIME:
            workload = replace(workload, backend=runtimes.ONNXRUNTIME)
        leaves = runtimes.leaf_backend(workload.backend)
        model = load_subnet(self.directory, backend=leaves)  # its own copy: timing may move it to a device
        stats = model_latency(model, workload, self.seed)
        spread = (stats.p90 - stats.p10) / stats.median_ms if stats.median_ms > 0 else None
        method = "timed on the loaded checkpoint"
        if self.runtime == runtimes.ONNXRUNTIME:
            method = f"{ONNX_FILE}'s graph timed in ONNX Runtime"
        if metric.name != "latency_ms":
            method += " (the searched value was predicted)"
        return Remeasured(stats.median_ms, f"{method}: {_workload_text(workload)}", False, spread=spread)


def _workload_text(w: Workload) -> str:
    threads = w.threads_label()
    text = (
        f"batch {w.batch_size} x {w.seq_len}, {w.device}, "
        f"{threads} thread{'s' if threads != '1' else ''}, {statistic_name(w)}, backend {w.backend}"
    )
    if w.backend == runtimes.ONNXRUNTIME:
        text += f" ({w.graph_optimization})"
    return text
