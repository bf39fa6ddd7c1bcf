"""Triton kernels for quantized linears: weights are dequantized inside the matmul tiles, never in memory.

:func:`quant_linear` computes ``x @ dequantize(W)^T + b`` for int8 weights or int4 weights packed two
per byte (byte j of a row: column 2j in the low nibble, 2j+1 in the high nibble, each offset by 8), with
fp32 scales per output row or per group of input columns. Each program loads integer weight tiles,
unpacks and scales them in registers and accumulates ``tl.dot`` in fp32, so a weight costs 1 (int8) or
0.5 (int4) bytes of memory traffic instead of 2 (fp16): the gain in memory-bound decoding. A layer with
8-bit activations rounds them first, as its scheme says (:mod:`supernas.models.quant`), in torch.

Scales are applied where the arithmetic stays exact: per-row scales once per output, after the K loop;
group scales once per K tile when the tile lies inside one group, else per weight element. ``tl.dot``
runs in the input's dtype (fp32 at IEEE precision, as torch computes it).

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


@triton.jit
def _quant_matmul_kernel(
    x_ptr,
    w_ptr,
    s_ptr,
    b_ptr,
    y_ptr,
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
    HAS_BIAS: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    TILE_SCALE: tl.constexpr = GROUP > 0 and GROUP % BLOCK_K == 0  # one group scale per (row, K tile)
    FP32_DOT: tl.constexpr = x_ptr.dtype.element_ty == tl.float32
    offs_m = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    m_ok, n_ok = offs_m < M, offs_n < N
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        offs_k = k0 + tl.arange(0, BLOCK_K)
        k_ok = offs_k < K
        a = tl.load(
            x_ptr + offs_m[:, None] * stride_xm + offs_k[None, :] * stride_xk,
            mask=m_ok[:, None] & k_ok[None, :],
            other=0.0,
        )
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
    if HAS_BIAS:
        acc = acc + tl.load(b_ptr + offs_n, mask=n_ok, other=0.0).to(tl.float32)[None, :]
    y = y_ptr + offs_m[:, None] * stride_ym + offs_n[None, :] * stride_yn
    tl.store(y, acc.to(y_ptr.dtype.element_ty), mask=m_ok[:, None] & n_ok[None, :])


INTERPRETED = isinstance(_quant_matmul_kernel, InterpretedFunction)
_KEY = ["N", "K", "BITS", "GROUP"]


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


def quant_linear(
    x: torch.Tensor,
    qweight: torch.Tensor,
    scale: torch.Tensor,
    bias: torch.Tensor | None,
    bits: int,
    in_features: int,
    group_size: int | None = None,
) -> torch.Tensor:
    """``F.linear(x, dequantize(W), bias)`` in one kernel; x (..., in_features) -> (..., out), x's dtype.

    ``qweight``: int8 (out, in) for ``bits`` 8, packed uint8 (out, ceil(in / 2)) for 4. ``scale``: fp32
    (out, 1), or (out, ceil(in / group_size)) with a group size. A layer with 8-bit activations passes
    them already rounded as its scheme says (:func:`supernas.models.quant.round_activation`).
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
    args = (
        x2,
        qweight,
        scale,
        bias if bias is not None else y,
        y,
        m,
        n,
        in_features,
        *x2.stride(),
        *qweight.stride(),
        *scale.stride(),
        *y.stride(),
    )
    meta = {"BITS": bits, "GROUP": group_size or 0, "HAS_BIAS": bias is not None}
    if INTERPRETED:
        blocks = _interpreter_blocks(m)
        grid = (triton.cdiv(m, blocks["BLOCK_M"]), triton.cdiv(n, blocks["BLOCK_N"]))
        _quant_matmul_kernel[grid](*args, **meta, **blocks)
    else:
        kernel = _tuned(m <= 16)
        kernel[lambda c: (triton.cdiv(m, c["BLOCK_M"]), triton.cdiv(n, c["BLOCK_N"]))](*args, **meta)
    return y.view(*x.shape[:-1], n)
