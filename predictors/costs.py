"""Analytic metrics: exact counts of :mod:`supernas.spaces.analytic` as metrics, no model is built or run."""

from __future__ import annotations

from typing import ClassVar

from supernas.predictors.base import CostClass, Metric, MetricContext, int_option, register
from supernas.spaces.analytic import (
    checkpoint_bytes,
    count_non_embedding_params,
    count_params,
    flops_per_token,
    forward_macs,
    kv_cache_bytes_per_token,
    macs_per_token,
    peak_activation_bytes,
)
from supernas.spaces.architecture import Architecture


class _Analytic(Metric):
    direction = "minimize"
    cost = CostClass.analytic


@register
class Params(_Analytic):
    name = "params"
    unit = "params"
    description = "total parameters, embeddings included (quantized weights count one per value)"

    def evaluate(self, arch: Architecture, context: MetricContext) -> float:
        return float(count_params(context.spec, arch))


@register
class NonEmbeddingParams(_Analytic):
    name = "non_embedding_params"
    unit = "params"
    description = "parameters outside the token, position and segment embeddings"

    def evaluate(self, arch: Architecture, context: MetricContext) -> float:
        return float(count_non_embedding_params(context.spec, arch))


@register
class Macs(_Analytic):
    name = "macs"
    unit = "MACs/token"
    description = "matmul multiply-accumulates per token of a forward pass at seq_len"
    options: ClassVar[dict[str, object]] = {"seq_len": 128}

    def evaluate(self, arch: Architecture, context: MetricContext) -> float:
        return macs_per_token(context.spec, arch, int_option(self, "seq_len"))


@register
class Flops(_Analytic):
    name = "flops"
    unit = "FLOPs/token"
    description = "matmul FLOPs (2 x MACs) per token of a forward pass at seq_len"
    options: ClassVar[dict[str, object]] = {"seq_len": 128}

    def evaluate(self, arch: Architecture, context: MetricContext) -> float:
        return flops_per_token(context.spec, arch, int_option(self, "seq_len"))


@register
class FlopsPerSecond(_Analytic):
    name = "flops_per_second"
    unit = "FLOPs/s of audio"
    description = "matmul and convolution FLOPs of a forward pass per second of audio, front end included"
    tasks = ("speech",)

    def evaluate(self, arch: Architecture, context: MetricContext) -> float:
        spec = context.spec
        return 2 * forward_macs(spec, arch, spec.seq_len) / spec.audio.max_seconds


@register
class WeightBytes(_Analytic):
    name = "weight_bytes"
    unit = "bytes"
    description = "tensor bytes of the subnet checkpoint under its quantization policy"

    def evaluate(self, arch: Architecture, context: MetricContext) -> float:
        return float(checkpoint_bytes(context.spec, arch))


@register
class KvCacheBytes(_Analytic):
    name = "kv_cache_bytes"
    unit = "bytes/token"
    description = "fp16 decoding cache per token of context at seq_len"
    tasks = ("causal_lm",)
    options: ClassVar[dict[str, object]] = {"seq_len": 128}

    def evaluate(self, arch: Architecture, context: MetricContext) -> float:
        return kv_cache_bytes_per_token(context.spec, arch, int_option(self, "seq_len"))


@register
class PeakActivationBytes(_Analytic):
    name = "peak_activation_bytes"
    unit = "bytes"
    description = "estimated peak of live fp32 activations in one forward pass"
    options: ClassVar[dict[str, object]] = {"batch_size": 1, "seq_len": 128}

    def evaluate(self, arch: Architecture, context: MetricContext) -> float:
        b, t = int_option(self, "batch_size"), int_option(self, "seq_len")
        return float(peak_activation_bytes(context.spec, arch, b, t))
