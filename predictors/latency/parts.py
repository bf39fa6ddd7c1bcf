"""The parts of a forward pass that the lookup-table predictor times one by one: 'base' (embeddings and
head), and per layer an 'attention' and an 'ffn' part, each built standalone on random weights.

(Named parts, not kernels: the Triton kernels of :mod:`supernas.models.kernels` are something else.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import nn

from supernas.data.inputs import random_batch
from supernas.models.dense import DenseLeaves, QuantLinear
from supernas.models.model import Attention, FeedForward, Transformer
from supernas.predictors.latency import runtimes
from supernas.predictors.latency.runtimes import ONNXRUNTIME
from supernas.predictors.latency.workload import Workload
from supernas.spaces.analytic import sequence_length
from supernas.spaces.architecture import (
    Architecture,
    LayerArch,
    attention_options,
    ffn_options,
    quant_options,
)
from supernas.spaces.spec import SpaceSpec


class ForwardPart(NamedTuple):
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


def _present(part: str, layer: LayerArch) -> bool:
    """A no-op block (attention 'none', ffn_dim 0) is no part: it costs nothing."""
    return layer.has_attention if part == "attention" else layer.has_ffn


def arch_parts(arch: Architecture) -> list[ForwardPart]:
    return [ForwardPart("base", arch.embed_dim)] + [
        ForwardPart(part, arch.embed_dim, layer)
        for layer in arch.layers
        for part in ("attention", "ffn")
        if _present(part, layer)
    ]


def space_parts(spec: SpaceSpec) -> list[ForwardPart]:
    """Every part some architecture of the space uses, each once."""
    attn, ffn, quant = attention_options(spec), ffn_options(spec), quant_options(spec)
    parts = []
    for e in spec.embed_dim:
        parts.append(ForwardPart("base", e))
        parts += [
            ForwardPart("attention", e, LayerArch(**a, **ffn[0], **q))
            for a in attn
            for q in quant
            if a["heads"]
        ]
        parts += [
            ForwardPart("ffn", e, LayerArch(**attn[0], **f, **q)) for f in ffn for q in quant if f["ffn_dim"]
        ]
    return parts


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


def part_module(
    spec: SpaceSpec, forward_part: ForwardPart, workload: Workload
) -> tuple[nn.Module, torch.Tensor]:
    """``forward_part`` as a module on random weights (leaves of the workload's backend), and its input.

    'base' is a transformer without layers on token ids (or images); the other parts take hidden states.
    """
    w, e = workload, forward_part.embed
    leaves = DenseLeaves(runtimes.leaf_backend(w.backend))
    if forward_part.part == "base":
        empty = Architecture(space=spec.name, embed_dim=e, layers=())
        return _random_weights(Transformer(spec, empty, leaves)), random_batch(
            spec, w.batch_size, w.seq_len
        ).inputs
    x = torch.randn(
        w.batch_size, sequence_length(spec, w.seq_len), e, generator=torch.Generator().manual_seed(0)
    )
    part = (Attention if forward_part.part == "attention" else FeedForward)(
        spec, e, forward_part.layer, leaves
    )
    return _Residual(nn.LayerNorm(e, eps=spec.norm_eps), _random_weights(part)).eval(), x


def forward_part_runner(
    spec: SpaceSpec, forward_part: ForwardPart, workload: Workload, device: torch.device
) -> Callable[[], object]:
    """A closure computing ``forward_part`` once on random weights and inputs of the workload's shape.

    For backend onnxruntime the part is exported on its own and run in its own session.
    """
    module, inputs = part_module(spec, forward_part, workload)
    if workload.backend == ONNXRUNTIME:
        name = (
            {"vision": "pixel_values", "speech": "input_values"}.get(spec.task, "input_ids")
            if forward_part.part == "base"
            else "x"
        )
        return runtimes.part_runner(module, name, inputs, workload.threads, workload.graph_optimization)
    module, inputs = module.to(device), inputs.to(device)
    return lambda: module(inputs)
