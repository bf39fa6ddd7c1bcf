"""Elastic leaves: modules that keep their largest weights and compute with a leading slice.

Each module is told its active size (``set_active`` / ``width``) and slices its weight in ``forward``;
no weight is copied per call. ``active_*`` accessors return exactly what forward uses, and extraction
reads those same accessors, so weight sharing and extraction cannot disagree (whittle's idea, with one
linear class for every projection).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from supernas.models.quant import fake_quant_activation, fake_quant_weight


class ElasticLinear(nn.Module):
    """Linear layer over the first ``out`` rows and first ``in`` columns of its full weight."""

    def __init__(self, in_max: int, out_max: int, bias: bool, group_size: int | None = None) -> None:
        super().__init__()
        self.group_size = group_size
        self.weight = nn.Parameter(torch.empty(out_max, in_max))
        self.bias = nn.Parameter(torch.zeros(out_max)) if bias else None
        self.set_active(out_max, in_max)

    def set_active(self, out_features: int, in_features: int, weight_bits: int = 32, act_bits: int = 32) -> None:
        self.out_features, self.in_features = out_features, in_features
        self.weight_bits, self.act_bits = weight_bits, act_bits

    def active_weight(self) -> torch.Tensor:
        """The full-precision slice (before quantization)."""
        return self.weight[: self.out_features, : self.in_features]

    def active_bias(self) -> torch.Tensor | None:
        return None if self.bias is None else self.bias[: self.out_features]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = fake_quant_weight(self.active_weight(), self.weight_bits, self.group_size)
        return F.linear(fake_quant_activation(x, self.act_bits), w, self.active_bias())


class ElasticLayerNorm(nn.Module):
    """LayerNorm over the first ``width`` channels (the active embedding width)."""

    def __init__(self, width_max: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(width_max))
        self.bias = nn.Parameter(torch.zeros(width_max))
        self.eps = eps
        self.width = width_max

    def active_params(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.weight[: self.width], self.bias[: self.width]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, (self.width,), *self.active_params(), self.eps)


class ElasticEmbedding(nn.Module):
    """Embedding table whose vectors are cut to the first ``width`` channels."""

    def __init__(self, rows: int, width_max: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(rows, width_max))
        self.width = width_max

    def active_weight(self) -> torch.Tensor:
        return self.weight[:, : self.width]

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(ids, self.active_weight())


class ElasticLeaves:
    """Leaves factory for the supernet: every leaf at its largest size, randomly initialised (GPT-2 style)."""

    def linear(
        self, in_features: int, out_features: int, bias: bool, weight_bits: int, act_bits: int, group_size: int | None = None
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
