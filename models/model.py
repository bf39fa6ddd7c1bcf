"""The transformer, readable top to bottom: one definition for the supernet and for extracted subnets.

The model is assembled from *leaves* (linear, layer norm, embedding) supplied by a ``Leaves`` factory.
The supernet builds it once at the space's largest architecture with elastic leaves that slice their
weights; an extracted subnet builds it at one architecture with dense leaves holding only the active
(and, where the policy says so, quantized) weights. Structural choices of a layer (attention type,
heads, window, experts, top-k) are plain attributes here, fixed for a subnet and set by
``Supernet.activate`` for the supernet.

Weights each attention choice owns: all four attention types use the same q/k/v/o projections. Heads
take the first ``heads * head_dim`` rows of q (and columns of o); GQA takes the first
``kv_heads * head_dim`` rows of k and v; linear attention and sliding windows own no extra weights.
A dense FFN is expert 0 of the layer's expert bank; an MoE layer with E experts uses experts 0..E-1 and
the first E rows of the router. A no-op sub-block (attention ``none``, ``ffn_dim`` 0) is skipped with its
norm: the residual passes through, and a model built at such an architecture has no such modules.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn

from supernas.core.errors import InputError
from supernas.models import ops
from supernas.models.speech import SpeechFrontEnd
from supernas.spaces.architecture import Architecture, LayerArch
from supernas.spaces.spec import SpaceSpec


class Leaves(Protocol):
    """Makes the weight-holding modules of a model."""

    def linear(
        self,
        in_features: int,
        out_features: int,
        bias: bool,
        weight_bits: int,
        act_bits: int,
        group_size: int | None = None,
    ) -> nn.Module: ...

    def norm(self, width: int, eps: float) -> nn.Module: ...

    def embedding(self, rows: int, width: int) -> nn.Module: ...


def _add_linears(
    module: nn.Module, shapes: dict[str, tuple[int, int]], spec: SpaceSpec, layer: LayerArch, leaves: Leaves
) -> None:
    for name, (out_features, in_features) in shapes.items():
        linear = leaves.linear(
            in_features, out_features, spec.bias, layer.weight_bits, layer.act_bits, spec.weight_group_size
        )
        setattr(module, name, linear)


def _resize_linears(module: nn.Module, shapes: dict[str, tuple[int, int]], layer: LayerArch) -> None:
    for name, (out_features, in_features) in shapes.items():
        getattr(module, name).set_active(out_features, in_features, layer.weight_bits, layer.act_bits)


class Attention(nn.Module):
    def __init__(self, spec: SpaceSpec, embed: int, layer: LayerArch, leaves: Leaves) -> None:
        super().__init__()
        self.head_dim, self.causal = spec.head_dim, spec.causal
        _add_linears(self, self.shapes(embed, layer), spec, layer, leaves)
        self.configure(embed, layer)

    def shapes(self, embed: int, layer: LayerArch) -> dict[str, tuple[int, int]]:
        """(out, in) of each projection for this layer choice."""
        q, kv = layer.heads * self.head_dim, layer.kv_heads * self.head_dim
        return {"q": (q, embed), "k": (kv, embed), "v": (kv, embed), "o": (embed, q)}

    def configure(self, embed: int, layer: LayerArch) -> None:
        _resize_linears(self, self.shapes(embed, layer), layer)
        self.kind, self.heads, self.kv_heads, self.window = (
            layer.attention,
            layer.heads,
            layer.kv_heads,
            layer.window,
        )

    def forward(self, x: torch.Tensor, padding: torch.Tensor | None) -> torch.Tensor:
        y = ops.attention(
            self.q(x),
            self.k(x),
            self.v(x),
            kind=self.kind,
            heads=self.heads,
            kv_heads=self.kv_heads,
            window=self.window,
            causal=self.causal,
            padding=padding,
        )  # (B, T, heads * head_dim)
        return self.o(y)  # (B, T, C)


class Expert(nn.Module):
    """A two-layer MLP; a dense FFN is a single expert."""

    def __init__(self, spec: SpaceSpec, embed: int, layer: LayerArch, leaves: Leaves) -> None:
        super().__init__()
        _add_linears(self, self.shapes(embed, layer), spec, layer, leaves)
        self.act = ops.ACTIVATIONS[spec.activation]

    @staticmethod
    def shapes(embed: int, layer: LayerArch) -> dict[str, tuple[int, int]]:
        return {"fc1": (layer.ffn_dim, embed), "fc2": (embed, layer.ffn_dim)}

    def configure(self, embed: int, layer: LayerArch) -> None:
        _resize_linears(self, self.shapes(embed, layer), layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class FeedForward(nn.Module):
    """Dense FFN (one expert) or top-k mixture of experts with a linear router (kept in fp32).

    Experts whose activations are 8-bit run on every token (unchosen ones with gate 0), as the exported
    static graph runs them: a per-tensor activation scale is taken over every token the runtime's
    kernel multiplies, so routing only the chosen tokens would score other arithmetic than it deploys.
    """

    def __init__(self, spec: SpaceSpec, embed: int, layer: LayerArch, leaves: Leaves) -> None:
        super().__init__()
        self.experts = nn.ModuleList(Expert(spec, embed, layer, leaves) for _ in range(layer.experts))
        self.router = leaves.linear(embed, layer.experts, False, 32, 32) if layer.experts > 1 else None
        self.static_routing = False  # True: every expert runs on every token (for static graphs such as ONNX)
        self.configure(embed, layer)

    def configure(self, embed: int, layer: LayerArch) -> None:
        self.n_experts, self.top_k = layer.experts, layer.top_k
        self.every_token = layer.act_bits == 8
        for expert in list(self.experts)[: layer.experts]:
            expert.configure(embed, layer)
        if self.router is not None:
            self.router.set_active(layer.experts, embed, 32, 32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.n_experts == 1:
            return self.experts[0](x)
        flat = x.reshape(-1, x.shape[-1])  # (B*T, C)
        experts = list(self.experts)[: self.n_experts]
        static = self.static_routing or self.every_token
        route = ops.mixture_of_experts_dense if static else ops.mixture_of_experts
        return route(flat, self.router(flat), self.top_k, experts).view_as(x)


class Block(nn.Module):
    """One layer: an attention sub-block then an FFN sub-block, each with its norm and residual.

    Built without a sub-block where ``layer`` has none (extracted subnets); the supernet has both and
    ``configure`` switches either off for a no-op choice.
    """

    def __init__(self, spec: SpaceSpec, embed: int, layer: LayerArch, leaves: Leaves) -> None:
        super().__init__()
        self.ln1 = leaves.norm(embed, spec.norm_eps) if layer.has_attention else None
        self.attn = Attention(spec, embed, layer, leaves) if layer.has_attention else None
        self.ln2 = leaves.norm(embed, spec.norm_eps) if layer.has_ffn else None
        self.ffn = FeedForward(spec, embed, layer, leaves) if layer.has_ffn else None
        self.pre_norm = spec.norm == "pre"

    def configure(self, embed: int, layer: LayerArch) -> None:
        self.use_attn, self.use_ffn = layer.has_attention, layer.has_ffn
        if self.use_attn:
            self.attn.configure(embed, layer)
        if self.use_ffn:
            self.ffn.configure(embed, layer)

    def forward(self, x: torch.Tensor, padding: torch.Tensor | None) -> torch.Tensor:
        if self.use_attn:
            x = x + self.attn(self.ln1(x), padding) if self.pre_norm else self.ln1(x + self.attn(x, padding))
        if self.use_ffn:
            x = x + self.ffn(self.ln2(x)) if self.pre_norm else self.ln2(x + self.ffn(x))
        return x  # pre-norm: GPT-2, ViT; post-norm: BERT


class Transformer(nn.Module):
    """Decoder LM, encoder classifier, vision transformer or speech classifier, as the spec's task says.

    ``forward(inputs, padding=None, token_types=None)``: inputs are token ids (B, T), images
    (B, C, H, W) or waveforms (B, samples); ``padding`` (B, T) is True at real tokens. Returns logits:
    (B, T, vocab) for a causal LM, (B, classes) otherwise. ``encode`` returns the final hidden states
    (B, T, C).
    """

    def __init__(self, spec: SpaceSpec, arch: Architecture, leaves: Leaves) -> None:
        super().__init__()
        self.spec = spec
        e = arch.embed_dim
        if spec.task == "speech":  # frames from the waveform; its position convolution replaces wpe
            self.frontend = SpeechFrontEnd(spec.audio, e, spec.norm_eps, leaves)
        elif spec.task == "vision":
            self.patch = leaves.linear(spec.in_channels * spec.patch_size**2, e, True, 32, 32)
            self.cls = leaves.embedding(1, e)
        else:
            self.wte = leaves.embedding(spec.vocab_size, e)
        if spec.type_vocab_size:
            self.wtt = leaves.embedding(spec.type_vocab_size, e)
        if spec.task != "speech":
            self.wpe = leaves.embedding(spec.seq_len, e)
        self.emb_norm = leaves.norm(e, spec.norm_eps) if spec.norm == "post" else None
        self.blocks = nn.ModuleList(Block(spec, e, layer, leaves) for layer in arch.layers)
        self.final_norm = leaves.norm(e, spec.norm_eps) if spec.norm == "pre" else None
        if spec.task != "causal_lm":
            self.classifier = leaves.linear(e, spec.num_classes, True, 32, 32)
        elif not spec.tie_embeddings:
            self.lm_head = leaves.linear(e, spec.vocab_size, False, 32, 32)
        self.configure(arch)

    def configure(self, arch: Architecture) -> None:
        """Set every layer's structure and every linear's active size (dense leaves only check them)."""
        e, spec = arch.embed_dim, self.spec
        if spec.task == "vision":
            self.patch.set_active(e, spec.in_channels * spec.patch_size**2)
        if spec.task == "speech":
            self.frontend.configure(e)
        if spec.task != "causal_lm":
            self.classifier.set_active(spec.num_classes, e)
        elif not spec.tie_embeddings:
            self.lm_head.set_active(spec.vocab_size, e)
        for block, layer in zip(self.blocks, arch.layers):
            block.configure(e, layer)
        self.depth = arch.depth

    def check_inputs(self, inputs: torch.Tensor) -> None:
        """A one-line error for the common mistakes torch would report deep inside an embedding."""
        spec = self.spec
        if (
            spec.task not in ("causal_lm", "encoder_classification")
            or torch.jit.is_tracing()
            or torch.compiler.is_compiling()
        ):
            return  # an export traces symbolic shapes: nothing to read there
        if inputs.ndim != 2:
            raise InputError(
                f"token ids must be a 2-D (batch, sequence) tensor, got shape {tuple(inputs.shape)}"
                + (" (add a batch dimension: ids[None])" if inputs.ndim == 1 else "")
            )
        if inputs.dtype.is_floating_point or inputs.dtype == torch.bool:
            raise InputError(f"token ids must be integers, got {inputs.dtype}")
        if inputs.shape[1] > spec.max_seq_len:
            raise InputError(
                f"sequence of {inputs.shape[1]} tokens is longer than space '{spec.name}' allows "
                f"({spec.max_seq_len})"
            )
        if inputs.numel() and (int(inputs.min()) < 0 or int(inputs.max()) >= spec.vocab_size):
            bad = int(inputs.max()) if int(inputs.max()) >= spec.vocab_size else int(inputs.min())
            raise InputError(
                f"token id {bad} is outside the vocabulary of space '{spec.name}' "
                f"(0 to {spec.vocab_size - 1})"
            )

    def embed(self, inputs: torch.Tensor, token_types: torch.Tensor | None) -> torch.Tensor:
        self.check_inputs(inputs)
        if self.spec.task == "speech":
            x = self.frontend(inputs)  # (B, frames, C)
            return self.emb_norm(x) if self.emb_norm is not None else x
        if self.spec.task == "vision":
            patches = self.patch(ops.patchify(inputs, self.spec.patch_size))  # (B, N, C)
            cls = self.cls(torch.zeros(inputs.shape[0], 1, dtype=torch.long, device=inputs.device))
            x = torch.cat([cls, patches], dim=1)  # (B, N+1, C)
        else:
            x = self.wte(inputs)  # (B, T, C)
        positions = torch.arange(x.shape[1], device=x.device)
        x = x + self.wpe(positions)
        if self.spec.type_vocab_size:
            x = x + self.wtt(token_types if token_types is not None else torch.zeros_like(inputs))
        return self.emb_norm(x) if self.emb_norm is not None else x

    def encode(
        self,
        inputs: torch.Tensor,
        padding: torch.Tensor | None = None,
        token_types: torch.Tensor | None = None,
    ) -> torch.Tensor:
        x = self.embed(inputs, token_types)
        for block in list(self.blocks)[: self.depth]:
            x = block(x, padding)
        return self.final_norm(x) if self.final_norm is not None else x

    def forward(
        self,
        inputs: torch.Tensor,
        padding: torch.Tensor | None = None,
        token_types: torch.Tensor | None = None,
    ) -> torch.Tensor:
        h = self.encode(inputs, padding, token_types)
        if self.spec.task == "causal_lm":
            if self.spec.tie_embeddings:
                return torch.nn.functional.linear(h, self.wte.weight[:, : h.shape[-1]])  # (B, T, vocab)
            return self.lm_head(h)
        pooled = h[:, 0] if self.spec.task == "vision" else ops.mean_pool(h, padding)
        return self.classifier(pooled)  # (B, classes)
