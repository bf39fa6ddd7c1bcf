"""ONNX export checked by ONNX Runtime: the same outputs as the torch subnet, integer weights in the file."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto

from supernas.export.onnx import (
    OPSET,
    example_inputs,
    module_to_onnx,
    runtime_session,
    to_onnx,
    torch_outputs,
)
from supernas.models.checkpoint import extract, save_subnet
from supernas.models.dense import QuantLinear
from supernas.models.supernet import Supernet
from supernas.spaces.architecture import Architecture, sample_many
from supernas.spaces.spec import SpaceSpec, builtin_names, load_spec

ARCHS_PER_SPACE = 20


def full_precision_activations(spec: SpaceSpec, weight_bits: list[int] | None = None) -> SpaceSpec:
    """Every weight policy, activations unrounded: what a test of something else than activation
    rounding compares, since rounding an activation is discontinuous (a 1e-7 difference in a runtime's
    accumulation order can move a value by a whole step)."""
    if weight_bits is None:
        weight_bits = [4, 8, 16, 32]
    return spec.model_copy(
        update={"layer": spec.layer.model_copy(update=dict(weight_bits=weight_bits, act_bits=[32]))}
    )


def agreement(model, onnx_bytes: bytes, batch: int, seq: int) -> tuple[float, float]:
    """The lowest cosine between the runtime's and torch's outputs for one example, and the largest
    difference as a fraction of torch's output range, over every output."""
    inputs = example_inputs(model.spec, batch, seq, seed=7)  # another shape than the traced one: dynamic axes
    theirs = runtime_session(onnx_bytes).run(None, inputs)
    cosine, relative = 1.0, 0.0
    for a, b in zip(theirs, torch_outputs(model, inputs)):
        a2, b2 = (v.reshape(v.shape[0], -1).astype(np.float64) for v in (a, b))
        rows = (a2 * b2).sum(1) / np.linalg.norm(a2, axis=1) / np.linalg.norm(b2, axis=1)
        cosine = min(cosine, float(rows.min()))
        relative = max(relative, float(np.abs(a - b).max() / (b.max() - b.min())))
    return cosine, relative


def max_difference(model, onnx_bytes: bytes, batch: int, seq: int) -> float:
    inputs = example_inputs(model.spec, batch, seq, seed=7)
    theirs = runtime_session(onnx_bytes).run(None, inputs)
    return max(float(np.abs(a - b).max()) for a, b in zip(theirs, torch_outputs(model, inputs)))


# Random subnets of each space with every scheme mixed: (lowest cosine per example, largest difference as
# a fraction of the output range). Rounding an activation to 8 or 16 bits is discontinuous, so where the
# runtime's fp32 accumulation order differs from torch's by 1e-7 a code can land one step away, and an
# untrained deep subnet amplifies the step; the kernels themselves agree to fp32 rounding
# (test_every_scheme_runs_as_its_kernel).
BOUNDS = {
    "bert-mini": (0.9999, 1e-3),
    "gpt-tiny": (0.9999, 5e-3),  # measured 0.99998 and 2.8e-3
    "gpt2-small": (0.9999, 1e-2),  # measured 0.99997 and 4.3e-3
    "vit-tiny": (0.95, 0.15),  # measured 0.963 and 0.106; torch against itself, input nudged by 1e-7: 7e-3
    "speech-tiny": (0.9999, 1e-3),  # measured 1 - 1e-10 and 6e-6
    "hubert-base": (0.9999, 5e-3),  # measured 0.99998 and 3.3e-3
}


def test_every_builtin_space_is_compared():
    assert set(BOUNDS) == set(builtin_names())


@pytest.mark.parametrize("space", sorted(BOUNDS))
def test_onnx_runtime_equals_torch_subnet(space):
    spec = load_spec(space)
    assert spec.layer.act_bits[0] == 8  # the space's own schemes, 8-bit activations included
    supernet = Supernet(spec, seed=1)
    archs = sample_many(spec, ARCHS_PER_SPACE, seed=3)
    seen = Counter(layer.attention for arch in archs for layer in arch.layers)
    assert set(seen) == set(spec.layer.attention)  # every attention type the space offers is exported
    schemes = Counter((layer.weight_bits, layer.act_bits) for arch in archs for layer in arch.layers)
    assert len(schemes) == len(spec.layer.weight_bits) * len(spec.layer.act_bits)
    if max(spec.layer.experts) > 1:
        assert any(
            layer.experts > 1 and layer.top_k == k for arch in archs for layer in arch.layers for k in (1, 2)
        )
    least_cosine, most_relative = BOUNDS[space]
    for arch in archs:
        model = extract(supernet, arch)
        cosine, relative = agreement(model, to_onnx(model), batch=3, seq=11)
        assert cosine >= least_cosine and relative <= most_relative, (cosine, relative, arch)


