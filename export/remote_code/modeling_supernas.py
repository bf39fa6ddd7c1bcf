"""A subnet found by supernas as a transformers model: per-layer attention, widths, experts and quantization.

Copied by ``supernas export --format hf`` next to ``config.json`` and loaded with
``AutoModel.from_pretrained(directory, trust_remote_code=True)``. It imports only torch and transformers
and computes what supernas computed when it scored the subnet (tensor names are supernas's own):

- attention per layer: ``mha``, ``gqa`` (fewer key/value heads, each shared by a group of query heads),
  ``sliding_window`` (causal: the last ``window`` tokens; bidirectional: ``window // 2`` on either side),
  ``linear`` (elu + 1 feature map) or ``none`` (the layer has no attention sub-block);
- FFN per layer: dense, a top-k mixture of experts with a linear router, or none (``ffn_dim`` 0);
- quantization per layer: 16-bit weights are stored in fp16; 4/8-bit weights as integer codes (4-bit
  ones two per byte) with fp32 scales per row or per block of input columns, dequantized in ``forward``.
  Activations are rounded as ONNX Runtime's kernel for the layer's scheme does; an integer weight under
  8-bit activations multiplies codes by codes in float64 (exact) and rounds to fp32 once.

Causal LMs generate with a ``DynamicCache``: each layer with attention caches its keys and values (linear
attention too, whose running sums are recomputed from them). Written with ``use_cache`` false when a layer
rounds activations: a cached step sums in another order, which can move a rounded value a whole step.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers.cache_utils import Cache, DynamicCache
from transformers.modeling_outputs import (
    BaseModelOutputWithPast,
    CausalLMOutputWithPast,
    ImageClassifierOutput,
    SequenceClassifierOutput,
)

from .configuration_supernas import SupernasConfig

ACTIVATIONS = {
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
}


# ---------------------------------------------------------------------------- quantization


def expand_scale(scale: torch.Tensor, block: int | None, width: int) -> torch.Tensor:
    """Scales broadcastable against an (out, in) weight."""
    return scale if block is None else scale.repeat_interleave(block, dim=1)[:, :width]


def activation_codes(
    x: torch.Tensor, per_block: bool, block: int | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """8-bit activation codes (less the zero point) and their scales: per tensor, asymmetric uint8
    (DynamicQuantizeLinear), or per token and weight block, symmetric int8 (MatMulNBits, accuracy 4)."""
    if not per_block:
        low, high = x.min().clamp(max=0), x.max().clamp(min=0)
        scale = torch.where(high > low, (high - low) / 255, torch.ones_like(high))
        zero = torch.round((-low / scale).clamp(0, 255))
        return (torch.round(x / scale) + zero).clamp(0, 255) - zero, scale
    width = x.shape[-1]
    blocks = F.pad(x, (0, -width % block)).unflatten(-1, (-1, block))
    scale = blocks.abs().amax(dim=-1, keepdim=True) / 127
    inverse = torch.where(scale > 0, 1 / scale, torch.zeros_like(scale))
    codes = torch.round(blocks * inverse).flatten(-2)[..., :width]
    return codes, scale.expand_as(blocks).flatten(-2)[..., :width]


class QuantLinear(nn.Module):
    """A linear layer under one quantization scheme (weight bits, activation bits, scale block)."""

    def __init__(self, in_features: int, out_features: int, bias: bool, layer: dict | None = None) -> None:
        super().__init__()
        layer = layer or {}
        self.in_features = in_features
        self.weight_bits, self.act_bits = layer.get("weight_bits", 32), layer.get("act_bits", 32)
        self.block = layer.get("weight_group_size") if self.weight_bits in (4, 8) else None
        self.integer = self.act_bits == 8 and self.weight_bits in (4, 8)
        # MatMulNBits quantizes activations per token and block; per-row 8-bit integer layers per tensor
        self.nbits = self.weight_bits in (4, 8) and not (self.integer and self.block is None)
        if self.weight_bits in (16, 32):
            dtype = torch.float16 if self.weight_bits == 16 else torch.float32
            self.weight = nn.Parameter(
                torch.zeros(out_features, in_features, dtype=dtype), requires_grad=False
            )
        else:
            columns = in_features if self.weight_bits == 8 else (in_features + 1) // 2
            dtype = torch.int8 if self.weight_bits == 8 else torch.uint8
            self.register_buffer("qweight", torch.zeros(out_features, columns, dtype=dtype))
            scales = 1 if self.block is None else -(-in_features // self.block)
            self.register_buffer("scale", torch.ones(out_features, scales))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def codes(self) -> torch.Tensor:
        """Integer weight codes (out, in); 4-bit codes are stored two per byte, low nibble first, +8."""
        if self.weight_bits == 8:
            return self.qweight
        low = (self.qweight & 0x0F).to(torch.int8) - 8
        high = (self.qweight >> 4).to(torch.int8) - 8
        return torch.stack([low, high], dim=2).reshape(self.qweight.shape[0], -1)[:, : self.in_features]

    def dense_weight(self) -> torch.Tensor:
        if self.weight_bits in (16, 32):
            return self.weight.float()
        return self.codes().float() * expand_scale(self.scale, self.block, self.in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.integer:  # codes x codes in float64, every product exact, rounded to fp32 once
            codes, scale = activation_codes(x, self.nbits, self.block)
            w = self.codes().double() * expand_scale(self.scale.double(), self.block, self.in_features)
            y = F.linear(codes.double() * scale.double(), w).float()
            return y if self.bias is None else y + self.bias
        if self.act_bits == 16:
            x = x.half().float()
        elif self.act_bits == 8:
            codes, scale = activation_codes(x, self.nbits, self.block)
            x = codes * scale
        return F.linear(x, self.dense_weight(), self.bias)


# ---------------------------------------------------------------------------- attention


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    b, t, _ = x.shape
    return x.view(b, t, heads, -1).transpose(1, 2)  # (B, heads, T, head_dim)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    b, h, t, d = x.shape
    return x.transpose(1, 2).reshape(b, t, h * d)


def attention_mask(
    queries: int, keys: int, causal: bool, window: int | None, padding: torch.Tensor | None, device
) -> torch.Tensor | None:
    """True where a query may attend to a key; queries are the last ``queries`` of ``keys`` positions."""
    i = torch.arange(keys - queries, keys, device=device)
    rel = i[:, None] - torch.arange(keys, device=device)[None, :]  # query - key
    mask = None
    if causal:
        mask = rel >= 0
        if window is not None:
            mask = mask & (rel < window)
    elif window is not None:
        mask = rel.abs() <= window // 2
    if padding is not None:
        visible = padding[:, None, None, :].bool()  # (B, 1, 1, keys)
        mask = visible if mask is None else (mask[None, None] & visible)
    return mask


def linear_attention(q, k, v, causal: bool, padding: torch.Tensor | None, eps: float = 1e-6):
    """Kernelized attention, phi(x) = elu(x) + 1; split heads (B, h, T, d); queries are the last keys."""
    q, k = F.elu(q) + 1, F.elu(k) + 1
    if padding is not None:
        keep = padding[:, None, :, None].to(k.dtype)
        k, v = k * keep, v * keep
    if causal:
        t = q.shape[2]
        kv = torch.einsum("bhtd,bhte->bhtde", k, v).cumsum(dim=2)[:, :, -t:]
        z = k.cumsum(dim=2)[:, :, -t:]
        num = torch.einsum("bhtd,bhtde->bhte", q, kv)
        den = (q * z).sum(-1, keepdim=True)
    else:
        kv = torch.einsum("bhtd,bhte->bhde", k, v)
        num = torch.einsum("bhtd,bhde->bhte", q, kv)
        den = torch.einsum("bhtd,bhd->bht", q, k.sum(dim=2)).unsqueeze(-1)
    return num / (den + eps)


class Attention(nn.Module):
    def __init__(self, config: SupernasConfig, layer: dict) -> None:
        super().__init__()
        e, d = config.hidden_size, config.head_dim
        self.kind, self.heads, self.kv_heads = layer["attention"], layer["heads"], layer["kv_heads"]
        self.window, self.causal = layer["window"], config.causal
        self.q = QuantLinear(e, self.heads * d, config.bias, layer)
        self.k = QuantLinear(e, self.kv_heads * d, config.bias, layer)
        self.v = QuantLinear(e, self.kv_heads * d, config.bias, layer)
        self.o = QuantLinear(self.heads * d, e, config.bias, layer)

    def forward(self, x, padding, cache: Cache | None, index: int) -> torch.Tensor:
        q = split_heads(self.q(x), self.heads)
        k, v = split_heads(self.k(x), self.kv_heads), split_heads(self.v(x), self.kv_heads)
        if cache is not None:
            k, v = cache.update(k, v, index)
        if self.kind == "linear":
            return self.o(merge_heads(linear_attention(q, k, v, self.causal, padding)))
        if self.kv_heads != self.heads:
            k = k.repeat_interleave(self.heads // self.kv_heads, dim=1)
            v = v.repeat_interleave(self.heads // self.kv_heads, dim=1)
        window = self.window if self.kind == "sliding_window" else None
        mask = attention_mask(q.shape[2], k.shape[2], self.causal, window, padding, x.device)
        return self.o(merge_heads(F.scaled_dot_product_attention(q, k, v, attn_mask=mask)))


# ---------------------------------------------------------------------------- feed-forward


class Expert(nn.Module):
    def __init__(self, config: SupernasConfig, layer: dict) -> None:
        super().__init__()
        self.fc1 = QuantLinear(config.hidden_size, layer["ffn_dim"], config.bias, layer)
        self.fc2 = QuantLinear(layer["ffn_dim"], config.hidden_size, config.bias, layer)
        self.act = ACTIVATIONS[config.hidden_act]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class FeedForward(nn.Module):
    """A dense FFN or a top-k mixture of experts (softmax over the k chosen router logits). Under 8-bit
    activations every expert runs on every token with gate 0 where unchosen, because the per-tensor
    activation scale is taken over all the tokens the kernel multiplies."""

    def __init__(self, config: SupernasConfig, layer: dict) -> None:
        super().__init__()
        self.experts = nn.ModuleList(Expert(config, layer) for _ in range(layer["experts"]))
        self.top_k, self.every_token = layer["top_k"], layer["act_bits"] == 8
        if layer["experts"] > 1:
            self.router = QuantLinear(config.hidden_size, layer["experts"], False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(self.experts) == 1:
            return self.experts[0](x)
        flat = x.reshape(-1, x.shape[-1])
        logits = self.router(flat)
        weights, chosen = torch.topk(logits, self.top_k, dim=-1)
        weights = torch.softmax(weights, dim=-1)
        out = torch.zeros_like(flat)
        if self.every_token:
            gates = torch.zeros_like(logits).scatter(1, chosen, weights)
            for e, expert in enumerate(self.experts):
                out = out + expert(flat) * gates[:, e : e + 1]
            return out.view_as(x)
        for e, expert in enumerate(self.experts):
            token, slot = torch.where(chosen == e)
            if token.numel():
                out.index_add_(0, token, expert(flat[token]) * weights[token, slot, None])
        return out.view_as(x)


class Block(nn.Module):
    """Attention then FFN, each with its norm and residual (pre-norm or post-norm); either may be absent."""

    def __init__(self, config: SupernasConfig, layer: dict) -> None:
        super().__init__()
        e, eps = config.hidden_size, config.layer_norm_eps
        has_attention, has_ffn = layer["attention"] != "none", layer["ffn_dim"] > 0
        self.ln1 = nn.LayerNorm(e, eps=eps) if has_attention else None
        self.attn = Attention(config, layer) if has_attention else None
        self.ln2 = nn.LayerNorm(e, eps=eps) if has_ffn else None
        self.ffn = FeedForward(config, layer) if has_ffn else None
        self.pre_norm = config.norm == "pre"

    def forward(self, x, padding, cache: Cache | None, index: int) -> torch.Tensor:
        if self.attn is not None:
            if self.pre_norm:
                x = x + self.attn(self.ln1(x), padding, cache, index)
            else:
                x = self.ln1(x + self.attn(x, padding, cache, index))
        if self.ffn is not None:
            x = x + self.ffn(self.ln2(x)) if self.pre_norm else self.ln2(x + self.ffn(x))
        return x


# ---------------------------------------------------------------------------- speech front end


class ConvFeatureEncoder(nn.Module):
    """HuBERT's feature encoder: waveform (B, S) -> (B, T, channels), layer-normed over channels."""

    def __init__(self, config: SupernasConfig) -> None:
        super().__init__()
        convs, channels = [], 1
        for out, kernel, stride in config.conv_layers:
            convs.append(nn.Conv1d(channels, out, kernel, stride=stride, bias=False))
            channels = out
        self.convs = nn.ModuleList(convs)
        first = config.conv_layers[0][0]
        self.first_norm = nn.GroupNorm(first, first)
        self.norm_weight = nn.Parameter(torch.ones(channels))
        self.norm_bias = nn.Parameter(torch.zeros(channels))
        self.eps = config.layer_norm_eps

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        x = wave[:, None, :]
        for i, conv in enumerate(self.convs):
            x = conv(x)
            x = F.gelu(self.first_norm(x) if i == 0 else x)
        x = x.transpose(1, 2)
        return F.layer_norm(x, (x.shape[-1],), self.norm_weight, self.norm_bias, self.eps)


