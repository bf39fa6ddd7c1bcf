"""No-op blocks (attention 'none', ffn_dim 0): the residual passes through, the block is absent from the
subnet and from every count; in each built-in space family (decoder, encoder, vision)."""

from __future__ import annotations

import random

import pytest
import torch
from safetensors.torch import load_file

from supernas.core.errors import ArchitectureError, SpecError
from supernas.data.inputs import random_batch
from supernas.models.checkpoint import WEIGHTS, extract, load_subnet, save_subnet, tensor_bytes_on_disk
from supernas.models.dense import parameter_count
from supernas.models.supernet import Supernet
from supernas.search.strategies.encoding import ArchEncoding
from supernas.spaces.analytic import checkpoint_bytes, count_params, forward_macs, layer_linear_macs
from supernas.spaces.architecture import LayerArch, largest, parse_architecture, sample_many
from supernas.spaces.spec import load_spec, parse_spec


def with_noops(name: str, **layer_update):
    """A built-in space, full precision, small enough for a test, whose layers may skip attention or FFN."""
    data = load_spec(name).model_dump(mode="json")
    layer = data["layer"]
    layer.update(
        attention=["mha", "gqa", "none"],
        heads=layer["heads"][-2:],
        kv_heads=layer["kv_heads"][:1],
        ffn_dim=[0, *layer["ffn_dim"][:2]],
        weight_bits=[32],
        act_bits=[32],
        **layer_update,
    )
    data.update(depth=[2, 3], embed_dim=data["embed_dim"][:2])
    if name == "bert-mini":
        data.update(vocab_size=1000, max_seq_len=64)
    return parse_spec(data, f"{name} with no-op blocks")


FAMILIES = ["gpt-tiny", "bert-mini", "vit-tiny"]


@pytest.fixture(scope="module", params=FAMILIES)
def noop_supernet(request):
    return Supernet(with_noops(request.param), seed=3)


def _outputs(model, batch):
    with torch.no_grad():
        return model(batch.inputs, batch.padding)


def _with_layer(arch, index: int, **fields):
    layers = list(arch.layers)
    layers[index] = LayerArch(**{**layers[index].model_dump(), **fields})
    return arch.model_copy(update={"layers": tuple(layers)})


NOOP_ATTENTION = dict(attention="none", heads=None, kv_heads=None, window=None)
NOOP_FFN = dict(ffn_dim=0, experts=1, top_k=1)


@pytest.mark.parametrize("noop", ["attention", "ffn"])
def test_noop_layer_equals_model_built_without_the_block(noop_supernet, noop, tmp_path):
    spec = noop_supernet.spec
    arch = _with_layer(largest(spec), 1, **(NOOP_ATTENTION if noop == "attention" else NOOP_FFN))
    batch = random_batch(spec, batch_size=2, seq_len=16, seed=5)
    with noop_supernet.active(arch):
        searched = _outputs(noop_supernet, batch)
    model = extract(noop_supernet, arch)
    absent = (
        ("blocks.1.attn.", "blocks.1.ln1.") if noop == "attention" else ("blocks.1.ffn.", "blocks.1.ln2.")
    )
    present = (
        ("blocks.1.ffn.", "blocks.1.ln2.") if noop == "attention" else ("blocks.1.attn.", "blocks.1.ln1.")
    )
    keys = set(load_file(save_subnet(model, tmp_path / "subnet") / WEIGHTS))
    assert not [k for k in keys if k.startswith(absent)]
    assert all(any(k.startswith(p) for k in keys) for p in present)
    assert torch.equal(searched, _outputs(model, batch))
    assert torch.equal(searched, _outputs(load_subnet(tmp_path / "subnet"), batch))
    assert parameter_count(model) == count_params(spec, arch) < count_params(spec, largest(spec))
    assert tensor_bytes_on_disk(tmp_path / "subnet" / WEIGHTS) == checkpoint_bytes(spec, arch)
    with noop_supernet.active(largest(spec)):  # the no-op really changes the function
        assert not torch.equal(searched, _outputs(noop_supernet, batch))


def test_a_layer_without_attention_and_ffn_is_a_missing_layer(noop_supernet):
    """The strongest reference: a last layer that skips both is the model one layer shallower."""
    spec = noop_supernet.spec
    deep = _with_layer(largest(spec), 2, **NOOP_ATTENTION, **NOOP_FFN)
    shallow = deep.model_copy(update={"layers": deep.layers[:2]})
    batch = random_batch(spec, batch_size=2, seq_len=16, seed=6)
    with noop_supernet.active(deep):
        a = _outputs(noop_supernet, batch)
    with noop_supernet.active(shallow):
        b = _outputs(noop_supernet, batch)
    assert torch.equal(a, b)
    assert count_params(spec, deep) == count_params(spec, shallow)
    assert forward_macs(spec, deep, 16) == forward_macs(spec, shallow, 16)
    assert layer_linear_macs(spec, deep.embed_dim, deep.layers[2]) == 0


