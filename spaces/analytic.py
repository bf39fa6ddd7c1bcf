"""Exact parameter and storage counts from an architecture alone (no torch model is built).

These mirror the module tree of ``model.Transformer`` term by term; tests hold them equal to the
counts of real extracted models and to the size of real checkpoint files.

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

from dataclasses import dataclass

from supernas.spaces.architecture import Architecture, LayerArch
from supernas.spaces.audio import AudioSpec
from supernas.spaces.spec import AttentionType, SpaceSpec

FP16, FP32 = 2, 4


INT4_BLOCK = 32  # input columns per scale of a 4-bit weight when the space names no group size


def weight_block(bits: int, group_size: int | None) -> int | None:
    """Input columns per scale of a ``bits``-bit weight in a space whose ``weight_group_size`` is
    ``group_size``: None means one scale per output row.

    4-bit weights run as ONNX Runtime's ``MatMulNBits``, whose integer kernels take blocks of 16 to 256
    columns, so they are always blockwise (:data:`INT4_BLOCK` columns unless the space says otherwise).
    """
    if bits not in (4, 8):
        return None
    return group_size if group_size is not None or bits == 8 else INT4_BLOCK


def scale_columns(in_features: int, group_size: int | None) -> int:
    """Scales per row: 1 per channel, else one per group of ``group_size`` input columns."""
    return 1 if group_size is None else -(-in_features // group_size)


def weight_storage_bytes(
    out_features: int, in_features: int, bits: int, group_size: int | None = None
) -> int:
    """Bytes a checkpoint spends on one linear weight (without bias) at ``bits`` in a space whose
    ``weight_group_size`` is ``group_size``."""
    if bits == 32:
        return 4 * out_features * in_features
    if bits == 16:
        return 2 * out_features * in_features
    per_row = in_features if bits == 8 else (in_features + 1) // 2
    scales = scale_columns(in_features, weight_block(bits, group_size))
    return out_features * (per_row + 4 * scales)  # integers + fp32 scales


@dataclass(frozen=True)
class Linear:
    out_features: int
    in_features: int
    bias: bool
    weight_bits: int = 32
    group_size: int | None = None

    @property
    def params(self) -> int:
        return self.out_features * self.in_features + (self.out_features if self.bias else 0)

    @property
    def bytes(self) -> int:
        bias = FP32 * self.out_features if self.bias else 0
        return (
            weight_storage_bytes(self.out_features, self.in_features, self.weight_bits, self.group_size)
            + bias
        )


def layer_linears(spec: SpaceSpec, embed: int, layer: LayerArch) -> list[Linear]:
    """Every linear of one block: q, k, v, o, then each expert's fc1/fc2, then the router (none of a
    no-op part)."""
    hd, b, wb, g = spec.head_dim, spec.bias, layer.weight_bits, spec.weight_group_size
    q, kv = layer.heads * hd, layer.kv_heads * hd
    out = []
    if layer.has_attention:
        out += [
            Linear(q, embed, b, wb, g),
            Linear(kv, embed, b, wb, g),
            Linear(kv, embed, b, wb, g),
            Linear(embed, q, b, wb, g),
        ]
    if layer.has_ffn:
        out += [
            Linear(layer.ffn_dim, embed, b, wb, g),
            Linear(embed, layer.ffn_dim, b, wb, g),
        ] * layer.experts
    if layer.has_ffn and layer.experts > 1:
        out.append(Linear(layer.experts, embed, False))
    return out


def speech_frontend_params(audio: AudioSpec, embed: int) -> int:
    """HuBERT's front end (``speech.SpeechFrontEnd``): bias-free convolutions, the first one's GroupNorm,
    the LayerNorm over their channels, the projection to ``embed`` and the depthwise position convolution."""
    convs, channels = 0, 1
    for out, kernel, _ in audio.conv_layers:
        convs, channels = convs + out * channels * kernel, out
    norms = 2 * audio.conv_layers[0][0] + 2 * audio.conv_dim
    return convs + norms + Linear(embed, audio.conv_dim, True).params + embed * (audio.pos_conv_kernel + 1)


def embedding_params(spec: SpaceSpec, embed: int) -> int:
    """Token/patch, position and segment embeddings (and the class token); a speech space's front end."""
    if spec.task == "speech":
        return speech_frontend_params(spec.audio, embed)
    if spec.task == "vision":
        tokens = Linear(embed, spec.in_channels * spec.patch_size**2, True).params + embed
    else:
        tokens = spec.vocab_size * embed
    return tokens + spec.seq_len * embed + spec.type_vocab_size * embed


def head_params(spec: SpaceSpec, embed: int) -> int:
    if spec.task != "causal_lm":
        return Linear(spec.num_classes, embed, True).params
    return 0 if spec.tie_embeddings else spec.vocab_size * embed


def norm_params(spec: SpaceSpec, arch: Architecture) -> int:
    """A LayerNorm per present attention/FFN sub-block plus the embedding (post-norm) or final
    (pre-norm) one."""
    norms = sum(layer.has_attention + layer.has_ffn for layer in arch.layers)
    return 2 * arch.embed_dim * (norms + 1)


def count_params(spec: SpaceSpec, arch: Architecture) -> int:
    """Total parameters of the subnet ``arch`` (quantized weights count one per value)."""
    e = arch.embed_dim
    blocks = sum(lin.params for layer in arch.layers for lin in layer_linears(spec, e, layer))
    return embedding_params(spec, e) + blocks + norm_params(spec, arch) + head_params(spec, e)


def count_non_embedding_params(spec: SpaceSpec, arch: Architecture) -> int:
    return count_params(spec, arch) - embedding_params(spec, arch.embed_dim)


def checkpoint_bytes(spec: SpaceSpec, arch: Architecture) -> int:
    """Bytes of tensor data in the subnet's ``model.safetensors`` (everything but block linears is fp32)."""
    e = arch.embed_dim
    blocks = sum(lin.bytes for layer in arch.layers for lin in layer_linears(spec, e, layer))
    rest = embedding_params(spec, e) + norm_params(spec, arch) + head_params(spec, e)
    return blocks + FP32 * rest


def sequence_length(spec: SpaceSpec, seq_len: int) -> int:
    """Tokens a forward pass sees for the requested length (fixed for vision, capped for text)."""
    return spec.seq_len if spec.task in ("vision", "speech") else min(seq_len, spec.max_seq_len)


def keys_per_query(layer: LayerArch, t: int) -> int:
    """Keys each query attends to in softmax attention (see the module docstring)."""
    return min(layer.window, t) if layer.attention is AttentionType.sliding_window else t


def layer_linear_macs(spec: SpaceSpec, embed: int, layer: LayerArch) -> int:
    """MACs of one token through a block's linears: q, k, v, o, top_k experts and the router."""
    linears = layer_linears(
        spec, embed, layer
    )  # q, k, v, o, experts' (fc1, fc2)..., router (no-op parts: none)
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
    position_frames = (
        spec.seq_len + 2 * (k // 2) - k + 1
    )  # an even kernel computes one frame more, then drops it
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
        sizes = [audio.max_samples] + [
            n * c for n, (c, _, _) in zip(audio.frame_lengths(audio.max_samples), audio.conv_layers)
        ]
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