class PositionalConv(nn.Module):
    """Depthwise convolution over frames, then GELU; an even kernel drops the last frame."""

    def __init__(self, channels: int, kernel: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(channels, 1, kernel))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.kernel = kernel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.conv1d(x.transpose(1, 2), self.weight, self.bias, padding=self.kernel // 2, groups=x.shape[-1])
        if self.kernel % 2 == 0:
            y = y[:, :, :-1]
        return F.gelu(y).transpose(1, 2)


class SpeechFrontEnd(nn.Module):
    def __init__(self, config: SupernasConfig) -> None:
        super().__init__()
        self.features = ConvFeatureEncoder(config)
        self.proj = QuantLinear(config.conv_layers[-1][0], config.hidden_size, True)
        self.pos_conv = PositionalConv(config.hidden_size, config.pos_conv_kernel)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        x = self.proj(self.features(wave))
        return x + self.pos_conv(x)


# ---------------------------------------------------------------------------- models


class SupernasPreTrainedModel(PreTrainedModel):
    config_class = SupernasConfig
    base_model_prefix = "model"
    main_input_name = "input_ids"

    def _init_weights(self, module: nn.Module) -> None:
        """Every tensor comes from model.safetensors; nothing is initialised here."""


class SupernasModel(SupernasPreTrainedModel):
    """The transformer without its head: embeddings (tokens, patches or a waveform's frames) and layers.

    ``forward`` returns ``last_hidden_state`` (B, T, hidden_size). ``attention_mask`` (B, T) is 1 at real
    tokens (for speech, real frames) and 0 at padding.
    """

    _keys_to_ignore_on_load_unexpected = [r"^classifier\.", r"^lm_head\."]  # the heads' tensors

    def __init__(self, config: SupernasConfig) -> None:
        super().__init__(config)
        e, task = config.hidden_size, config.task
        if task == "speech":
            self.frontend = SpeechFrontEnd(config)
        elif task == "vision":
            self.patch = QuantLinear(config.num_channels * config.patch_size**2, e, True)
            self.cls = nn.Embedding(1, e)
        else:
            self.wte = nn.Embedding(config.vocab_size, e)
        if config.type_vocab_size:
            self.wtt = nn.Embedding(config.type_vocab_size, e)
        if task != "speech":
            self.wpe = nn.Embedding(config.max_position_embeddings, e)
        self.emb_norm = nn.LayerNorm(e, eps=config.layer_norm_eps) if config.norm == "post" else None
        self.blocks = nn.ModuleList(Block(config, layer) for layer in config.layers)
        self.final_norm = nn.LayerNorm(e, eps=config.layer_norm_eps) if config.norm == "pre" else None
        self.post_init()

    def cached_tokens(self, cache: Cache | None) -> int:
        """Tokens already in the cache, read at the first layer that has attention."""
        layers = [i for i, block in enumerate(self.blocks) if block.attn is not None]
        return cache.get_seq_length(layers[0]) if cache is not None and layers else 0

    def get_input_embeddings(self) -> nn.Module | None:
        return getattr(self, "wte", None)

    def embed(self, inputs: torch.Tensor, token_types, position_ids, past: int) -> torch.Tensor:
        """Input embeddings; positions continue after ``past`` cached tokens unless given."""
        task = self.config.task
        if task == "speech":
            x = self.frontend(inputs)
            return self.emb_norm(x) if self.emb_norm is not None else x
        if task == "vision":
            b, c, _, _ = inputs.shape
            p = self.config.patch_size
            patches = (
                inputs.unfold(2, p, p).unfold(3, p, p).permute(0, 2, 3, 1, 4, 5).reshape(b, -1, c * p * p)
            )
            cls = self.cls(torch.zeros(b, 1, dtype=torch.long, device=inputs.device))
            x = torch.cat([cls, self.patch(patches)], dim=1)
        else:
            x = self.wte(inputs)
        if position_ids is None:
            position_ids = torch.arange(past, past + x.shape[1], device=x.device)
        x = x + self.wpe(position_ids)
        if self.config.type_vocab_size:
            x = x + self.wtt(token_types if token_types is not None else torch.zeros_like(inputs))
        return self.emb_norm(x) if self.emb_norm is not None else x

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        cache: Cache | None = None,
        use_cache: bool | None = None,
        pixel_values: torch.Tensor | None = None,
        input_values: torch.Tensor | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPast:
        inputs = next(x for x in (input_ids, pixel_values, input_values) if x is not None)
        use_cache = self.config.causal and (use_cache if use_cache is not None else self.config.use_cache)
        if use_cache and cache is None:
            cache = DynamicCache(config=self.config)
        past = self.cached_tokens(cache)
        x = self.embed(inputs, token_type_ids, position_ids, past)
        padding = None if attention_mask is None or bool(attention_mask.all()) else attention_mask.bool()
        for i, block in enumerate(self.blocks):
            x = block(x, padding, cache if use_cache else None, i)
        if self.final_norm is not None:
            x = self.final_norm(x)
        return BaseModelOutputWithPast(last_hidden_state=x, cache=cache if use_cache else None)


def mean_pool(h: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
    """Mean over real tokens (B, T, C) -> (B, C)."""
    if attention_mask is None:
        return h.mean(dim=1)
    keep = attention_mask[:, :, None].to(h.dtype)
    return (h * keep).sum(1) / keep.sum(1).clamp_min(1.0)


class SupernasForCausalLM(SupernasPreTrainedModel, GenerationMixin):
    """Next-token logits (B, T, vocab); the head is the token embedding when ``config.tied_head``."""

    def __init__(self, config: SupernasConfig) -> None:
        super().__init__(config)
        self.model = SupernasModel(config)
        if not config.tied_head:
            self.lm_head = QuantLinear(config.hidden_size, config.vocab_size, False)
        self.post_init()

    def forward(
        self, input_ids=None, attention_mask=None, position_ids=None, cache=None, use_cache=None, **kwargs
    ):
        out = self.model(
            input_ids, attention_mask, position_ids=position_ids, cache=cache, use_cache=use_cache
        )
        h = out.last_hidden_state
        logits = F.linear(h, self.model.wte.weight) if self.config.tied_head else self.lm_head(h)
        return CausalLMOutputWithPast(logits=logits, cache=out.cache)


class SupernasForSequenceClassification(SupernasPreTrainedModel):
    """Text or speech classifier: a linear layer on the mean of the real tokens' (frames') final states."""

    def __init__(self, config: SupernasConfig) -> None:
        super().__init__(config)
        self.model = SupernasModel(config)
        self.classifier = QuantLinear(config.hidden_size, config.num_classes, True)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, input_values=None, **kwargs):
        h = self.model(input_ids, attention_mask, token_type_ids, input_values=input_values).last_hidden_state
        return SequenceClassifierOutput(logits=self.classifier(mean_pool(h, attention_mask)))


class SupernasForImageClassification(SupernasPreTrainedModel):
    """ViT classifier: a linear layer on the class token's final state."""

    main_input_name = "pixel_values"

    def __init__(self, config: SupernasConfig) -> None:
        super().__init__(config)
        self.model = SupernasModel(config)
        self.classifier = QuantLinear(config.hidden_size, config.num_classes, True)
        self.post_init()

    def forward(self, pixel_values=None, **kwargs):
        h = self.model(pixel_values=pixel_values).last_hidden_state
        return ImageClassifierOutput(logits=self.classifier(h[:, 0]))
