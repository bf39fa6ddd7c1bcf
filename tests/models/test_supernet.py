"""Weight sharing and extraction agree: outputs, parameter counts, checkpoints."""

import json

import pytest
import torch
from safetensors.torch import save_file

from supernas.core.errors import NotFoundError, SpecError
from supernas.data.inputs import random_batch
from supernas.models.checkpoint import extract, load_subnet, save_subnet
from supernas.models.dense import parameter_count
from supernas.models.elastic import ElasticLinear
from supernas.models.parent import full_precision
from supernas.models.supernet import Supernet
from supernas.spaces.analytic import checkpoint_bytes, count_params, layer_linears
from supernas.spaces.architecture import largest, sample_many
from supernas.spaces.spec import builtin_names, load_spec
from tests.helpers import header_bytes

N_ARCHS = 20


def outputs(model, batch):
    with torch.no_grad():
        return model(batch.inputs, batch.padding)


# hubert-base: its 512-channel front end makes 20 subnets slow; tests/spaces/test_speech.py covers it on
# short clips
@pytest.fixture(scope="module", params=[n for n in builtin_names() if n != "hubert-base"])
def space(request):
    return load_spec(request.param)


def _batch(spec):
    small = spec.name == "gpt2-small"
    return random_batch(spec, batch_size=1 if small else 2, seq_len=8 if small else 24, seed=1)


def test_extracted_equals_active_supernet_fp32(space):
    spec = full_precision(space)
    supernet, batch = Supernet(spec, seed=0).eval(), _batch(spec)
    for arch in sample_many(spec, N_ARCHS, seed=11):
        with supernet.active(arch):
            expected = outputs(supernet, batch)
        model = extract(supernet, arch)
        assert (outputs(model, batch) - expected).abs().max().item() <= 1e-5
        assert parameter_count(model) == count_params(spec, arch)


def test_extracted_equals_active_supernet_fake_quant(space):
    supernet, batch = Supernet(space, seed=0).eval(), _batch(space)
    for arch in sample_many(space, N_ARCHS, seed=12):
        with supernet.active(arch):
            expected = outputs(supernet, batch)
        model = extract(supernet, arch)
        assert torch.equal(outputs(model, batch), expected)
        assert parameter_count(model) == count_params(space, arch)


def test_largest_subnet_is_the_whole_supernet(space):
    supernet = Supernet(space)
    total = sum(p.numel() for p in supernet.parameters())
    assert total == count_params(space, largest(space)) == parameter_count(extract(supernet, largest(space)))


def test_activation_slices_without_copies():
    supernet = Supernet(load_spec("gpt-tiny"))
    arch = sample_many(supernet.spec, 1, seed=3)[0]
    before = {k: v.clone() for k, v in supernet.state_dict().items()}
    with supernet.active(arch):
        for module in supernet.modules():
            if isinstance(module, ElasticLinear):
                assert module.active_weight().data_ptr() == module.weight.data_ptr()
        assert supernet.arch == arch and supernet.depth == arch.depth
    assert supernet.arch == largest(supernet.spec)
    assert all(torch.equal(before[k], v) for k, v in supernet.state_dict().items())


@pytest.mark.parametrize("name", ["gpt-tiny", "bert-mini", "vit-tiny"])
def test_checkpoint_round_trip_and_size(tmp_path, name):
    spec = load_spec(name)
    supernet, batch = Supernet(spec, seed=5), _batch(spec)
    for i, arch in enumerate(sample_many(spec, 6, seed=13)):
        model = extract(supernet, arch)
        directory = save_subnet(model, tmp_path / f"sub{i}")
        loaded = load_subnet(directory)
        assert torch.equal(outputs(loaded, batch), outputs(model, batch))
        weights = directory / "model.safetensors"
        data = weights.stat().st_size - header_bytes(weights)
        assert data == checkpoint_bytes(spec, arch)  # tensor data is exactly the analytic bytes
        if name != "gpt-tiny":  # gpt-tiny files are ~100 kB, where the per-tensor header alone is a few %
            assert weights.stat().st_size <= 1.02 * checkpoint_bytes(spec, arch)
        config = json.loads((directory / "config.json").read_text())
        assert config["arch_id"] == arch.arch_id and config["parameters"] == count_params(spec, arch)
        assert config["weights"] == "random initialisation, seed 5"


