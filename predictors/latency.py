"""Latency: timed on a device, or predicted by models calibrated on that device.

Timing is the median of ``repeats`` runs after ``warmup`` runs, in inference mode with a fixed thread
count. The clock is wall time by default; ``clock="cpu"`` reads the thread's CPU time, which equals the
uncontended latency when the model runs on one thread (the only setting it is allowed with) and does
not count time other processes hold the core: on a shared 2-core VM, wall times of one model varied
2-3x with the neighbours' load while its CPU time stayed within a few percent.

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
then matmul), ``triton`` (the fused kernels of :mod:`supernas.spaces.kernels`), so a search can weigh
quantization policies by what the kernels really cost, or ``onnxruntime`` (the subnet exported to ONNX and
run in ONNX Runtime on the CPU, with a graph optimization level), so it can rank subnets by what the
deployment runtime costs. ``triton`` times real kernels on a CUDA device only: on the CPU they run in
Triton's interpreter, which is correct but orders of magnitude slower and says nothing about deployed
speed. The lookup table times each part in the workload's backend (for ``onnxruntime``: each part
exported on its own), so it works per backend as the measured latency does.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar, Literal, NamedTuple

import joblib
import numpy as np
import torch
from scipy.stats import spearmanr
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from supernas.spaces import Architecture, AttentionType, LayerArch, SpaceSpec, Supernet, extract, sample_many
from supernas.spaces.analytic import checkpoint_bytes, layer_linears
from supernas.spaces.architecture import attention_options, ffn_options, quant_options
from supernas.spaces.errors import NotFoundError, SpecError, allowed
from supernas.spaces.inputs import random_batch
from supernas.spaces.model import Attention, FeedForward, Transformer
from supernas.spaces.paths import supernas_home
from supernas.spaces.spec import ACT_BITS, WEIGHT_BITS, parse_spec
from supernas.spaces.subnet import DenseLeaves, QuantLinear

from . import runtimes
from .base import CostClass, Metric, MetricContext, register
from .costs import attention_macs, forward_macs, int_option, peak_activation_bytes, sequence_length
from .runtimes import DEFAULT_GRAPH_OPTIMIZATION, ONNXRUNTIME

# ---------------------------------------------------------------- timing

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
        resolved.type == "cuda" and torch.cuda.is_available() and (resolved.index or 0) < torch.cuda.device_count()
    )
    if not present:
        raise NotFoundError(
            f"device '{device}' is not available on this machine (available: {', '.join(available_devices())})"
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
        raise SpecError("clock 'cpu' (thread CPU time) needs device cpu and threads 1; use clock 'wall' otherwise")
    return CLOCKS[clock]


def time_callable(
    run: Callable[[], object], device: torch.device, warmup: int, repeats: int, threads: int | None, clock: Clock = "wall"
) -> LatencyStats:
    """Time ``run`` after ``warmup`` untimed calls; CUDA work is synchronized before each clock read."""
    if repeats < 1 or warmup < 0:
        raise SpecError(f"latency timing needs repeats >= 1 and warmup >= 0, got repeats={repeats}, warmup={warmup}")
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


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_fingerprint(device: str = "cpu", threads: int | None = None) -> dict:
    """What a latency depends on besides the architecture: hardware, threads, torch version."""
    target = resolve_device(device)
    hardware = torch.cuda.get_device_name(target) if target.type == "cuda" else _cpu_model()
    return {
        "device": target.type,
        "hardware": hardware,
        "cpu_count": os.cpu_count(),
        "threads": threads or torch.get_num_threads(),
        "torch": torch.__version__,
    }


def fingerprint_hash(fingerprint: dict) -> str:
    return hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()[:10]


@dataclass(frozen=True)
class Workload:
    """What a latency is measured on: batch shape, device, threads, clock, timing effort and backend.

    ``graph_optimization`` is ONNX Runtime's level (disable, basic, extended, all) for backend onnxruntime.
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

    def __post_init__(self) -> None:
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

    def threads_label(self) -> str:
        """The threads the latency runs on, for messages."""
        if self.threads is None and self.backend == ONNXRUNTIME:
            return "ONNX Runtime's default"
        return str(self.threads or torch.get_num_threads())


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
    passes = [[subnet_latency(supernet, arch, workload, seed).median_ms for arch in archs] for _ in range(rounds)]
    return np.median(passes, axis=0)