def test_group_wise_scales_with_a_short_last_group():
    spec = full_precision_activations(load_spec("gpt-tiny"), [4, 8]).model_copy(
        update={"weight_group_size": 64}
    )
    supernet = Supernet(spec, seed=0)
    for arch in sample_many(
        spec, 4, seed=0
    ):  # widths 64/96/128 and 128..512: rows of 96 end in a short group
        model = extract(supernet, arch)
        assert max_difference(model, to_onnx(model), batch=2, seq=9) < 1e-4


FUSED = {  # what ONNX Runtime's optimized graph runs each (weight bits, activation bits) scheme with
    (8, 8): "DynamicQuantizeMatMul",
    (4, 8): "MatMulNBits",
    (4, 16): "MatMulNBits",
    (4, 32): "MatMulNBits",
    (8, 16): "MatMulNBits",
    (8, 32): "MatMulNBits",
    (16, 8): "MatMul",
    (16, 16): "MatMul",
    (16, 32): "MatMul",
    (32, 8): "MatMul",
    (32, 16): "MatMul",
    (32, 32): "MatMul",
}


def optimized_operators(proto, path) -> list[tuple[str, int | None]]:
    """The operators of ONNX Runtime's optimized graph, each with its accuracy level where it has one."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.optimized_model_filepath = str(path)
    options.log_severity_level = 3
    ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    levels = lambda node: next((a.i for a in node.attribute if a.name == "accuracy_level"), None)  # noqa: E731
    return [(node.op_type, levels(node)) for node in onnx.load(str(path)).graph.node]


@pytest.mark.parametrize("weight_bits, act_bits", sorted(FUSED))
def test_every_scheme_runs_as_its_kernel(weight_bits, act_bits, tmp_path):
    """One layer of each scheme: the runtime's optimized graph runs it on the named kernel (integer
    kernels for 8-bit activations on integer weights, never a silent float fallback), and computes what
    the layer computes in torch, to fp32 rounding where no activation is rounded to 16 bits."""
    torch.manual_seed(0)
    layer = QuantLinear(200, 48, True, weight_bits, act_bits)
    layer.load_dense(torch.randn(48, 200), torch.randn(48))
    x = torch.randn(3, 7, 200) + 0.5
    proto = module_to_onnx(layer, {"x": x}, ["y"], {"x": {0: "batch", 1: "sequence"}})
    operators = optimized_operators(proto, tmp_path / "optimized.onnx")
    kernel = FUSED[weight_bits, act_bits]
    assert kernel in [op for op, _ in operators]
    if kernel == "MatMulNBits":
        assert dict(operators)["MatMulNBits"] == (4 if act_bits == 8 else 1)
    if act_bits == 8 and weight_bits in (4, 8):
        assert "MatMul" not in [op for op, _ in operators]
    (y,) = runtime_session(proto.SerializeToString()).run(None, {"x": x.numpy()})
    with torch.no_grad():
        expected = layer(x).numpy()
    tolerance = 1e-3 if act_bits == 16 else 1e-6  # a 16-bit rounding can land one fp16 step away
    assert np.abs(y - expected).max() <= tolerance * (expected.max() - expected.min())


def _uniform_arch(spec: SpaceSpec, weight_bits: int) -> Architecture:
    layer = {"attention": "mha", "heads": 8, "ffn_dim": 512, "weight_bits": weight_bits, "act_bits": 32}
    return Architecture(space=spec.name, embed_dim=128, layers=[layer] * 4)


def test_file_keeps_the_quantization_policy():
    """Integer weights are UINT8 codes of MatMulNBits (two per byte at 4 bits) with fp32 scales, 16-bit
    weights FLOAT16; the file is as large as the checkpoint's tensors (rows of 128 and 512 columns need
    no padding to whole blocks)."""
    spec = full_precision_activations(load_spec("gpt-tiny"))
    supernet = Supernet(spec, seed=0)
    sizes = {}
    for bits in (32, 16, 8, 4):
        model = extract(supernet, _uniform_arch(spec, bits))
        data = to_onnx(model)
        sizes[bits] = len(data)
        proto = onnx.load_from_string(data)
        names = {f"model.{n}.weight" for n, m in model.named_modules() if isinstance(m, QuantLinear)}
        weights = [t for t in proto.graph.initializer if t.name in names]
        expected = {
            32: TensorProto.FLOAT,
            16: TensorProto.FLOAT16,
            8: TensorProto.UINT8,
            4: TensorProto.UINT8,
        }
        assert Counter(t.data_type for t in weights)[expected[bits]] == 4 * 6  # q, k, v, o, fc1, fc2
        nbits = sum(node.op_type == "MatMulNBits" for node in proto.graph.node)
        assert nbits == (24 if bits in (4, 8) else 0)
        state = model.state_dict()
        linears = [m for m in model.modules() if isinstance(m, QuantLinear)]
        stored = sum(
            t.numel() * t.element_size()
            for m in linears
            for name, t in m.state_dict().items()
            if name != "bias"
        )
        in_file = sum(len(t.raw_data) for t in weights) + sum(
            len(t.raw_data) for t in proto.graph.initializer if t.name[: -len("scale")] + "weight" in names
        )
        assert in_file == stored, (
            bits,
            in_file,
            stored,
        )  # the linears' weights as the checkpoint stores them
        assert len(data) < 1.1 * sum(
            v.numel() * v.element_size() for v in state.values()
        )  # graph and metadata on top
    # the linears hold 4 * (4 * 128 * 128 + 2 * 128 * 512) = 786,432 weights; embeddings stay fp32;
    # 8-bit rows have one scale each, 4-bit rows one per 32 columns
    rows = 4 * (4 * 128 + 512 + 128)
    assert sizes[32] - sizes[16] == pytest.approx(786_432 * 2, rel=0.02)
    assert sizes[16] - sizes[8] == pytest.approx(786_432 * 1 - 4 * rows, rel=0.02)
    assert sizes[8] - sizes[4] == pytest.approx(786_432 / 2 + 4 * rows - 4 * 786_432 / 32, rel=0.02)


def test_metadata_names_the_subnet(tmp_path):
    spec = load_spec("gpt-tiny")
    arch = sample_many(spec, 1, seed=4)[0]
    proto = onnx.load_from_string(to_onnx(extract(Supernet(spec, seed=0), arch)))
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["arch_id"] == arch.arch_id and meta["space"] == "gpt-tiny"
    assert Architecture.model_validate_json(meta["architecture"]) == arch
    assert SpaceSpec.model_validate(json.loads(meta["space_spec"])) == spec
    assert meta["weights"] == "random initialisation, seed 0"
    assert {o.domain: o.version for o in proto.opset_import}[""] == OPSET
    assert [i.name for i in proto.graph.input] == ["input_ids"]


def test_encoder_graph_signature_and_padding():
    spec = full_precision_activations(load_spec("bert-mini"))
    model = extract(Supernet(spec, seed=0), sample_many(spec, 1, seed=1)[0])
    session = runtime_session(to_onnx(model))
    assert [i.name for i in session.get_inputs()] == ["input_ids", "attention_mask", "token_type_ids"]
    assert [o.name for o in session.get_outputs()] == ["logits", "last_hidden_state"]
    inputs = example_inputs(spec, 2, 12, seed=0)
    logits, hidden = session.run(None, inputs)
    ids, mask, types = (
        torch.from_numpy(inputs[k]) for k in ("input_ids", "attention_mask", "token_type_ids")
    )
    with torch.no_grad():
        assert np.abs(hidden - model.encode(ids, mask > 0, types).numpy()).max() < 1e-4
        assert np.abs(logits - model(ids, mask > 0, types).numpy()).max() < 1e-4
    unpadded = dict(inputs, attention_mask=np.ones_like(inputs["attention_mask"]))
    assert np.abs(session.run(None, unpadded)[0] - logits).max() > 1e-3  # the mask reaches the graph


def test_saved_checkpoint_exports_the_same_model(tmp_path):
    """Exporting a reloaded checkpoint gives the graph of the supernet's subnet (outputs equal)."""
    from supernas.export.exporters import export_checkpoint

    spec = load_spec("vit-tiny")
    model = extract(Supernet(spec, seed=0), sample_many(spec, 1, seed=2)[0])
    save_subnet(model, tmp_path / "ckpt")
    result = export_checkpoint(tmp_path / "ckpt", tmp_path / "onnx", "onnx")
    assert sorted(p.name for p in result.directory.iterdir()) == ["model.onnx"]
    inputs = example_inputs(spec, 2, seed=5)
    ours = runtime_session(tmp_path / "onnx" / "model.onnx").run(None, inputs)[0]
    direct = runtime_session(to_onnx(model)).run(None, inputs)[0]
    assert np.array_equal(ours, direct)
