"""The two latency predictors: ``lut`` (nn-Meter's lookup table of forward parts, summed and corrected by
a linear fit in the sum and the number of parts, each entry refined by the whole subnets' timings) and
``regressor`` (gradient-boosted trees on architecture features, boosted from a ridge regression). See
:mod:`.measure` for why each is built the way it is."""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import ClassVar

import joblib
import numpy as np
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from supernas.predictors.latency.measure import settled_medians, timed_passes
from supernas.predictors.latency.parts import ForwardPart, arch_parts, forward_part_runner
from supernas.predictors.latency.probe import timing_options
from supernas.predictors.latency.refine import refined_fit
from supernas.predictors.latency.timing import fixed_threads, resolve_device, time_callable
from supernas.predictors.latency.workload import Workload
from supernas.spaces.analytic import (
    attention_macs,
    checkpoint_bytes,
    forward_macs,
    layer_linears,
    peak_activation_bytes,
    sequence_length,
)
from supernas.spaces.architecture import Architecture
from supernas.spaces.spec import ACT_BITS, WEIGHT_BITS, AttentionType, SpaceSpec, parse_spec


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
        per_part: float = 0.0,
        refinements: dict[str, float] | None = None,
        ridge: float | None = None,
    ) -> None:
        super().__init__(spec, workload)
        self.table = dict(table or {})
        self.scale, self.offset, self.per_part = scale, offset, per_part
        self.refinements, self.ridge = dict(refinements or {}), ridge

    def profile(self, parts: Iterable[ForwardPart], rounds: int = 1) -> None:
        """Time every part not yet in the table (on this machine: the table is only valid here).

        With several rounds each part's entry is its median over passes through all of them, the parts
        whose passes disagree timed again (:func:`.measure.settled_medians`).
        """
        missing = list({k.key: k for k in parts if k.key not in self.table}.values())
        if not missing:
            return
        device, w = resolve_device(self.workload.device), self.workload
        options = timing_options(w)

        def time_one(i: int) -> float:
            run = forward_part_runner(self.spec, missing[i], w, device)
            return time_callable(run, device, **options).median_ms

        with fixed_threads(w.threads):
            passes = timed_passes(time_one, len(missing), rounds)
            entries = settled_medians(passes, time_one)
        self.table.update(zip((k.key for k in missing), entries.tolist()))

    def entry(self, key: str) -> float:
        """A part's time: as profiled, times ``1 +`` its refinement by the fit (see :mod:`.refine`)."""
        return self.table[key] * (1.0 + self.refinements.get(key, 0.0))

    def part_ms(self, part: ForwardPart) -> float:
        """What one part adds to a prediction: its entry scaled, and the term per part."""
        return self.scale * self.entry(part.key) + self.per_part

    def fit(self, archs: Sequence[Architecture], latencies: Sequence[float]) -> LookupTablePredictor:
        """``sum over parts of (scale * entry + per_part) + offset``, each entry refined by the subnets'
        timings (:func:`.refine.refined_fit`), by least squares in relative error (each subnet counts the
        same). The term per part is what timing a part alone gets wrong by the same amount every time: a
        part run in its own ONNX Runtime session pays a call's overhead that the whole graph pays once
        (gpt-tiny: MAPE 2.4% without the term, 1.7% with it, against a re-timing)."""
        self.profile(k for arch in archs for k in arch_parts(arch))
        keys = sorted({k.key for arch in archs for k in arch_parts(arch)})
        column = {key: i for i, key in enumerate(keys)}
        counts = np.zeros((len(archs), len(keys)))  # how often each subnet has each part
        for row, arch in enumerate(archs):
            for k in arch_parts(arch):
                counts[row, column[k.key]] += 1
        entries = counts * np.array([self.table[key] for key in keys])
        shared = np.column_stack([entries.sum(1), counts.sum(1), np.ones(len(archs))])
        coefficients, refined, self.ridge = refined_fit(shared, entries, np.asarray(latencies, dtype=float))
        self.scale, self.per_part, self.offset = (float(c) for c in coefficients)
        self.refinements = {key: float(g / self.scale) for key, g in zip(keys, refined) if g != 0.0}
        return self

    def fit_summary(self) -> str:
        """One line on what the fit made of the profiled entries, for calibrate's report: what a
        prediction adds up, and how far the subnets' timings moved the entries."""
        if self.ridge is None:
            refined = "no entry refined (the subnets' timings tell no more than the parts timed alone)"
        else:
            change = 100 * float(np.median(np.abs(list(self.refinements.values()))))
            refined = (
                f"{len(self.refinements):,} of {len(self.table):,} entries refined by the subnets' timings "
                f"(ridge {self.ridge:g}, median change {change:.1f}%)"
            )
        return (
            f"lookup table: {self.scale:.3f} x entry {self.per_part:+.4f} ms per part "
            f"{self.offset:+.3f} ms; {refined}"
        )

    def predict(self, archs: Sequence[Architecture]) -> np.ndarray:
        self.profile(k for arch in archs for k in arch_parts(arch))
        return np.array([sum(map(self.part_ms, arch_parts(arch))) + self.offset for arch in archs])

    def digest(self) -> str:
        """Short SHA-256 of what its predictions are made of (the fit and every entry): anything built from
        the table's predictions, like a block library, is valid only while this is unchanged."""
        made_of = {
            "scale": self.scale,
            "offset": self.offset,
            "per_part": self.per_part,
            "table": self.table,
            "refinements": self.refinements,
        }
        return hashlib.sha256(json.dumps(made_of, sort_keys=True).encode()).hexdigest()[:16]

    def save(self, path: Path) -> Path:
        data = {
            "kind": self.kind,
            "space": self.spec.model_dump(mode="json"),
            "workload": asdict(self.workload),
            "scale": self.scale,
            "offset": self.offset,
            "per_part": self.per_part,
            "ridge": self.ridge,
            "refinements": self.refinements,
            "table": self.table,
        }
        path.write_text(json.dumps(data, indent=1))
        return path

    @classmethod
    def load(cls, path: Path) -> LookupTablePredictor:
        data = json.loads(path.read_text())
        spec = parse_spec(data["space"], f"{path}: space")
        return cls(
            spec,
            Workload(**data["workload"]),
            data["table"],
            data["scale"],
            data["offset"],
            data.get("per_part", 0.0),  # tables saved before the term or the refinements had none
            data.get("refinements"),
            data.get("ridge"),
        )


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