def predictor_path(space: str, workload: Workload, kind: str) -> Path:
    """``supernas_home()/predictors/{space}-{workload key}-{kind}{suffix}``; kind 'report' is JSON."""
    suffix = PREDICTORS[kind].suffix if kind in PREDICTORS else ".json"
    folder = supernas_home() / "predictors"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{space}-{workload.key()}-{kind}{suffix}"


# ---------------------------------------------------------------- predictors


class LatencyPredictor(ABC):
    """Predicts the latency (ms) of architectures of one space for the workload it was calibrated on."""

    kind: ClassVar[str]
    suffix: ClassVar[str]

    def __init__(self, spec: SpaceSpec, workload: Workload) -> None:
        self.spec, self.workload = spec, workload

    @abstractmethod
    def fit(self, archs: Sequence[Architecture], latencies: Sequence[float]) -> LatencyPredictor: ...

    @abstractmethod
    def predict(self, archs: Sequence[Architecture]) -> np.ndarray: ...

    @abstractmethod
    def save(self, path: Path) -> Path: ...

    @classmethod
    @abstractmethod
    def load(cls, path: Path) -> LatencyPredictor: ...


class Kernel(NamedTuple):
    """One timed part of a forward pass: 'base' (embeddings and head), 'attention' or 'ffn'."""

    part: str
    embed: int
    layer: LayerArch | None = None

    @property
    def key(self) -> str:
        """Only the fields the part's cost depends on: equal keys time the same computation."""
        if self.layer is None:
            return f"{self.part}|{self.embed}"
        x = self.layer
        if self.part == "attention":
            shape = (x.attention.value, x.heads, x.kv_heads, x.window)
        else:
            shape = (x.ffn_dim, x.experts, x.top_k)
        return "|".join(map(str, (self.part, self.embed, *shape, f"w{x.weight_bits}a{x.act_bits}")))


def arch_kernels(arch: Architecture) -> list[Kernel]:
    return [Kernel("base", arch.embed_dim)] + [
        Kernel(part, arch.embed_dim, layer) for layer in arch.layers for part in ("attention", "ffn")
    ]


def space_kernels(spec: SpaceSpec) -> list[Kernel]:
    """Every kernel some architecture of the space uses, each once."""
    attn, ffn, quant = attention_options(spec), ffn_options(spec), quant_options(spec)
    kernels = []
    for e in spec.embed_dim:
        kernels.append(Kernel("base", e))
        kernels += [Kernel("attention", e, LayerArch(**a, **ffn[0], **q)) for a in attn for q in quant]
        kernels += [Kernel("ffn", e, LayerArch(**attn[0], **f, **q)) for f in ffn for q in quant]
    return kernels


@torch.no_grad()
def _random_weights(module: nn.Module, seed: int = 0) -> nn.Module:
    """Dense leaves start at zero; random weights make MoE routing spread tokens as trained ones do."""
    g = torch.Generator().manual_seed(seed)
    for leaf in module.modules():
        if isinstance(leaf, QuantLinear):
            leaf.load_dense(torch.randn(leaf.out_features, leaf.in_features, generator=g) * 0.02, None)
    return module.eval()


class _Residual(nn.Module):
    """``x + part(norm(x))``: an attention or FFN part as a pre-norm block runs it, a module of one input."""

    def __init__(self, norm: nn.Module, part: nn.Module) -> None:
        super().__init__()
        self.norm, self.part = norm, part

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)
        return x + (self.part(h, None) if isinstance(self.part, Attention) else self.part(h))


