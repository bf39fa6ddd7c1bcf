"""Quantization: fake-quant for search, real integer storage for checkpoints.

Weights: symmetric, per output channel (one fp32 scale per row) or, with a group size g, per group of g
consecutive input columns of a row (scales of shape (out, ceil(in / g)); the last group of a row whose
width is not a multiple of g is shorter); integers in [-(2^(b-1)-1), 2^(b-1)-1].
Activations: symmetric, per tensor, scale from the current tensor's max (dynamic).
16 bits means fp16 rounding; 32 bits means no quantization.
The supernet (fake-quant) and an extracted checkpoint (integers + scales) go through ``quantize_weight``
and ``dequantize``, so the weights a search scores are exactly the weights a checkpoint stores.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

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
    """Integer weight (int8, values in the b-bit range) with fp32 scales per row or per group of columns."""

    values: torch.Tensor  # (out, in) int8
    scale: torch.Tensor  # (out, 1) or (out, ceil(in / group_size)) float32
    bits: int
    group_size: int | None = None


def expand_scale(scale: torch.Tensor, group_size: int | None, in_features: int) -> torch.Tensor:
    """Scales broadcastable against an (out, in) weight: per-row scales as they are, group scales repeated."""
    if group_size is None:
        return scale
    return scale.repeat_interleave(group_size, dim=1)[:, :in_features]


def quantize_weight(w: torch.Tensor, bits: int, group_size: int | None = None) -> QuantizedWeight:
    w = w.detach().float()
    limit = qmax(bits)
    if group_size is None:
        absmax = w.abs().amax(dim=1, keepdim=True)
    else:  # zero padding to whole groups leaves every group's absmax unchanged
        padded = F.pad(w.abs(), (0, -w.shape[1] % group_size))
        absmax = padded.view(w.shape[0], -1, group_size).amax(dim=2)
    scale = (absmax / limit).clamp_min(_MIN_SCALE)
    values = torch.round(w / expand_scale(scale, group_size, w.shape[1])).clamp_(-limit, limit).to(torch.int8)
    return QuantizedWeight(values, scale, bits, group_size)


def dequantize(values: torch.Tensor, scale: torch.Tensor, group_size: int | None = None) -> torch.Tensor:
    return values.float() * expand_scale(scale, group_size, values.shape[1])


def fake_quant_weight(w: torch.Tensor, bits: int, group_size: int | None = None) -> torch.Tensor:
    """The weight a layer with ``bits`` weight bits computes with; differentiable through STE."""
    if bits == 32:
        return w
    if bits == 16:
        rounded = w.detach().half().float()
    else:
        q = quantize_weight(w, bits, group_size)
        rounded = dequantize(q.values, q.scale, group_size)
    return _StraightThrough.apply(w, rounded)


def round_activation(x: torch.Tensor, bits: int) -> torch.Tensor:
    """The activation a layer with ``bits`` activation bits sees; plain tensor ops (exportable, no STE)."""
    if bits == 32:
        return x
    if bits == 16:
        return x.half().float()
    limit = qmax(bits)
    scale = (x.abs().amax() / limit).clamp_min(_MIN_SCALE)
    return torch.round(x / scale).clamp(-limit, limit) * scale


def fake_quant_activation(x: torch.Tensor, bits: int) -> torch.Tensor:
    if bits == 32:
        return x
    return _StraightThrough.apply(x, round_activation(x.detach(), bits))


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
