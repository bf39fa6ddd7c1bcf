"""Quantization schemes as the ONNX Runtime kernels that run them compute, for search and for checkpoints.

Weights: symmetric, per output channel (one fp32 scale per row) or per block of input columns (scales of
shape (out, ceil(in / block)); the last block of a row whose width is not a multiple is shorter);
integers in [-(2^(b-1)-1), 2^(b-1)-1]. 4-bit weights are always blockwise (:func:`weight_block`).

A layer's :class:`Scheme` (weight bits, activation bits, block) says which kernel runs it, and its
activations are quantized as that kernel does (see :attr:`Scheme.kernel`):

- 8-bit weights per row, 8-bit activations: ``DynamicQuantizeLinear`` + ``MatMulInteger`` (fused by ONNX
  Runtime into ``DynamicQuantizeMatMul``). Activations are asymmetric uint8 per tensor, scale and zero
  point from the tensor's range at run time; the int32 accumulator is scaled by both scales.
- any other 4/8-bit weight: ``MatMulNBits``. With 8-bit activations (accuracy level 4) each token's
  activations are symmetric int8 per block of the weight's block, scale ``absmax / 127``; otherwise
  (accuracy level 1) the kernel computes in fp32 with the dequantized weight.
- 8-bit activations on a 16/32-bit weight: rounded through ``DynamicQuantizeLinear`` and
  ``DequantizeLinear``, then an fp32 ``MatMul`` (no integer kernel, no speed).
- 16-bit activations: rounded to fp16. 16-bit weights: fp16 storage, fp32 compute. 32: unquantized.

With integer products the supernet and a checkpoint compute in float64, where every product of codes and
scales is exact, so what a search scores is what the runtime's kernel computes, to fp32 rounding. The
supernet (fake-quant) and an extracted checkpoint (integers + scales) go through ``quantize_weight``,
so the weights a search scores are exactly the weights a checkpoint stores.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from supernas.spaces.analytic import weight_block

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


@dataclass(frozen=True)
class Scheme:
    """How one linear layer computes: its weight and activation bits and its weight's scale block."""

    weight_bits: int
    act_bits: int
    block: int | None = None  # input columns per weight scale; None: one per row

    @classmethod
    def of(cls, weight_bits: int, act_bits: int, group_size: int | None) -> Scheme:
        """The scheme of a layer in a space whose ``weight_group_size`` is ``group_size``."""
        return cls(weight_bits, act_bits, weight_block(weight_bits, group_size))

    @property
    def integer(self) -> bool:
        """Integer products of activation and weight codes (8-bit activations on an integer weight)."""
        return self.act_bits == 8 and self.weight_bits in (4, 8)

    @property
    def nbits(self) -> bool:
        """Runs as ``MatMulNBits``: every integer weight but per-row 8-bit weights under 8-bit activations.

        (ONNX Runtime would itself fuse a per-row 8-bit weight's ``DequantizeLinear`` + ``MatMul`` into a
        ``MatMulNBits`` that quantizes the activations, so fp32-compute layers name the kernel and its
        accuracy level in the file.)
        """
        return self.weight_bits in (4, 8) and not (self.integer and self.block is None)

    @property
    def kernel(self) -> str:
        """The ONNX Runtime operators that run this scheme, in words."""
        if self.nbits:
            compute = "int8 activations per token and block" if self.integer else "fp32 compute"
            blocks = "one block per row" if self.block is None else f"blocks of {self.block}"
            rounding = "fp16 Cast + " if self.act_bits == 16 else ""
            return f"{rounding}MatMulNBits ({self.weight_bits}-bit weights, {blocks}, {compute})"
        if self.integer:
            return (
                "DynamicQuantizeLinear + MatMulInteger (uint8 activations per tensor, int8 weights per row)"
            )
        rounding = {8: "DynamicQuantizeLinear + DequantizeLinear + ", 16: "fp16 Cast + ", 32: ""}[
            self.act_bits
        ]
        weight = {8: "DequantizeLinear + MatMul", 16: "Cast + MatMul", 32: "MatMul"}[self.weight_bits]
        return f"{rounding}{weight} (fp32 compute)"


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


def activation_codes(x: torch.Tensor, scheme: Scheme) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer codes (less the zero point, as float) and scales, broadcastable to ``x``, of 8-bit
    activations as ``scheme``'s kernel quantizes them: codes * scales is the value it multiplies."""
    if not scheme.nbits:  # DynamicQuantizeLinear: uint8 over the whole tensor, range widened to hold 0
        low, high = x.min().clamp(max=0), x.max().clamp(min=0)
        scale = torch.where(high > low, (high - low) / 255, torch.ones_like(high))
        zero = torch.round((-low / scale).clamp(0, 255))
        return (torch.round(x / scale) + zero).clamp(0, 255) - zero, scale
    block, width = scheme.block, x.shape[-1]  # MatMulNBits, accuracy 4: int8 per token and block
    blocks = F.pad(x, (0, -width % block)).unflatten(-1, (-1, block))
    scale = blocks.abs().amax(dim=-1, keepdim=True) / 127
    inverse = torch.where(scale > 0, 1 / scale, torch.zeros_like(scale))
    codes = torch.round(blocks * inverse).flatten(-2)[..., :width]
    return codes, scale.expand_as(blocks).flatten(-2)[..., :width]


def round_activation(x: torch.Tensor, scheme: Scheme) -> torch.Tensor:
    """The activation a layer of ``scheme`` multiplies (in fp32); plain tensor ops, no STE."""
    if scheme.act_bits == 32:
        return x
    if scheme.act_bits == 16:
        return x.half().float()
    codes, scale = activation_codes(x, scheme)
    return codes * scale


def fake_quant_activation(x: torch.Tensor, scheme: Scheme) -> torch.Tensor:
    if scheme.act_bits == 32:
        return x
    return _StraightThrough.apply(x, round_activation(x.detach(), scheme))


def integer_linear(
    x: torch.Tensor, weight: QuantizedWeight, bias: torch.Tensor | None, scheme: Scheme
) -> torch.Tensor:
    """``scheme``'s integer kernel (``scheme.integer``): codes times codes, scaled, computed in float64,
    where every product is exact, then rounded to fp32 once, as the kernel's int32 accumulator is.

    Layers call it without autograd (scoring, inference). Under autograd (training, gradient proxies)
    they compute in fp32 with straight-through rounding instead, equal to this to fp32 rounding.
    """
    codes, scale = activation_codes(x, scheme)
    w = weight.values.double() * expand_scale(
        weight.scale.double(), weight.group_size, weight.values.shape[1]
    )
    y = F.linear(codes.double() * scale.double(), w).float()
    return y if bias is None else y + bias


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
