"""Triton kernels for quantized linears: weights are dequantized inside the matmul tiles, never in memory.

:func:`quant_linear` computes ``fq(x) @ dequantize(W)^T + b`` for int8 weights or int4 weights packed two
per byte (byte j of a row: column 2j in the low nibble, 2j+1 in the high nibble, each offset by 8), with
fp32 scales per output row or per group of input columns. Each program loads integer weight tiles,
unpacks and scales them in registers and accumulates ``tl.dot`` in fp32, so a weight costs 1 (int8) or
0.5 (int4) bytes of memory traffic instead of 2 (fp16): the gain in memory-bound decoding. With 8-bit
activations the per-tensor fake-quant is fused too: a small reduction kernel finds max |x|, and the
matmul quantizes x as it loads its tiles.

Scales are applied where the arithmetic stays exact: per-row scales and the activation scale once per
output, after the K loop; group scales once per K tile when the tile lies inside one group, else per
weight element. When both operands are small integers they go to ``tl.dot`` as fp16 (exact, tensor
cores); otherwise in the input's dtype (fp32 at IEEE precision, as torch computes it).

Without CUDA, importing this module sets ``TRITON_INTERPRET=1`` (unless already set) before the kernels
are defined: they then run in Triton's interpreter on CPU tensors. That is the same program, only far
slower: for checking correctness, never for timing.
"""

from __future__ import annotations

import functools
import os

import torch

from supernas.core.errors import SpecError

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

import triton  # noqa: E402  (after choosing the interpreter, which triton reads when kernels are defined)
import triton.language as tl  # noqa: E402
from triton.runtime.interpreter import InterpretedFunction  # noqa: E402

if triton.knobs.runtime.interpret and not isinstance(tl.max, InterpretedFunction):
    # triton's own library functions were defined when it was first imported, before interpreter mode
    raise SpecError(
        "the triton backend without CUDA needs Triton's interpreter, but Triton was imported before it was "
        "chosen (torch.utils.flop_counter and torch.compile import it): "
        "set TRITON_INTERPRET=1 before starting Python"
    )

_ROUND = tl.constexpr(
    12582912.0
)  # 1.5 * 2**23: (v + _ROUND) - _ROUND rounds fp32 |v| < 2**22 half to even, as torch.round


