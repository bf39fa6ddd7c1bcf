"""Quantization: fake-quant for search, real integer storage for checkpoints.

Weights: symmetric, per output channel (one fp32 scale per row), integers in [-(2^(b-1)-1), 2^(b-1)-1].
Activations: symmetric, per tensor, scale from the current tensor's max (dynamic).
16 bits means fp16 rounding; 32 bits means no quantization.
The supernet (fake-quant) and an extracted checkpoint (integers + scales) go through ``quantize_weight``
and ``dequantize``, so the weights a search scores are exactly the weights a checkpoint stores.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

_MIN_SCALE = 1e-12


class _StraightThrough(torch.autograd.Function):
    """Forward returns the quantized value, backward passes the gradient unchanged (STE)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, quantized: torch.Tensor) -> torch.Tensor:
        return quantized

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad, None


def qmax(bits: int) -> int:
    return 2 ** (bits - 1) - 1


@dataclass(frozen=True)
class QuantizedWeight:
    """Integer weight (int8, values in the b-bit range) with one fp32 scale per output row."""

    values: torch.Tensor  # (out, in) int8
    scale: torch.Tensor  # (out, 1) float32
    bits: int


def quantize_weight(w: torch.Tensor, bits: int) -> QuantizedWeight:
    w = w.detach().float()
    limit = qmax(bits)
    scale = (w.abs().amax(dim=1, keepdim=True) / limit).clamp_min(_MIN_SCALE)
    values = torch.round(w / scale).clamp_(-limit, limit).to(torch.int8)
    return QuantizedWeight(values, scale, bits)


def dequantize(values: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return values.float() * scale


def fake_quant_weight(w: torch.Tensor, bits: int) -> torch.Tensor:
    """The weight a layer with ``bits`` weight bits computes with; differentiable through STE."""
    if bits == 32:
        return w
    if bits == 16:
        rounded = w.detach().half().float()
    else:
        q = quantize_weight(w, bits)
        rounded = dequantize(q.values, q.scale)
    return _StraightThrough.apply(w, rounded)


def fake_quant_activation(x: torch.Tensor, bits: int) -> torch.Tensor:
    if bits == 32:
        return x
    if bits == 16:
        return _StraightThrough.apply(x, x.detach().half().float())
    limit = qmax(bits)
    scale = (x.detach().abs().amax() / limit).clamp_min(_MIN_SCALE)
    return _StraightThrough.apply(x, torch.round(x.detach() / scale).clamp_(-limit, limit) * scale)


def pack_int4(values: torch.Tensor) -> torch.Tensor:
    """Pack int4 values (int8 tensor in [-8, 7], shape (out, in)) two per byte along ``in``.

    Byte j of a row holds column 2j in its low nibble and column 2j+1 in its high nibble, both offset
    by 8 to be unsigned. An odd column count is padded with one zero.
    """
    out, cols = values.shape
    u = (values.to(torch.int16) + 8).to(torch.uint8)
    if cols % 2:
        u = torch.cat([u, torch.full((out, 1), 8, dtype=torch.uint8)], dim=1)
    return u[:, 0::2] | (u[:, 1::2] << 4)


def unpack_int4(packed: torch.Tensor, cols: int) -> torch.Tensor:
    """Inverse of :func:`pack_int4`: int8 values of shape (out, cols)."""
    low = (packed & 0x0F).to(torch.int8) - 8
    high = (packed >> 4).to(torch.int8) - 8
    return torch.stack([low, high], dim=2).reshape(packed.shape[0], -1)[:, :cols].contiguous()


def weight_storage_bytes(out_features: int, in_features: int, bits: int) -> int:
    """Bytes a checkpoint spends on one linear weight (without bias) at ``bits``."""
    if bits == 32:
        return 4 * out_features * in_features
    if bits == 16:
        return 2 * out_features * in_features
    per_row = in_features if bits == 8 else (in_features + 1) // 2
    return out_features * per_row + 4 * out_features  # integers + fp32 scales
