"""Analytic costs: exact counts from the architecture alone, no model is built or run.

Compute is counted in multiply-accumulates (MACs) of matrix products, FLOPs = 2 * MACs; elementwise
work (norms, activations, softmax, residual adds, fake-quant rounding) and embedding lookups are not
counted. ``forward_macs`` is one forward pass over one sequence of T tokens; per-token metrics divide
it by T. T is the option ``seq_len`` capped at the space's maximum length (as ``random_batch`` caps
it); vision spaces always see their fixed number of patches plus the class token.

Attention, per layer, for a sequence of T tokens (hd = head_dim):
- mha / gqa: scores q.k and the weighted sum of values, 2 * heads * T * T * hd. Causal layers are
  counted at the full T * T as well: the dense kernel computes the masked half too.
- sliding_window: as above with the T keys per query replaced by min(window, T) (an efficient banded
  kernel; bidirectional windows, which see window // 2 keys either side, are counted the same way).
- linear: per token and head, the outer product k v^T (hd^2), the read-out q.S (hd^2) and the
  normaliser q.z (hd): T * heads * (2 * hd^2 + hd), linear in T.
Linear layers: q, k, v, o; top_k experts' fc1 and fc2 per token (not all experts) plus the router;
the LM head for every token (tied or not), the classifier once per sequence, the patch projection for
every patch.

Speech spaces count their front end too, for the space's clip length (``max_seconds``; ``seq_len`` does
not apply, the frames are fixed like patches): every convolution of the feature encoder (output
length x out x in x kernel), the projection to the embedding and the depthwise position convolution per
frame. ``flops_per_second`` is the whole forward pass per second of audio, the unit speech models are
compared in.
"""

from __future__ import annotations

from typing import ClassVar

from supernas.spaces.architecture import Architecture, LayerArch
from supernas.spaces.spec import AttentionType, SpaceSpec
from supernas.spaces.analytic import checkpoint_bytes, count_non_embedding_params, count_params, layer_linears
from supernas.core.errors import SpecError

from supernas.predictors.base import CostClass, Metric, MetricContext, register

FP16, FP32 = 2, 4


def sequence_length(spec: SpaceSpec, seq_len: int) -> int:
    """Tokens a forward pass sees for the requested length (fixed for vision, capped for text)."""
    return spec.seq_len if spec.task in ("vision", "speech") else min(seq_len, spec.max_seq_len)


def keys_per_query(layer: LayerArch, t: int) -> int:
    """Keys each query attends to in softmax attention (see the module docstring)."""
    return min(layer.window, t) if layer.attention is AttentionType.sliding_window else t


def layer_linear_macs(spec: SpaceSpec, embed: int, layer: LayerArch) -> int:
    """MACs of one token through a block's linears: q, k, v, o, top_k experts and the router."""
    linears = layer_linears(spec, embed, layer)  # q, k, v, o, experts' (fc1, fc2)..., router (no-op parts: none)
    a, f = 4 * layer.has_attention, 2 * layer.experts * layer.has_ffn
    attention, expert, router = linears[:a], linears[a : a + 2 * layer.has_ffn], linears[a + f :]
    return sum(lin.out_features * lin.in_features for lin in attention + router) + layer.top_k * sum(
        lin.out_features * lin.in_features for lin in expert
    )


def attention_macs(spec: SpaceSpec, layer: LayerArch, t: int) -> int:
    """MACs of the attention itself (no projections) for one sequence of ``t`` tokens."""
    hd = spec.head_dim
    if layer.attention is AttentionType.linear:
        return t * layer.heads * (2 * hd * hd + hd)
    return 2 * layer.heads * t * keys_per_query(layer, t) * hd