@triton.jit
def _absmax_kernel(x_ptr, out_ptr, numel, BLOCK: tl.constexpr):
    """max |x| over a contiguous tensor into out_ptr[0] (which starts at 0)."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs, mask=offs < numel, other=0.0)
    tl.atomic_max(out_ptr, tl.max(tl.abs(x.to(tl.float32)), axis=0))


@triton.jit
def _quant_matmul_kernel(
    x_ptr,
    w_ptr,
    s_ptr,
    b_ptr,
    y_ptr,
    absmax_ptr,
    M,
    N,
    K,
    stride_xm,
    stride_xk,
    stride_wn,
    stride_wk,
    stride_sn,
    stride_sg,
    stride_ym,
    stride_yn,
    BITS: tl.constexpr,  # 8: int8 (N, K); 4: packed uint8 (N, ceil(K / 2))
    GROUP: tl.constexpr,  # 0: scales (N, 1); g: scales (N, ceil(K / g))
    ACT_QMAX: tl.constexpr,  # 0: x as given; q: fake-quant x to [-q, q] with scale max|x| / q
    HAS_BIAS: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    TILE_SCALE: tl.constexpr = GROUP > 0 and GROUP % BLOCK_K == 0  # one group scale per (row, K tile)
    INT_DOT: tl.constexpr = ACT_QMAX > 0 and (GROUP == 0 or TILE_SCALE)  # both operands integers
    FP32_DOT: tl.constexpr = not INT_DOT and x_ptr.dtype.element_ty == tl.float32
    offs_m = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    m_ok, n_ok = offs_m < M, offs_n < N
    if (
        ACT_QMAX > 0
    ):  # scale max|x| / q, divisions IEEE-rounded as torch's (tl.math.div_rn does not broadcast)
        amax = tl.load(absmax_ptr + tl.zeros((BLOCK_M,), dtype=tl.int32))
        a_scale = tl.maximum(tl.math.div_rn(amax, tl.full((BLOCK_M,), ACT_QMAX, tl.float32)), 1e-12)
        a_scale_tile = tl.broadcast_to(a_scale[:, None], (BLOCK_M, BLOCK_K))
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        offs_k = k0 + tl.arange(0, BLOCK_K)
        k_ok = offs_k < K
        a = tl.load(
            x_ptr + offs_m[:, None] * stride_xm + offs_k[None, :] * stride_xk,
            mask=m_ok[:, None] & k_ok[None, :],
            other=0.0,
        )
        if ACT_QMAX > 0:
            a = (tl.math.div_rn(a.to(tl.float32), a_scale_tile) + _ROUND) - _ROUND
            a = tl.minimum(tl.maximum(a, -ACT_QMAX), ACT_QMAX)
        if BITS == 8:
            w = tl.load(
                w_ptr + offs_n[:, None] * stride_wn + offs_k[None, :] * stride_wk,
                mask=n_ok[:, None] & k_ok[None, :],
                other=0,
            )
        else:
            offs_b = k0 // 2 + tl.arange(0, BLOCK_K // 2)
            b_ok = n_ok[:, None] & (offs_b[None, :] < (K + 1) // 2)
            packed = tl.load(
                w_ptr + offs_n[:, None] * stride_wn + offs_b[None, :] * stride_wk, mask=b_ok, other=0x88
            )
            w = tl.interleave(
                (packed & 0xF).to(tl.int8) - 8, (packed >> 4).to(tl.int8) - 8
            )  # (BLOCK_N, BLOCK_K)
        if GROUP > 0 and not TILE_SCALE:
            groups = offs_k[None, :] // GROUP
            s = tl.load(
                s_ptr + offs_n[:, None] * stride_sn + groups * stride_sg,
                mask=n_ok[:, None] & k_ok[None, :],
                other=0.0,
            )
            w = w.to(tl.float32) * s.to(tl.float32)
        if INT_DOT:
            a, w = a.to(tl.float16), w.to(tl.float16)
        else:
            a, w = a.to(x_ptr.dtype.element_ty), w.to(x_ptr.dtype.element_ty)
        if FP32_DOT:
            part = tl.dot(a, tl.trans(w), input_precision="ieee")
        else:
            part = tl.dot(a, tl.trans(w))
        if TILE_SCALE:
            s = tl.load(s_ptr + offs_n * stride_sn + (k0 // GROUP) * stride_sg, mask=n_ok, other=0.0)
            part = part * s.to(tl.float32)[None, :]
        acc += part
    if GROUP == 0:
        acc = acc * tl.load(s_ptr + offs_n * stride_sn, mask=n_ok, other=0.0).to(tl.float32)[None, :]
    if ACT_QMAX > 0:
        acc = acc * a_scale[:, None]
    if HAS_BIAS:
        acc = acc + tl.load(b_ptr + offs_n, mask=n_ok, other=0.0).to(tl.float32)[None, :]
    y = y_ptr + offs_m[:, None] * stride_ym + offs_n[None, :] * stride_yn
    tl.store(y, acc.to(y_ptr.dtype.element_ty), mask=m_ok[:, None] & n_ok[None, :])


INTERPRETED = isinstance(_quant_matmul_kernel, InterpretedFunction)
_KEY = ["N", "K", "BITS", "GROUP", "ACT_QMAX"]


def _configs(shapes: list[tuple[int, int, int, int, int]]) -> list[triton.Config]:
    return [
        triton.Config({"BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk}, num_warps=warps, num_stages=stages)
        for bm, bn, bk, warps, stages in shapes
    ]


@functools.cache
def _tuned(decode: bool):
    """The matmul autotuned over tile shapes on the GPU: narrow-N, deep-K tiles for M <= 16, square ones
    above."""
    if decode:  # weight tiles of at most 8192 values keep the pipelined buffers within Hopper's shared memory
        shapes = [
            (16, bn, bk, 4, s)
            for bn in (16, 32, 64, 128)
            for bk in (64, 128, 256)
            for s in (3, 4)
            if bn * bk <= 8192
        ]
    else:
        shapes = [(64, 64, 64, 4, 4), (64, 128, 64, 4, 4), (128, 64, 64, 4, 4), (128, 128, 64, 8, 3),
                  (128, 256, 64, 8, 3), (64, 64, 128, 4, 3), (128, 128, 32, 4, 4)]  # fmt: skip
    return triton.autotune(configs=_configs(shapes), key=_KEY)(_quant_matmul_kernel)


def _interpreter_blocks(m: int) -> dict[str, int]:
    """Few, large programs: the interpreter runs the grid one program at a time."""
    return {"BLOCK_M": min(64, max(16, triton.next_power_of_2(m))), "BLOCK_N": 64, "BLOCK_K": 32}


def absmax(x: torch.Tensor) -> torch.Tensor:
    """max |x| over a contiguous tensor, as a 1-element fp32 tensor on x's device."""
    out = torch.zeros(1, dtype=torch.float32, device=x.device)
    block = 1024
    _absmax_kernel[(triton.cdiv(x.numel(), block),)](x, out, x.numel(), BLOCK=block)
    return out