def test_sampled_noop_architectures_extract_exactly_and_encode_both_ways():
    spec = with_noops("gpt-tiny", experts=[1, 2], top_k=[1, 2])
    supernet = Supernet(spec, seed=1)
    archs = sample_many(spec, 12, seed=2)
    assert any(not layer.has_attention for a in archs for layer in a.layers)
    assert any(not layer.has_ffn for a in archs for layer in a.layers)
    batch = random_batch(spec, batch_size=2, seq_len=12, seed=3)
    encoding = ArchEncoding(spec)
    for arch in archs:
        with supernet.active(arch):
            searched = _outputs(supernet, batch)
        model = extract(supernet, arch)
        assert torch.equal(searched, _outputs(model, batch))
        assert parameter_count(model) == count_params(spec, arch)
        assert encoding.decode(encoding.encode(arch)) == arch
    assert "none" in encoding.groups["attn"] and "none" in encoding.groups["ffn"]


def test_noop_choices_are_validated_with_one_line():
    spec = with_noops("gpt-tiny")
    arch = parse_architecture(
        spec,
        {
            "embed_dim": 64,
            "layers": [
                {"attention": "none", "ffn_dim": 128},
                {"attention": "mha", "heads": 4, "ffn_dim": 0},
            ],
        },
    )
    assert (arch.layers[0].heads, arch.layers[0].kv_heads, arch.layers[1].experts) == (0, 0, 1)
    assert parse_architecture(spec, arch.to_json()) == arch  # canonical JSON reads back
    with pytest.raises(ArchitectureError, match="attention 'none' has no heads"):
        parse_architecture(
            spec, {"embed_dim": 64, "layers": [{"attention": "none", "heads": 4, "ffn_dim": 128}] * 2}
        )
    with pytest.raises(ArchitectureError, match="needs heads > 0"):
        parse_architecture(spec, {"embed_dim": 64, "layers": [{"attention": "mha", "ffn_dim": 128}] * 2})
    with pytest.raises(ArchitectureError, match="ffn_dim=0, experts=2"):
        parse_architecture(
            spec,
            {"embed_dim": 64, "layers": [{"attention": "mha", "heads": 4, "ffn_dim": 0, "experts": 2}] * 2},
        )
    plain = load_spec("gpt-tiny")
    with pytest.raises(ArchitectureError, match=r"layers\[0\].attention.*none"):
        parse_architecture(plain, {"embed_dim": 64, "layers": [{"attention": "none", "ffn_dim": 128}] * 2})
    with pytest.raises(ArchitectureError, match=r"layers\[0\].ffn_dim"):
        parse_architecture(
            plain, {"embed_dim": 64, "layers": [{"attention": "mha", "heads": 2, "ffn_dim": 0}] * 2}
        )
    data = spec.model_dump(mode="json")
    for field, value, message in (
        ("attention", ["none"], "other than 'none'"),
        ("ffn_dim", [0], "positive width"),
    ):
        bad = {**data, "layer": {**data["layer"], field: value}}
        with pytest.raises(SpecError, match=message):
            parse_spec(bad, "space.yaml")


def test_random_mutation_reaches_and_leaves_noop_blocks():
    from supernas.spaces.architecture import mutate

    spec = with_noops("gpt-tiny")
    rng = random.Random(0)
    arch = largest(spec)
    kinds = set()
    for _ in range(200):
        arch = mutate(spec, arch, rng, prob=0.5)
        kinds |= {(layer.has_attention, layer.has_ffn) for layer in arch.layers}
    assert kinds == {(True, True), (True, False), (False, True), (False, False)}


def test_noop_subnet_exports_to_onnx_and_not_to_hugging_face():
    import numpy as np

    from supernas.export.huggingface import REMOTE_HINT, hf_unsupported_reason
    from supernas.export.onnx import example_inputs, runtime_session, to_onnx, torch_outputs

    spec = with_noops("gpt-tiny")
    arch = _with_layer(_with_layer(largest(spec), 0, **NOOP_ATTENTION), 1, **NOOP_FFN)
    model = extract(Supernet(spec, seed=2), arch)
    inputs = example_inputs(spec, 2, 12, seed=7)
    ours, theirs = torch_outputs(model, inputs), runtime_session(to_onnx(model)).run(None, inputs)
    assert max(float(np.abs(a - b).max()) for a, b in zip(ours, theirs)) < 1e-4
    assert (
        hf_unsupported_reason(spec, arch)
        == "layer 0: a no-op attention block (Hugging Face GPT-2 layers always have both)" + REMOTE_HINT
    )