def speech_frontend_macs(spec: SpaceSpec, embed: int) -> int:
    """The feature encoder's convolutions, the projection and the position convolution for one clip."""
    audio, channels, macs = spec.audio, 1, 0
    for (out, kernel, _), length in zip(audio.conv_layers, audio.frame_lengths(audio.max_samples)):
        macs, channels = macs + length * out * channels * kernel, out
    k = audio.pos_conv_kernel
    position_frames = spec.seq_len + 2 * (k // 2) - k + 1  # an even kernel computes one frame more, then drops it
    return macs + spec.seq_len * embed * audio.conv_dim + position_frames * embed * k


def head_macs(spec: SpaceSpec, embed: int, t: int) -> int:
    """Patch projection, LM head or classifier (and a speech front end) for one sequence of ``t`` tokens."""
    if spec.task == "causal_lm":
        return t * spec.vocab_size * embed
    classifier = spec.num_classes * embed
    if spec.task == "speech":
        return speech_frontend_macs(spec, embed) + classifier
    if spec.task == "vision":
        return (t - 1) * spec.in_channels * spec.patch_size**2 * embed + classifier
    return classifier


def linear_macs(spec: SpaceSpec, arch: Architecture, seq_len: int) -> int:
    """MACs of every linear layer (and the tied LM head) for one sequence."""
    t, e = sequence_length(spec, seq_len), arch.embed_dim
    return t * sum(layer_linear_macs(spec, e, layer) for layer in arch.layers) + head_macs(spec, e, t)


def forward_macs(spec: SpaceSpec, arch: Architecture, seq_len: int) -> int:
    """MACs of one forward pass over one sequence: linears plus attention."""
    t = sequence_length(spec, seq_len)
    return linear_macs(spec, arch, seq_len) + sum(attention_macs(spec, layer, t) for layer in arch.layers)


def macs_per_token(spec: SpaceSpec, arch: Architecture, seq_len: int) -> float:
    return forward_macs(spec, arch, seq_len) / sequence_length(spec, seq_len)


def flops_per_token(spec: SpaceSpec, arch: Architecture, seq_len: int) -> float:
    return 2 * macs_per_token(spec, arch, seq_len)


def kv_cache_bytes_per_token(spec: SpaceSpec, arch: Architecture, seq_len: int) -> float:
    """Decoding cache in fp16, per generated token, once ``seq_len`` tokens are in context.

    Softmax layers keep K and V: 2 * kv_heads * head_dim values per cached token. Sliding-window
    layers cache at most ``window`` tokens, so per token of context they cost min(T, window) / T of
    that. Linear attention keeps a constant state per head, S (hd x hd) and z (hd), whatever T is;
    it is spread over the T tokens.
    """
    t, hd = sequence_length(spec, seq_len), spec.head_dim
    total = 0.0
    for layer in arch.layers:
        if layer.attention is AttentionType.linear:
            total += FP16 * layer.heads * (hd * hd + hd) / t
        else:
            total += FP16 * 2 * layer.kv_heads * hd * keys_per_query(layer, t) / t
    return total


def peak_activation_bytes(spec: SpaceSpec, arch: Architecture, batch_size: int, seq_len: int) -> int:
    """Estimated peak of live fp32 activations in one inference forward pass (weights excluded).

    Activations stay fp32 (act_bits only round values). The peak is the largest of these stages, each
    the residual stream X = B*T*C plus what the stage holds at once:
    - softmax attention: q, k, v at query-head width (GQA heads expanded), 3*B*T*heads*hd, and the
      scores B*heads*T*K with K keys per query (T, or min(window, T));
    - linear attention: q, k, v as above and the prefix-summed states B*heads*T*hd*hd (causal, as
      ``ops.linear_attention`` builds them) or the summed state B*heads*hd*hd (bidirectional);
    - FFN: the hidden units of the chosen experts, B*T*top_k*ffn_dim, plus router logits B*T*experts
      for MoE layers;
    - head: logits, B*T*vocab for a causal LM, B*classes otherwise.
    """
    b, t, hd = batch_size, sequence_length(spec, seq_len), spec.head_dim
    x = b * t * arch.embed_dim
    stages = [x + (b * t * spec.vocab_size if spec.task == "causal_lm" else b * spec.num_classes)]
    if spec.task == "speech":  # each convolution's input and output at once (the first ones are the longest)
        audio = spec.audio
        sizes = [audio.max_samples] + [n * c for n, (c, _, _) in zip(audio.frame_lengths(audio.max_samples), audio.conv_layers)]
        stages += [b * (a + z) for a, z in zip(sizes, sizes[1:])]
    for layer in arch.layers:
        qkv = 3 * b * t * layer.heads * hd
        if layer.attention is AttentionType.linear:
            state = b * layer.heads * hd * hd * (t if spec.causal else 1)
        else:
            state = b * layer.heads * t * keys_per_query(layer, t)
        router = b * t * layer.experts if layer.experts > 1 else 0
        stages += [x + qkv + state, x + b * t * layer.top_k * layer.ffn_dim + router]
    return FP32 * max(stages)


def int_option(metric: Metric, name: str, minimum: int = 1) -> int:
    """A metric option that must be an integer >= ``minimum``; a clear error otherwise."""
    value = metric.settings[name]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SpecError(f"metric '{metric.name}': option '{name}' = {value!r} must be an integer >= {minimum}")
    return value


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