def kernel_module(spec: SpaceSpec, kernel: Kernel, workload: Workload) -> tuple[nn.Module, torch.Tensor]:
    """``kernel`` as a module on random weights (leaves of the workload's backend), and its input.

    'base' is a transformer without layers on token ids (or images); the other parts take hidden states.
    """
    w, e = workload, kernel.embed
    leaves = DenseLeaves(runtimes.leaf_backend(w.backend))
    if kernel.part == "base":
        empty = Architecture(space=spec.name, embed_dim=e, layers=())
        return _random_weights(Transformer(spec, empty, leaves)), random_batch(spec, w.batch_size, w.seq_len).inputs
    x = torch.randn(w.batch_size, sequence_length(spec, w.seq_len), e, generator=torch.Generator().manual_seed(0))
    part = (Attention if kernel.part == "attention" else FeedForward)(spec, e, kernel.layer, leaves)
    return _Residual(nn.LayerNorm(e, eps=spec.norm_eps), _random_weights(part)).eval(), x


def kernel_runner(spec: SpaceSpec, kernel: Kernel, workload: Workload, device: torch.device) -> Callable[[], object]:
    """A closure computing ``kernel`` once on random weights and inputs of the workload's shape.

    For backend onnxruntime the part is exported on its own and run in its own session.
    """
    module, inputs = kernel_module(spec, kernel, workload)
    if workload.backend == ONNXRUNTIME:
        name = ("pixel_values" if spec.task == "vision" else "input_ids") if kernel.part == "base" else "x"
        return runtimes.part_runner(module, name, inputs, workload.threads, workload.graph_optimization)
    module, inputs = module.to(device), inputs.to(device)
    return lambda: module(inputs)


class LookupTablePredictor(LatencyPredictor):
    kind = "lut"
    suffix = ".json"

    def __init__(
        self,
        spec: SpaceSpec,
        workload: Workload,
        table: dict[str, float] | None = None,
        scale: float = 1.0,
        offset: float = 0.0,
    ) -> None:
        super().__init__(spec, workload)
        self.table = dict(table or {})
        self.scale, self.offset = scale, offset

    def profile(self, kernels: Iterable[Kernel], rounds: int = 1) -> None:
        """Time every kernel not yet in the table (on this machine: the table is only valid here).

        With several rounds each kernel's entry is the median over passes through all of them.
        """
        missing = list({k.key: k for k in kernels if k.key not in self.table}.values())
        if not missing:
            return
        device, w = resolve_device(self.workload.device), self.workload

        def once(kernel: Kernel) -> float:
            run = kernel_runner(self.spec, kernel, w, device)
            return time_callable(run, device, w.warmup, w.repeats, w.threads, w.clock).median_ms

        with fixed_threads(w.threads):
            passes = [[once(k) for k in missing] for _ in range(rounds)]
        self.table.update(zip((k.key for k in missing), np.median(passes, axis=0).tolist()))

    def kernel_sum(self, archs: Sequence[Architecture]) -> np.ndarray:
        """Uncorrected prediction: the sum of each architecture's kernel times."""
        self.profile(k for arch in archs for k in arch_kernels(arch))
        return np.array([sum(self.table[k.key] for k in arch_kernels(arch)) for arch in archs])

    def fit(self, archs: Sequence[Architecture], latencies: Sequence[float]) -> LookupTablePredictor:
        """Least squares in relative error: weights 1/latency make each subnet count the same."""
        y = np.asarray(latencies, dtype=float)
        self.scale, self.offset = (float(c) for c in np.polyfit(self.kernel_sum(archs), y, 1, w=1 / y))
        return self

    def predict(self, archs: Sequence[Architecture]) -> np.ndarray:
        return self.scale * self.kernel_sum(archs) + self.offset

    def save(self, path: Path) -> Path:
        data = {
            "kind": self.kind,
            "space": self.spec.model_dump(mode="json"),
            "workload": asdict(self.workload),
            "scale": self.scale,
            "offset": self.offset,
            "table": self.table,
        }
        path.write_text(json.dumps(data, indent=1))
        return path

    @classmethod
    def load(cls, path: Path) -> LookupTablePredictor:
        data = json.loads(path.read_text())
        spec = parse_spec(data["space"], f"{path}: space")
        return cls(spec, Workload(**data["workload"]), data["table"], data["scale"], data["offset"])


