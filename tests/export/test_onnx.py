"""ONNX export checked by ONNX Runtime: the same outputs as the torch subnet, integer weights in the file."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto

from supernas.export.onnx import example_inputs, module_to_onnx, runtime_session, to_onnx, torch_outputs
from supernas.models.checkpoint import extract, save_subnet
from supernas.models.dense import QuantLinear
from supernas.models.supernet import Supernet
from supernas.spaces.architecture import Architecture, sample_many
from supernas.spaces.spec import SpaceSpec, load_spec

ARCHS_PER_SPACE = 20


def full_precision_activations(spec: SpaceSpec, weight_bits: list[int] | None = None) -> SpaceSpec:
    """Every weight policy, activations unrounded: rounding an activation per tensor is discontinuous,
    so a 1e-7 difference in a runtime's accumulation order can move a value by a whole step."""
    if weight_bits is None:
        weight_bits = [4, 8, 16, 32]
    return spec.model_copy(
        update={"layer": spec.layer.model_copy(update=dict(weight_bits=weight_bits, act_bits=[32]))}
    )


def max_difference(model, onnx_bytes: bytes, batch: int, seq: int) -> float:
    inputs = example_inputs(model.spec, batch, seq, seed=7)  # another shape than the traced one: dynamic axes
    theirs = runtime_session(onnx_bytes).run(None, inputs)
    return max(float(np.abs(a - b).max()) for a, b in zip(theirs, torch_outputs(model, inputs)))


@pytest.mark.parametrize("space", ["gpt-tiny", "bert-mini", "vit-tiny", "gpt2-small"])
def test_onnx_runtime_equals_torch_subnet(space):
    spec = full_precision_activations(load_spec(space))
    supernet = Supernet(spec, seed=1)
    archs = sample_many(spec, ARCHS_PER_SPACE, seed=3)
    seen = Counter(layer.attention for arch in archs for layer in arch.layers)
    assert set(seen) == set(
        spec.layer.attention
    )  # every attention type the space offers is exported somewhere
    if max(spec.layer.experts) > 1:
        assert any(
            layer.experts > 1 and layer.top_k == k for arch in archs for layer in arch.layers for k in (1, 2)
        )
    for arch in archs:
        model = extract(supernet, arch)
        assert max_difference(model, to_onnx(model), batch=3, seq=11) < 1e-4, arch


def test_group_wise_scales_with_a_short_last_group():
    spec = full_precision_activations(load_spec("gpt-tiny"), [4, 8]).model_copy(
        update={"weight_group_size": 48}
    )
    supernet = Supernet(spec, seed=0)
    for arch in sample_many(spec, 4, seed=0):  # widths 64/96/128 and 128..512: most rows end in a short group
        model = extract(supernet, arch)
        assert max_difference(model, to_onnx(model), batch=2, seq=9) < 1e-4


@pytest.mark.parametrize("bits", [8, 16])
def test_activation_rounding_is_exported_exactly(bits):
    """On the same input, a layer that rounds activations rounds them as torch does."""
    torch.manual_seed(0)
    layer = QuantLinear(40, 24, True, 8, bits)
    layer.load_dense(torch.randn(24, 40), torch.randn(24))
    x = torch.randn(3, 7, 40)
    proto = module_to_onnx(layer, {"x": x}, ["y"], {"x": {0: "batch", 1: "sequence"}})
    (y,) = runtime_session(proto.SerializeToString()).run(None, {"x": x.numpy()})
    with torch.no_grad():
        expected = layer(x).numpy()
    assert np.abs(y - expected).max() < 1e-5
    assert any(node.op_type == "Round" for node in proto.graph.node) == (bits == 8)


def _uniform_arch(spec: SpaceSpec, weight_bits: int) -> Architecture:
    layer = {"attention": "mha", "heads": 8, "ffn_dim": 512, "weight_bits": weight_bits, "act_bits": 32}
    return Architecture(space=spec.name, embed_dim=128, layers=[layer] * 4)


def test_file_keeps_the_quantization_policy():
    """Integer weights are INT8/INT4 initializers; the file is as large as the checkpoint's tensors."""
    spec = full_precision_activations(load_spec("gpt-tiny"))
    supernet = Supernet(spec, seed=0)
    sizes = {}
    for bits in (32, 16, 8, 4):
        model = extract(supernet, _uniform_arch(spec, bits))
        data = to_onnx(model)
        sizes[bits] = len(data)
        proto = onnx.load_from_string(data)
        types = Counter(
            t.data_type
            for t in proto.graph.initializer
            if "weight_t" in t.name and not t.name.endswith("_scale")
        )
        expected = {32: TensorProto.FLOAT, 16: TensorProto.FLOAT16, 8: TensorProto.INT8, 4: TensorProto.INT4}[
            bits
        ]
        assert types[expected] == 4 * 6  # q, k, v, o, fc1, fc2 per layer
        dequantize = sum(node.op_type == "DequantizeLinear" for node in proto.graph.node)
        assert dequantize == (24 if bits in (4, 8) else 0)
        state = model.state_dict()
        linears = [m for m in model.modules() if isinstance(m, QuantLinear)]
        stored = sum(
            t.numel() * t.element_size()
            for m in linears
            for name, t in m.state_dict().items()
            if name != "bias"
        )
        in_file = sum(len(t.raw_data) for t in proto.graph.initializer if "weight_t" in t.name)
        assert in_file == stored, (
            bits,
            in_file,
            stored,
        )  # the linears' weights as the checkpoint stores them
        assert len(data) < 1.1 * sum(
            v.numel() * v.element_size() for v in state.values()
        )  # graph and metadata on top
    # the linears hold 4 * (4 * 128 * 128 + 2 * 128 * 512) = 786,432 weights; embeddings stay fp32
    assert sizes[32] - sizes[16] == pytest.approx(786_432 * 2, rel=0.02)
    assert sizes[16] - sizes[8] == pytest.approx(786_432 * 1 - 4 * 4 * (128 * 4 + 512 + 128), rel=0.02)
    assert sizes[8] - sizes[4] == pytest.approx(786_432 / 2, rel=0.02)


def test_metadata_names_the_subnet(tmp_path):
    spec = load_spec("gpt-tiny")
    arch = sample_many(spec, 1, seed=4)[0]
    proto = onnx.load_from_string(to_onnx(extract(Supernet(spec, seed=0), arch)))
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["arch_id"] == arch.arch_id and meta["space"] == "gpt-tiny"
    assert Architecture.model_validate_json(meta["architecture"]) == arch
    assert SpaceSpec.model_validate(json.loads(meta["space_spec"])) == spec
    assert meta["weights"] == "random initialisation, seed 0"
    assert proto.opset_import[0].version == 21
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
