"""Triton quantized-linear kernels vs torch on gpt2-small's layer shapes: speedups and memory bandwidth.

For each linear shape of a gpt2-small block (in -> out: 768 -> 2304 qkv, 768 -> 768 attention output,
768 -> 3072 and 3072 -> 768 FFN) and each token count (1: decoding one token, 512: prefill), times with
``triton.testing.do_bench`` (median, L2 cache flushed before every run):

  fp16     torch ``F.linear`` on fp16 weights (cuBLAS): the baseline a quantized model has to beat
  deq+mm   torch: unpack and dequantize the integer weight to fp16, then ``F.linear`` (the torch backend)
  triton   :func:`supernas.models.kernels.quant_linear`: dequantization inside the matmul tiles

and prints the kernel's speedup over both, and its achieved bandwidth (weight, scale, input and output
bytes over its time) as a share of the GPU's peak DRAM bandwidth. Decoding is memory-bound: int4 weights
are a quarter of fp16's bytes, so ~4x over fp16 is the limit there (the target is >= 2.5x for W4).
Activations are fp16. Nothing is asserted; figures are printed.

    python benchmarks/quant_kernels.py [--bits 4 8] [--group-size 128] [--tokens 1 512]
                                       [--shape 4096 11008 ...]  (other layers instead of gpt2-small's)

gpt2-small's layers are small: an fp16 768x768 weight streams from HBM in well under a microsecond, so
at M=1 a kernel's fixed latency weighs as much as its traffic; ``--shape`` shows larger layers.

Needs a CUDA GPU; without one it says so and exits 0 (the kernels' correctness is tested on the CPU in
Triton's interpreter by tests/models/test_kernels.py).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable

import torch
import torch.nn.functional as F

from supernas.models.quant import dequantize, pack_int4, quantize_weight, unpack_int4
from supernas.spaces.analytic import scale_columns

GPT2_SMALL = {"qkv": (768, 2304), "attn out": (768, 768), "fc1": (768, 3072), "fc2": (3072, 768)}  # (in, out)


def bench(fn: Callable[[], object]) -> float:
    """Median milliseconds per call."""
    import triton.testing

    fn()  # compile / autotune outside the timing
    return triton.testing.do_bench(fn, warmup=25, rep=200, return_mode="median")


def compare(in_f: int, out_f: int, tokens: int, bits: int, group_size: int | None) -> dict[str, float]:
    """Times of the three ways to compute one quantized linear layer, and the kernel's traffic and error."""
    from supernas.models.kernels import quant_linear

    g = torch.Generator().manual_seed(0)
    w = torch.randn(out_f, in_f, generator=g) * 0.02
    q = quantize_weight(w, bits, group_size)
    packed = (q.values if bits == 8 else pack_int4(q.values)).cuda()
    scale, w16 = q.scale.cuda(), w.half().cuda()
    x = torch.randn(tokens, in_f, generator=g).half().cuda()

    def torch_deq_mm() -> torch.Tensor:
        values = packed if bits == 8 else unpack_int4(packed, in_f)
        return F.linear(x, dequantize(values, scale, group_size).half())

    def kernel() -> torch.Tensor:
        return quant_linear(x, packed, scale, None, bits, in_f, group_size)

    times = {"fp16": bench(lambda: F.linear(x, w16)), "deq+mm": bench(torch_deq_mm), "triton": bench(kernel)}
    reference = torch_deq_mm().float()
    moved = packed.numel() + 4 * out_f * scale_columns(in_f, group_size) + 2 * tokens * (in_f + out_f)
    error = ((kernel().float() - reference).abs().max() / reference.abs().max()).item()
    return {**times, "bytes": moved, "rel_error": error}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bits", type=int, nargs="+", default=[4, 8], choices=[4, 8])
    parser.add_argument(
        "--group-size", type=int, default=None, help="scales per this many input columns (default: per row)"
    )
    parser.add_argument(
        "--tokens", type=int, nargs="+", default=[1, 512], help="rows of the input (1 = decode)"
    )
    parser.add_argument(
        "--shape",
        type=int,
        nargs=2,
        action="append",
        metavar=("IN", "OUT"),
        help="a layer to time (repeatable)",
    )
    parser.add_argument(
        "--peak-gbps", type=float, default=None, help="peak DRAM bandwidth (default: from the driver)"
    )
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print(
            "benchmarks/quant_kernels.py needs a CUDA GPU and found none; the kernels' correctness is tested "
            "on the CPU in Triton's interpreter: python -m pytest tests/models/test_kernels.py"
        )
        return 0
    import triton.testing

    peak = args.peak_gbps or triton.testing.get_dram_gbps()
    group = f"group {args.group_size}" if args.group_size else "per-row scales"
    print(f"{torch.cuda.get_device_name()}, peak DRAM {peak:.0f} GB/s; fp16 activations; {group}")
    print(
        f"{'layer':<10}{'in x out':>12}{'M':>5}{'W':>4}{'fp16 us':>10}{'deq+mm us':>11}{'triton us':>11}"
        f"{'vs fp16':>9}{'vs deq+mm':>11}{'GB/s':>8}{'% peak':>8}{'rel err':>10}"
    )
    layers = {f"layer {i}": tuple(shape) for i, shape in enumerate(args.shape)} if args.shape else GPT2_SMALL
    decode_speedups: dict[int, list[float]] = {bits: [] for bits in args.bits}
    for bits in args.bits:
        for tokens in args.tokens:
            for name, (in_f, out_f) in layers.items():
                r = compare(in_f, out_f, tokens, bits, args.group_size)
                gbps = r["bytes"] / (r["triton"] * 1e-3) / 1e9
                vs_fp16 = r["fp16"] / r["triton"]
                if tokens == 1:
                    decode_speedups[bits].append(vs_fp16)
                print(
                    f"{name:<10}{f'{in_f}x{out_f}':>12}{tokens:>5}{bits:>4}{1e3 * r['fp16']:>10.1f}"
                    f"{1e3 * r['deq+mm']:>11.1f}{1e3 * r['triton']:>11.1f}{vs_fp16:>8.2f}x"
                    f"{r['deq+mm'] / r['triton']:>10.2f}x{gbps:>8.0f}{100 * gbps / peak:>7.1f}%"
                    f"{r['rel_error']:>10.1e}"
                )
    for bits, speedups in decode_speedups.items():
        if speedups:
            mean = math.exp(sum(map(math.log, speedups)) / len(speedups))
            print(
                f"W{bits} decode (M=1): geometric-mean speedup over fp16 {mean:.2f}x "
                f"(memory-bound limit ~{16 / bits:.0f}x)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