def feature_matrix(spec: SpaceSpec, archs: Sequence[Architecture], workload: Workload) -> np.ndarray:
    """:func:`arch_features` of each architecture, one row each (the surrogates of strategy ``predictor``
    learn from the same matrix)."""
    return np.array([list(arch_features(spec, arch, workload).values()) for arch in archs], dtype=float)


class RegressorPredictor(LatencyPredictor):
    kind = "regressor"
    suffix = ".pkl"

    def __init__(
        self, spec: SpaceSpec, workload: Workload, model: GradientBoostingRegressor | None = None
    ) -> None:
        super().__init__(spec, workload)
        self.model = model

    def features(self, archs: Sequence[Architecture]) -> np.ndarray:
        return feature_matrix(self.spec, archs, self.workload)

    def fit(self, archs: Sequence[Architecture], latencies: Sequence[float]) -> RegressorPredictor:
        """Fit log latency: kernels' costs multiply more than they add, and a prediction outside the
        calibrated subnets (a space's smallest) stays positive."""
        linear = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
        self.model = GradientBoostingRegressor(
            init=linear, n_estimators=100, learning_rate=0.05, max_depth=2, subsample=0.8, random_state=0
        ).fit(self.features(archs), np.log(np.asarray(latencies, dtype=float)))
        return self

    def predict(self, archs: Sequence[Architecture]) -> np.ndarray:
        if self.model is None:
            raise RuntimeError("RegressorPredictor.predict before fit")
        return np.exp(self.model.predict(self.features(archs)))

    def save(self, path: Path) -> Path:
        space, workload = self.spec.model_dump(mode="json"), asdict(self.workload)
        joblib.dump({"kind": self.kind, "space": space, "workload": workload, "model": self.model}, path)
        return path

    @classmethod
    def load(cls, path: Path) -> RegressorPredictor:
        data = joblib.load(path)
        return cls(parse_spec(data["space"], f"{path}: space"), Workload(**data["workload"]), data["model"])


PREDICTORS: dict[str, type[LatencyPredictor]] = {
    cls.kind: cls for cls in (LookupTablePredictor, RegressorPredictor)
}