def arch_features(spec: SpaceSpec, arch: Architecture, workload: Workload) -> dict[str, float]:
    """Architecture summary the regressor learns from: sizes, counts of each choice, analytic costs.

    Besides compute (MACs) and bytes, per-op overhead dominates small models on CPU, so the counts of
    choices that add ops (MoE experts, quantized weights that are dequantized on every call, quantized
    activations, each attention kind) are features of their own.
    """
    layers, e = arch.layers, arch.embed_dim
    t = sequence_length(spec, workload.seq_len)
    features: dict[str, float] = {
        "depth": arch.depth,
        "embed_dim": e,
        "heads": sum(x.heads for x in layers),
        "kv_heads": sum(x.kv_heads for x in layers),
        "window": sum(x.window or 0 for x in layers),
        "ffn_dim": sum(x.ffn_dim for x in layers),
        "active_ffn_dim": sum(x.top_k * x.ffn_dim for x in layers),
        "experts": sum(x.experts for x in layers),
        "top_k": sum(x.top_k for x in layers),
        "moe_layers": sum(x.experts > 1 for x in layers),
        "macs": forward_macs(spec, arch, workload.seq_len) * workload.batch_size,
        "attention_macs": sum(attention_macs(spec, x, t) for x in layers) * workload.batch_size,
        "weight_bytes": checkpoint_bytes(spec, arch),
        "peak_activation_bytes": peak_activation_bytes(spec, arch, workload.batch_size, workload.seq_len),
    }
    for kind in AttentionType:
        features[f"attention_{kind.value}"] = sum(x.attention is kind for x in layers)
    linears = [lin for x in layers for lin in layer_linears(spec, e, x)]
    for bits in WEIGHT_BITS:
        features[f"weight_bits_{bits}_layers"] = sum(x.weight_bits == bits for x in layers)
        features[f"weight_bits_{bits}_values"] = sum(lin.params for lin in linears if lin.weight_bits == bits)
    for bits in ACT_BITS:
        features[f"act_bits_{bits}_layers"] = sum(x.act_bits == bits for x in layers)
    return features


class RegressorPredictor(LatencyPredictor):
    kind = "regressor"
    suffix = ".pkl"

    def __init__(self, spec: SpaceSpec, workload: Workload, model: GradientBoostingRegressor | None = None) -> None:
        super().__init__(spec, workload)
        self.model = model

    def features(self, archs: Sequence[Architecture]) -> np.ndarray:
        return np.array([list(arch_features(self.spec, arch, self.workload).values()) for arch in archs], dtype=float)

    def fit(self, archs: Sequence[Architecture], latencies: Sequence[float]) -> RegressorPredictor:
        linear = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
        self.model = GradientBoostingRegressor(
            init=linear, n_estimators=100, learning_rate=0.05, max_depth=2, subsample=0.8, random_state=0
        ).fit(self.features(archs), np.asarray(latencies, dtype=float))
        return self

    def predict(self, archs: Sequence[Architecture]) -> np.ndarray:
        if self.model is None:
            raise RuntimeError("RegressorPredictor.predict before fit")
        return self.model.predict(self.features(archs))

    def save(self, path: Path) -> Path:
        space, workload = self.spec.model_dump(mode="json"), asdict(self.workload)
        joblib.dump({"kind": self.kind, "space": space, "workload": workload, "model": self.model}, path)
        return path

    @classmethod
    def load(cls, path: Path) -> RegressorPredictor:
        data = joblib.load(path)
        return cls(parse_spec(data["space"], f"{path}: space"), Workload(**data["workload"]), data["model"])


PREDICTORS: dict[str, type[LatencyPredictor]] = {cls.kind: cls for cls in (LookupTablePredictor, RegressorPredictor)}


# ---------------------------------------------------------------- calibration


