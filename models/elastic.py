"""Elastic leaves: modules that keep their largest weights and compute with a leading slice.

Each module is told its active size (``set_active`` / ``width``) and slices its weight in ``forward``;
no weight is copied per call. ``active_index`` is the one slicing rule: forward's ``active_*`` accessors,
extraction and the training-free proxies all read it, so weight sharing, extraction and scoring cannot
disagree (whittle's idea, with one linear class for every projection).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import nn

from supernas.models.quant import (
    Scheme,
    fake_quant_activation,
    fake_quant_weight,
    integer_linear,
    quantize_weight,
)

Index = tuple  # of slices (or Ellipsis) selecting the active part of a parameter


@runtime_checkable
class Sliced(Protocol):
    """A module that computes with a leading slice of its parameters."""

    def active_index(self) -> dict[str, Index]: ...


def own_slices(module: nn.Module) -> dict[str, Index]:
    """Index of the part of each of ``module``'s own parameters that forward computes with: a sliced
    module says which; any other (a dense leaf, a fixed convolution) computes with all of each."""
    if isinstance(module, Sliced):
        return module.active_index()
    return {name: (...,) for name, _ in module.named_parameters(recurse=False)}


class ElasticLinear(nn.Module):
    """Linear layer over the first ``out`` rows and first ``in`` columns of its full weight."""

    def __init__(self, in_max: int, out_max: int, bias: bool, group_size: int | None = None) -> None:
        super().__init__()
        self.group_size = group_size
        self.weight = nn.Parameter(torch.empty(out_max, in_max))
        self.bias = nn.Parameter(torch.zeros(out_max)) if bias else None
        self.set_active(out_max, in_max)

    def set_active(
        self, out_features: int, in_features: int, weight_bits: int = 32, act_bits: int = 32
    ) -> None:
        self.out_features, self.in_features = out_features, in_features
        self.weight_bits, self.act_bits = weight_bits, act_bits

    def active_index(self) -> dict[str, Index]:
        rows = slice(self.out_features)
        index = {"weight": (rows, slice(self.in_features))}
        return index if self.bias is None else index | {"bias": (rows,)}

    def active_weight(self) -> torch.Tensor:
        """The full-precision slice (before quantization)."""
        return self.weight[self.active_index()["weight"]]

    def active_bias(self) -> torch.Tensor | None:
        return None if self.bias is None else self.bias[self.active_index()["bias"]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scheme, weight = Scheme.of(self.weight_bits, self.act_bits, self.group_size), self.active_weight()
        if scheme.integer and not torch.is_grad_enabled():
            quantized = quantize_weight(weight, scheme.weight_bits, scheme.block)
            return integer_linear(x, quantized, self.active_bias(), scheme)
        weight = fake_quant_weight(weight, scheme.weight_bits, scheme.block)
        return F.linear(fake_quant_activation(x, scheme), weight, self.active_bias())


class ElasticLayerNorm(nn.Module):
    """LayerNorm over the first ``width`` channels (the active embedding width)."""

    def __init__(self, width_max: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(width_max))
        self.bias = nn.Parameter(torch.zeros(width_max))
        self.eps = eps
        self.width = width_max

    def active_index(self) -> dict[str, Index]:
        return {"weight": (slice(self.width),), "bias": (slice(self.width),)}

    def active_params(self) -> tuple[torch.Tensor, torch.Tensor]:
        index = self.active_index()
        return self.weight[index["weight"]], self.bias[index["bias"]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, (self.width,), *self.active_params(), self.eps)


class ElasticEmbedding(nn.Module):
    """Embedding table whose vectors are cut to the first ``width`` channels."""

    def __init__(self, rows: int, width_max: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(rows, width_max))
        self.width = width_max

    def active_index(self) -> dict[str, Index]:
        return {"weight": (slice(None), slice(self.width))}

    def active_weight(self) -> torch.Tensor:
        return self.weight[self.active_index()["weight"]]

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(ids, self.active_weight())


class ElasticLeaves:
    """Leaves factory for the supernet: every leaf at its largest size, randomly initialised (GPT-2 style)."""

    def linear(
        self,
        in_features: int,
        out_features: int,
        bias: bool,
        weight_bits: int,
        act_bits: int,
        group_size: int | None = None,
    ) -> ElasticLinear:
        layer = ElasticLinear(in_features, out_features, bias, group_size)
        nn.init.normal_(layer.weight, std=0.02)
        return layer

    def norm(self, width: int, eps: float) -> ElasticLayerNorm:
        return ElasticLayerNorm(width, eps)

    def embedding(self, rows: int, width: int) -> ElasticEmbedding:
        table = ElasticEmbedding(rows, width)
        nn.init.normal_(table.weight, std=0.02)
        return table
