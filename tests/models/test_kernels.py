"""Triton quantized-linear kernels against the torch reference (dequantize, then matmul).

Without CUDA the kernels run in Triton's interpreter on CPU tensors (slow: shapes stay small); with CUDA
the same tests run the compiled kernels.
"""

import json

import pytest
import torch
import torch.nn.functional as F

from supernas.core.errors import SpecError
from supernas.data.inputs import random_batch
from supernas.models.checkpoint import extract, load_subnet, save_subnet
from supernas.models.kernels import quant_linear
from supernas.models.quant import dequantize, pack_int4, quantize_weight, unpack_int4
from supernas.models.supernet import Supernet
from supernas.spaces.analytic import INT4_BLOCK, checkpoint_bytes
from supernas.spaces.architecture import parse_architecture
from supernas.spaces.spec import load_spec

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


@pytest.mark.parametrize("cols", [1, 2, 7, 64, 65])
def test_int4_pack_unpack_round_trips_exactly(cols):
    values = torch.randint(-8, 8, (5, cols), dtype=torch.int8, generator=torch.Generator().manual_seed(cols))
    values[0, :2] = torch.tensor([-8, 7][:cols], dtype=torch.int8)  # both ends of the range
    packed = pack_int4(values)
    assert packed.shape == (5, (cols + 1) // 2) and packed.dtype == torch.uint8
    assert torch.equal(unpack_int4(packed, cols), values)
    # Layout: byte j holds column 2j in its low nibble and column 2j+1 in its high nibble, offset by 8.
    assert torch.equal((packed & 0xF).to(torch.int8) - 8, values[:, 0::2])
    assert torch.equal((packed >> 4)[:, : cols // 2].to(torch.int8) - 8, values[:, 1::2])


@pytest.mark.parametrize("group_size", [16, 24, 7])
@pytest.mark.parametrize("bits", [4, 8])
def test_group_scales_are_per_row_scales_of_each_column_group(bits, group_size):
    w = torch.randn(6, 50, generator=torch.Generator().manual_seed(0))
    grouped = quantize_weight(w, bits, group_size)
    assert grouped.scale.shape == (6, -(-50 // group_size))
    pieces = [quantize_weight(w[:, i : i + group_size], bits) for i in range(0, 50, group_size)]
    assert torch.equal(grouped.values, torch.cat([p.values for p in pieces], dim=1))
    assert torch.equal(grouped.scale, torch.cat([p.scale for p in pieces], dim=1))
    expected = torch.cat([dequantize(p.values, p.scale) for p in pieces], dim=1)
    assert torch.equal(dequantize(grouped.values, grouped.scale, group_size), expected)


def reference(x, q, bias):
    """Dequantize the weight, F.linear, all in fp32."""
    return F.linear(x.float(), dequantize(q.values, q.scale, q.group_size), bias)


def run_kernel(x, q, bias):
    qweight = q.values if q.bits == 8 else pack_int4(q.values)
    device = x.device
    return quant_linear(
        x, qweight.to(device), q.scale.to(device), bias.to(device), q.bits, q.values.shape[1], q.group_size
    )


SHAPES = [  # x shape (batch 1 and > 1, odd dims), out features
    ((1, 40), 33),
    ((2, 3, 67), 70),
    ((20, 128), 96),
]


@pytest.mark.parametrize("group_size", [None, 16, 32, 24])
@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize("x_shape,out", SHAPES)
def test_kernel_equals_dequantize_then_matmul_fp32(x_shape, out, bits, group_size):
    g = torch.Generator().manual_seed(sum(x_shape) + out)
    w, x, bias = (
        torch.randn(out, x_shape[-1], generator=g),
        torch.randn(*x_shape, generator=g),
        torch.randn(out, generator=g),
    )
    q = quantize_weight(w, bits, group_size)
    y = run_kernel(x.to(DEVICE), q, bias)
    assert y.shape == (*x_shape[:-1], out) and y.dtype == torch.float32
    torch.testing.assert_close(y.cpu(), reference(x, q, bias), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("group_size", [None, 32])
@pytest.mark.parametrize("bits", [4, 8])
def test_kernel_equals_dequantize_then_matmul_fp16(bits, group_size):
    g = torch.Generator().manual_seed(1)
    w, x, bias = (
        torch.randn(48, 72, generator=g),
        torch.randn(5, 72, generator=g).half(),
        torch.randn(48, generator=g),
    )
    q = quantize_weight(w, bits, group_size)
    y = run_kernel(x.to(DEVICE), q, bias)
    assert y.dtype == torch.float16
    torch.testing.assert_close(y.float().cpu(), reference(x, q, bias), rtol=1e-2, atol=2e-2)


def mixed_policy_arch(spec):
    """A small gpt-tiny subnet whose layers are w4a8 and w8a8 (and one w16a8 left to torch)."""
    layers = [
        {"attention": "mha", "heads": 2, "ffn_dim": 128, "weight_bits": 4, "act_bits": 8},
        {
            "attention": "gqa",
            "heads": 4,
            "kv_heads": 2,
            "ffn_dim": 256,
            "experts": 2,
            "top_k": 1,
            "weight_bits": 8,
            "act_bits": 8,
        },
        {
            "attention": "sliding_window",
            "heads": 2,
            "window": 8,
            "ffn_dim": 128,
            "weight_bits": 16,
            "act_bits": 8,
        },
    ]
    return parse_architecture(spec, {"embed_dim": 64, "layers": layers})


@pytest.mark.parametrize("group_size", [None, 32])
def test_extracted_subnet_on_triton_equals_torch(tmp_path, group_size):
    spec = load_spec("gpt-tiny").model_copy(update={"weight_group_size": group_size})
    supernet, arch = Supernet(spec, seed=0).eval(), mixed_policy_arch(spec)
    batch = random_batch(spec, batch_size=2, seq_len=12, seed=0)
    with torch.no_grad(), supernet.active(arch):
        expected = supernet(batch.inputs)
    directory = save_subnet(extract(supernet, arch), tmp_path / "sub")
    torch_model = load_subnet(directory)
    triton_model = load_subnet(directory, backend="triton").to(DEVICE)
    with torch.no_grad():
        assert torch.equal(torch_model(batch.inputs), expected)  # group scales keep supernet == subnet exact
        got = triton_model(batch.inputs.to(DEVICE)).cpu()
    # every layer rounds its activations to 8 bits: the kernel's fp32 sums differ from torch's exact ones
    # by 1e-7, enough to move a code of the next layer one step (each kernel alone agrees to 1e-5, above)
    assert (got - expected).abs().max() <= 1e-2 * (expected.max() - expected.min())
    weights = directory / "model.safetensors"
    header = 8 + int.from_bytes(weights.read_bytes()[:8], "little")
    assert weights.stat().st_size - header == checkpoint_bytes(spec, arch)
    config = json.loads((directory / "config.json").read_text())
    blocks = [q["weight_group_size"] for q in config["quantization"]]
    assert blocks == [group_size or INT4_BLOCK, group_size, None]  # 4-bit weights are always blockwise


def test_checkpoints_without_group_size_still_load(tmp_path):
    """Checkpoints written before group scales existed have no weight_group_size anywhere."""
    spec = load_spec("gpt-tiny")
    supernet, arch = Supernet(spec, seed=0), mixed_policy_arch(spec)
    model = extract(supernet, arch)
    directory = save_subnet(model, tmp_path / "old")
    config = json.loads((directory / "config.json").read_text())
    del config["space"]["weight_group_size"]
    for layer in config["quantization"]:
        del layer["weight_group_size"]
    (directory / "config.json").write_text(json.dumps(config))
    batch = random_batch(spec, batch_size=1, seq_len=8, seed=0)
    with torch.no_grad():
        assert torch.equal(load_subnet(directory)(batch.inputs), model(batch.inputs))


def test_unknown_backend_is_a_clear_error(tmp_path):
    spec = load_spec("gpt-tiny")
    directory = save_subnet(extract(Supernet(spec), mixed_policy_arch(spec)), tmp_path / "sub")
    with pytest.raises(SpecError, match=r"^unknown backend 'bogus' \(allowed: torch, triton\)$"):
        load_subnet(directory, backend="bogus")