@dataclass(frozen=True)
class PredictorScore:
    """Held-out accuracy: mean absolute percentage error, % within ±10 %, rank correlation."""

    mape: float
    within_10: float
    spearman: float


def score(predicted: np.ndarray, measured: np.ndarray) -> PredictorScore:
    relative = np.abs(np.asarray(predicted) - measured) / measured
    rho = spearmanr(predicted, measured).statistic
    return PredictorScore(float(100 * relative.mean()), float(100 * (relative <= 0.10).mean()), float(rho))


@dataclass(frozen=True)
class CalibrationReport:
    """Held-out scores of both predictors; ``fingerprint_hash`` is the workload key in the file names."""

    space: str
    fingerprint: dict
    fingerprint_hash: str
    workload: Workload
    n_train: int
    n_heldout: int
    scores: dict[str, PredictorScore]
    best: str
    files: list[str]

    def save(self, path: Path) -> Path:
        path.write_text(json.dumps(asdict(self), indent=1))
        return path

    @classmethod
    def load(cls, path: Path) -> CalibrationReport:
        data = json.loads(path.read_text())
        scores = {kind: PredictorScore(**s) for kind, s in data.pop("scores").items()}
        return cls(**{**data, "workload": Workload(**data["workload"]), "scores": scores})


def _backend_label(report: CalibrationReport) -> str:
    w = report.workload
    if w.backend != ONNXRUNTIME:
        return w.backend
    return f"onnxruntime {report.fingerprint.get('onnxruntime', '')} (graph optimization {w.graph_optimization})"


def format_report(report: CalibrationReport) -> str:
    """The report as a small text table, best predictor marked."""
    w = report.workload
    lines = [
        f"space {report.space} on {report.fingerprint['hardware']} ({w.device}, {report.fingerprint['threads']} threads, "
        f"{w.clock} clock), batch {w.batch_size} x {w.seq_len} tokens; {_backend_label(report)} backend; "
        f"{report.n_train} subnets fitted, {report.n_heldout} held out",
        f"{'predictor':<12}{'MAPE %':>9}{'within ±10%':>13}{'Spearman':>10}",
    ]
    for kind, s in report.scores.items():
        mark = "  (best)" if kind == report.best else ""
        lines.append(f"{kind:<12}{s.mape:>9.2f}{s.within_10:>12.1f}%{s.spearman:>10.3f}{mark}")
    return "\n".join(lines)


def calibrate(
    spec: SpaceSpec,
    n: int,
    device: str = "cpu",
    batch_size: int = 1,
    seq_len: int = 64,
    seed: int = 0,
    holdout: float = 0.3,
    threads: int | None = None,
    clock: Clock = "wall",
    warmup: int = 3,
    repeats: int = 10,
    rounds: int = 2,
    backend: str = "torch",
    graph_optimization: str = DEFAULT_GRAPH_OPTIMIZATION,
) -> CalibrationReport:
    """Time ``n`` random subnets, fit both predictors on part, score them on the rest, save them all.

    Subnets and kernels are each timed in ``rounds`` passes (see :func:`subnet_latencies`). The lookup
    table is profiled for every kernel of the space, so the saved predictor never times anything later.
    """
    n_heldout = round(n * holdout)
    if not 2 <= n_heldout <= n - 2:
        raise SpecError(
            f"calibrate needs at least 2 subnets to fit and 2 to hold out; n={n}, holdout={holdout} gives {n_heldout} held out"
        )
    workload = Workload(batch_size, seq_len, device, threads, clock, warmup, repeats, backend, graph_optimization)
    check_clock(clock, resolve_device(device), threads)
    archs = sample_many(spec, n, seed)
    supernet = Supernet(spec, seed=seed)
    measured = subnet_latencies(supernet, archs, workload, rounds, seed)
    order = np.random.default_rng(seed).permutation(n)
    held, fitted = order[:n_heldout], order[n_heldout:]
    lut = LookupTablePredictor(spec, workload)
    lut.profile(space_kernels(spec), rounds)
    scores, files = {}, []
    for predictor in (lut, RegressorPredictor(spec, workload)):
        predictor.fit([archs[i] for i in fitted], measured[fitted])
        scores[predictor.kind] = score(predictor.predict([archs[i] for i in held]), measured[held])
        files.append(str(predictor.save(predictor_path(spec.name, workload, predictor.kind))))
    report_file = predictor_path(spec.name, workload, "report")
    report = CalibrationReport(
        spec.name, workload.fingerprint(), workload.key(), workload, len(fitted), n_heldout, scores,
        min(scores, key=lambda kind: scores[kind].mape), files + [str(report_file)],
    )
    report.save(report_file)
    return report


