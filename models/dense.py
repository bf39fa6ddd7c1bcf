"""Dense leaves for extracted subnets: only the active weights, stored as the quantization policy says.

A ``QuantLinear`` stores fp32 weights (32 bits), fp16 weights (16), int8 values (8) or int4 values packed
two per byte (4), each integer row with one fp32 scale (or one per group of input columns). Backends:

- ``torch`` (default): the same functions the supernet's fake-quant uses (:mod:`supernas.models.quant`),
  so outputs equal the supernet's for the same architecture, bit for bit.
- ``triton``: integer layers run :func:`supernas.models.kernels.quant_linear`, which dequantizes inside
  the matmul tiles, on activations quantized as the layer's scheme says; equal to ``torch`` within
  float rounding.
  16/32-bit layers stay on ``F.linear`` (there is nothing to dequantize). Without CUDA the kernels run
  in Triton's interpreter: correct but slow.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from supernas.core.errors import SpecError, allowed
from supernas.models.quant import (
    QuantizedWeight,
    Scheme,
    dequantize,
    fake_quant_activation,
    integer_linear,
    pack_int4,
    quantize_weight,
    round_activation,
    unpack_int4,
)
from supernas.spaces.analytic import scale_columns

BACKENDS = ("torch", "triton")


def check_backend(backend: str) -> str:
    """The backend name, checked where a user gives it (not at the first forward pass)."""
    if backend not in BACKENDS:
        raise SpecError(f"unknown backend '{backend}' ({allowed(BACKENDS)})")
    return backend


class QuantLinear(nn.Module):
    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool,
        weight_bits: int,
        act_bits: int,
        group_size: int | None = None,
        backend: str = "torch",
    ) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight_bits, self.act_bits = weight_bits, act_bits
        self.scheme = Scheme.of(weight_bits, act_bits, group_size)
        self.group_size = self.scheme.block
        self.backend = check_backend(backend)
        if weight_bits == 32:
            self.weight = nn.Parameter(torch.zeros(out_features, in_features))
        elif weight_bits == 16:
            self.register_buffer("weight", torch.zeros(out_features, in_features, dtype=torch.float16))
        else:
            cols = in_features if weight_bits == 8 else (in_features + 1) // 2
            dtype = torch.int8 if weight_bits == 8 else torch.uint8
            self.register_buffer("qweight", torch.zeros(out_features, cols, dtype=dtype))
            self.register_buffer(
                "scale", torch.ones(out_features, scale_columns(in_features, self.group_size))
            )
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def set_active(
        self, out_features: int, in_features: int, weight_bits: int = 32, act_bits: int = 32
    ) -> None:
        """A dense layer has one size: this only checks that the model asks for that size."""
        asked = (out_features, in_features, weight_bits, act_bits)
        if asked != (self.out_features, self.in_features, self.weight_bits, self.act_bits):
            raise ValueError(
                "QuantLinear is fixed at "
                f"{(self.out_features, self.in_features, self.weight_bits, self.act_bits)}, asked {asked}"
            )

    @property
    def logical_params(self) -> int:
        return self.out_features * self.in_features + (0 if self.bias is None else self.out_features)

    @torch.no_grad()
    def load_dense(self, weight: torch.Tensor, bias: torch.Tensor | None) -> None:
        """Store a full-precision weight under this layer's policy."""
        if self.weight_bits == 32:
            self.weight.copy_(weight)
        elif self.weight_bits == 16:
            self.weight.copy_(weight.half())
        else:
            q = quantize_weight(weight, self.weight_bits, self.group_size)
            self.qweight.copy_(q.values if self.weight_bits == 8 else pack_int4(q.values))
            self.scale.copy_(q.scale)
        if bias is not None:
            self.bias.copy_(bias)

    def quantized_weight(self) -> QuantizedWeight:
        """The stored integer weight (4/8 bits) as values and scales."""
        values = self.qweight if self.weight_bits == 8 else unpack_int4(self.qweight, self.in_features)
        return QuantizedWeight(values, self.scale, self.weight_bits, self.group_size)

    def dense_weight(self) -> torch.Tensor:
        if self.weight_bits == 32:
            return self.weight
        if self.weight_bits == 16:
            return self.weight.float()
        q = self.quantized_weight()
        return dequantize(q.values, q.scale, q.group_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.backend == "triton" and self.weight_bits in (4, 8):
            from supernas.models.kernels import quant_linear  # imports triton: only when a model asks for it

            x = round_activation(x, self.scheme)
            return quant_linear(
                x, self.qweight, self.scale, self.bias, self.weight_bits, self.in_features, self.group_size
            )
        if self.scheme.integer and not torch.is_grad_enabled():
            return integer_linear(x, self.quantized_weight(), self.bias, self.scheme)
        return F.linear(fake_quant_activation(x, self.scheme), self.dense_weight(), self.bias)

    def extra_repr(self) -> str:
        group = f", group={self.group_size}" if self.group_size else ""
        return (
            f"in={self.in_features}, out={self.out_features}, "
            f"w{self.weight_bits}a{self.act_bits}{group}, {self.backend}"
        )


class DenseLeaves:
    """Leaves factory for extracted subnets (weights are filled in by extraction or loading)."""

    def __init__(self, backend: str = "torch") -> None:
        self.backend = check_backend(backend)

    def linear(
        self,
        in_features: int,
        out_features: int,
        bias: bool,
        weight_bits: int,
        act_bits: int,
        group_size: int | None = None,
    ) -> QuantLinear:
        return QuantLinear(in_features, out_features, bias, weight_bits, act_bits, group_size, self.backend)

    def norm(self, width: int, eps: float) -> nn.LayerNorm:
        return nn.LayerNorm(width, eps=eps)

    def embedding(self, rows: int, width: int) -> nn.Embedding:
        return nn.Embedding(rows, width)


def parameter_count(model: nn.Module) -> int:
    """Logical parameters: quantized weights count one per value, whatever their storage."""
    total = 0
    for module in model.modules():
        if isinstance(module, QuantLinear):
            total += module.logical_params
        else:
            total += sum(p.numel() for p in module.parameters(recurse=False))
    return total
