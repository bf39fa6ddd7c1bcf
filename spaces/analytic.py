"""Exact parameter and storage counts from an architecture alone (no torch model is built).

These mirror the module tree of ``model.Transformer`` term by term; tests hold them equal to the
counts of real extracted models and to the size of real checkpoint files.
"""

from __future__ import annotations

from dataclasses import dataclass

from supernas.spaces.architecture import Architecture, LayerArch
from supernas.models.quant import weight_storage_bytes
from supernas.spaces.audio import AudioSpec
from supernas.spaces.spec import SpaceSpec

FP32 = 4


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
        return weight_storage_bytes(self.out_features, self.in_features, self.weight_bits, self.group_size) + bias


def layer_linears(spec: SpaceSpec, embed: int, layer: LayerArch) -> list[Linear]:
    """Every linear of one block: q, k, v, o, then each expert's fc1/fc2, then the router (none of a no-op part)."""
    hd, b, wb, g = spec.head_dim, spec.bias, layer.weight_bits, spec.weight_group_size
    q, kv = layer.heads * hd, layer.kv_heads * hd
    out = []
    if layer.has_attention:
        out += [Linear(q, embed, b, wb, g), Linear(kv, embed, b, wb, g), Linear(kv, embed, b, wb, g), Linear(embed, q, b, wb, g)]
    if layer.has_ffn:
        out += [Linear(layer.ffn_dim, embed, b, wb, g), Linear(embed, layer.ffn_dim, b, wb, g)] * layer.experts
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
    """A LayerNorm per present attention/FFN sub-block plus the embedding (post-norm) or final (pre-norm) one."""
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