def calibrate_command(space: str, w: Workload) -> str:
    """The ``supernas calibrate`` command line that calibrates for ``w`` (options other than defaults)."""
    args = [f"supernas calibrate {space} --device {w.device}"]
    defaults = Workload()
    for option, value, default in [
        ("threads", w.threads, None), ("clock", w.clock, "wall"), ("batch-size", w.batch_size, defaults.batch_size),
        ("seq-len", w.seq_len, defaults.seq_len), ("backend", w.backend, "torch"),
        ("graph-optimization", w.graph_optimization, DEFAULT_GRAPH_OPTIMIZATION),
    ]:
        if value != default:
            args.append(f"--{option} {value}")
    return " ".join(args)


def load_predictor(spec: SpaceSpec, workload: Workload, kind: str = "best") -> LatencyPredictor:
    """The predictor calibrated for ``spec`` and ``workload`` on this machine; 'best': lower held-out MAPE."""
    if kind != "best" and kind not in PREDICTORS:
        raise SpecError(f"unknown latency predictor kind '{kind}' ({allowed(['best', *PREDICTORS])})")
    w = workload
    check_clock(w.clock, resolve_device(w.device), w.threads)
    report_file = predictor_path(spec.name, workload, "report")
    if not report_file.is_file():
        raise NotFoundError(
            f"no latency predictor calibrated for space '{spec.name}' on this machine for device {w.device}, "
            f"{w.threads_label()} threads, {w.clock} clock, batch {w.batch_size} x {w.seq_len} tokens, {w.backend} backend "
            f"(key {w.key()}); run `{calibrate_command(spec.name, w)}` first"
        )
    if kind == "best":
        kind = CalibrationReport.load(report_file).best
    predictor = PREDICTORS[kind].load(predictor_path(spec.name, workload, kind))
    if predictor.spec != spec:
        raise SpecError(
            f"the latency predictors for space '{spec.name}' were calibrated on a different definition of it; "
            f"run `{calibrate_command(spec.name, w)}` again"
        )
    return predictor


# ---------------------------------------------------------------- metrics

WORKLOAD_OPTIONS: dict[str, object] = {
    "batch_size": 1, "seq_len": 64, "device": "cpu", "threads": None, "clock": "wall", "backend": "torch",
    "graph_optimization": DEFAULT_GRAPH_OPTIMIZATION,
}


def workload_option(metric: Metric) -> Workload:
    """The workload a latency metric's options describe (timing effort only for metrics that time)."""
    s, effort = metric.settings, {}
    if "repeats" in s:
        effort = {"warmup": int_option(metric, "warmup", minimum=0), "repeats": int_option(metric, "repeats")}
    threads = None if s["threads"] is None else int_option(metric, "threads")
    shape = int_option(metric, "batch_size"), int_option(metric, "seq_len")
    try:
        return Workload(
            *shape, str(s["device"]), threads, s["clock"], backend=str(s["backend"]),
            graph_optimization=str(s["graph_optimization"]), **effort,
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
    options: ClassVar[dict[str, object]] = {**WORKLOAD_OPTIONS, "warmup": 3, "repeats": 10}

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
            self._predictors[spec.name] = load_predictor(spec, workload_option(self), str(self.settings["kind"]))
        return float(self._predictors[spec.name].predict([arch])[0])