def test_int4_linears_are_a_quarter_of_fp16_plus_block_scales(tmp_path):
    spec = load_spec("bert-mini")
    supernet = Supernet(spec)
    arch = sample_many(spec, 1, seed=0)[0]
    data = {}
    for bits in (16, 4):
        variant = arch.model_copy(
            update={"layers": tuple(l.model_copy(update={"weight_bits": bits}) for l in arch.layers)}
        )
        weights = save_subnet(extract(supernet, variant), tmp_path / str(bits)) / "model.safetensors"
        data[bits] = weights.stat().st_size - header_bytes(weights)
    n_weights = sum(
        lin.out_features * lin.in_features
        for layer in arch.layers
        for lin in layer_linears(spec, arch.embed_dim, layer)
    )
    fp16_linears = 2 * n_weights
    int4_linears = fp16_linears - (data[16] - data[4])  # everything else in the file is identical
    # 2 bytes a weight against half a byte and an fp32 scale per block of 32: 2 / (0.5 + 4 / 32) = 3.2,
    # a little less where a row's last block is short
    assert 3.0 < fp16_linears / int4_linears <= 3.2


def test_supernet_save_load_and_pretrained_names(tmp_path):
    spec = load_spec("gpt-tiny")
    spec = spec.model_copy(update={"layer": spec.layer.model_copy(update=dict(experts=[1], top_k=[1]))})
    source = Supernet(spec, seed=1)
    batch = random_batch(spec, 2, 16, seed=0)
    restored = Supernet.load(source.save(tmp_path / "net"))
    assert torch.equal(outputs(restored, batch), outputs(source, batch))

    # The same weights under Hugging Face GPT-2 names (Conv1D layout, fused c_attn) load into a fresh
    # supernet.
    sd, hf = source.state_dict(), {}
    hf["transformer.wte.weight"], hf["transformer.wpe.weight"] = sd["wte.weight"], sd["wpe.weight"]
    hf["transformer.ln_f.weight"], hf["transformer.ln_f.bias"] = (
        sd["final_norm.weight"],
        sd["final_norm.bias"],
    )
    for i in range(spec.max_depth):
        p, h = f"blocks.{i}.", f"transformer.h.{i}."
        for kind in ("weight", "bias"):
            qkv = torch.cat([sd[f"{p}attn.{x}.{kind}"] for x in "qkv"], 0)
            hf[h + f"attn.c_attn.{kind}"] = qkv.t().contiguous() if kind == "weight" else qkv
            for ours, theirs in (
                ("attn.o", "attn.c_proj"),
                ("ffn.experts.0.fc1", "mlp.c_fc"),
                ("ffn.experts.0.fc2", "mlp.c_proj"),
            ):
                t = sd[f"{p}{ours}.{kind}"]
                hf[h + f"{theirs}.{kind}"] = t.t().contiguous() if kind == "weight" else t
            for j in (1, 2):
                hf[h + f"ln_{j}.{kind}"] = sd[f"{p}ln{j}.{kind}"]
    save_file(hf, tmp_path / "gpt2-like.safetensors")
    fresh = Supernet(spec, seed=2)
    report = fresh.load_weights(tmp_path / "gpt2-like.safetensors")
    assert not report.missing and not report.shape_mismatch and not report.unexpected
    assert torch.equal(outputs(fresh, batch), outputs(source, batch))

    with pytest.raises(NotFoundError):
        fresh.load_weights(tmp_path / "absent.safetensors")
    torch.save({"unrelated.weight": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(SpecError, match="no tensor matched"):
        fresh.load_weights(tmp_path / "other.pt")