def quant_linear(
    x: torch.Tensor,
    qweight: torch.Tensor,
    scale: torch.Tensor,
    bias: torch.Tensor | None,
    bits: int,
    in_features: int,
    group_size: int | None = None,
    act_qmax: int | None = None,
) -> torch.Tensor:
    """``F.linear(fq(x), dequantize(W), bias)`` in one kernel; x (..., in_features) -> (..., out), x's dtype.

    ``qweight``: int8 (out, in) for ``bits`` 8, packed uint8 (out, ceil(in / 2)) for 4. ``scale``: fp32
    (out, 1), or (out, ceil(in / group_size)) with a group size. ``act_qmax``: fake-quantize x per tensor
    to integers in [-act_qmax, act_qmax] first (127 for 8-bit activations); None leaves x as it is.
    """
    if x.device.type != "cuda" and not INTERPRETED:
        raise SpecError(
            f"backend 'triton' needs CUDA tensors here (got {x.device.type}); "
            "CPU tensors run only in Triton's interpreter, "
            "which is used when no CUDA device is present or TRITON_INTERPRET=1 is set before import"
        )
    x2 = x.reshape(-1, in_features).contiguous()
    m, n = x2.shape[0], qweight.shape[0]
    y = torch.empty(m, n, dtype=x.dtype, device=x.device)
    if m == 0:
        return y.view(*x.shape[:-1], n)
    amax = absmax(x2) if act_qmax else y
    args = (
        x2,
        qweight,
        scale,
        bias if bias is not None else y,
        y,
        amax,
        m,
        n,
        in_features,
        *x2.stride(),
        *qweight.stride(),
        *scale.stride(),
        *y.stride(),
    )
    meta = {"BITS": bits, "GROUP": group_size or 0, "ACT_QMAX": act_qmax or 0, "HAS_BIAS": bias is not None}
    if INTERPRETED:
        blocks = _interpreter_blocks(m)
        grid = (triton.cdiv(m, blocks["BLOCK_M"]), triton.cdiv(n, blocks["BLOCK_N"]))
        _quant_matmul_kernel[grid](*args, **meta, **blocks)
    else:
        kernel = _tuned(m <= 16)
        kernel[lambda c: (triton.cdiv(m, c["BLOCK_M"]), triton.cdiv(n, c["BLOCK_N"]))](*args, **meta)
    return y.view(*x.shape[:-1], n)
