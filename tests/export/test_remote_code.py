"""``export/remote.py``: any subnet as a transformers model with its own modeling code.

20 random subnets of every built-in space (every attention type, MoE, every quantization scheme) are
extracted from supernets whose every bias and norm is randomised (so a misnamed or forgotten tensor shows
up), exported, and loaded by transformers with ``trust_remote_code`` in ONE fresh ``python -S`` process per
space where supernas cannot be imported. Their outputs must equal the supernas subnet's within 1e-5.

gpt2-small and hubert-base keep every per-layer choice but are held at depth 2 (and gpt2-small at a
1,024-token vocabulary), so the 40 exports stay small: depth adds layers, not kinds of layers.
"""

from __future__ import annotations

import json

import pytest
import torch
import transformers

from supernas.export.exporters import AUTO_CLASSES
from supernas.export.onnx import example_inputs
from supernas.export.remote import save_remote, save_transformers
from supernas.models.checkpoint import extract
from supernas.models.supernet import Supernet
from supernas.spaces.architecture import Architecture, LayerArch, check, sample_many
from supernas.spaces.spec import SpaceSpec, load_spec, parse_spec
from tests.export.standalone import load_standalone

TOLERANCE = 1e-5
SPACES = {
    "bert-mini": {},
    "gpt-tiny": {},
    "gpt2-small": {"depth": [2], "vocab_size": 1024},
    "hubert-base": {"depth": [2]},
    "speech-tiny": {},
    "vit-tiny": {},
}


def space(name: str) -> SpaceSpec:
    return load_spec(name).model_copy(update=SPACES[name])


def perturbed_supernet(spec: SpaceSpec, seed: int = 0) -> Supernet:
    """The supernet's own initialisation, with every 1-D tensor (biases, norm weights and biases)
    randomised: norm weights around 1, biases around 0."""
    supernet = Supernet(spec, seed=seed).eval()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in supernet.named_parameters():
            if p.dim() == 1:
                base = 1.0 if name.endswith("weight") else 0.0
                p.copy_(base + 0.2 * torch.randn(p.shape, generator=g))
    return supernet


def our_outputs(model, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """What the loaded model's Auto class returns: logits, or an encoder's final hidden states."""
    with torch.no_grad():
        if model.spec.task == "encoder_classification":
            return model.encode(
                inputs["input_ids"], inputs["attention_mask"].bool(), inputs["token_type_ids"]
            )
        return model(next(iter(inputs.values())))


@pytest.mark.parametrize("name", SPACES)
def test_twenty_random_subnets_load_standalone_and_match(tmp_path, name):
    spec = space(name)
    supernet = perturbed_supernet(spec)
    inputs = {k: torch.from_numpy(v) for k, v in example_inputs(spec, batch=2, seq=8, seed=1).items()}
    jobs, ours, kinds = [], [], set()
    for i, arch in enumerate(sample_many(spec, 20, seed=7)):
        model = extract(supernet, arch)
        directory = save_remote(model, tmp_path / f"subnet{i}")
        config = json.loads((directory / "config.json").read_text())
        assert [layer["attention"] for layer in config["layers"]] == [a.attention.value for a in arch.layers]
        jobs.append((str(directory), AUTO_CLASSES[spec.task], inputs))
        ours.append(our_outputs(model, inputs))
        kinds |= {(a.attention.value, a.weight_bits, a.act_bits, a.experts > 1) for a in arch.layers}
    theirs = load_standalone(tmp_path, jobs)
    diffs = [float((a - b).abs().max()) for a, b in zip(ours, theirs)]
    print(f"{name}: 20 subnets, {len(kinds)} layer kinds, max |difference| {max(diffs):.2e}")
    assert all(o.shape == t.shape for o, t in zip(ours, theirs))
    assert min(float(o.std()) for o in ours) > 1e-3  # outputs are not trivially constant
    assert max(diffs) <= TOLERANCE
    assert {kind[0] for kind in kinds} == set(spec.layer.attention)  # every attention type was exported


def layers_arch(spec: SpaceSpec, embed: int, layers: list[dict]) -> Architecture:
    return check(
        spec, Architecture(space=spec.name, embed_dim=embed, layers=tuple(LayerArch(**x) for x in layers))
    )


def test_no_op_blocks_and_every_scheme_of_a_space_with_them(tmp_path):
    """attention 'none' and ffn_dim 0 (no-op sub-blocks), in a gpt-tiny variant that allows them."""
    data = load_spec("gpt-tiny").model_dump(mode="json")
    data["layer"] |= {"attention": [*data["layer"]["attention"], "none"], "ffn_dim": [0, 128, 256]}
    spec = parse_spec(data, "gpt-tiny with no-op blocks")
    supernet = perturbed_supernet(spec, seed=3)
    arch = layers_arch(
        spec,
        64,
        [
            dict(attention="none", ffn_dim=128, weight_bits=4, act_bits=8),
            dict(attention="gqa", heads=4, kv_heads=2, ffn_dim=0, weight_bits=8, act_bits=8),
            dict(attention="none", ffn_dim=256, experts=4, top_k=2, weight_bits=16, act_bits=16),
        ],
    )
    model = extract(supernet, arch)
    directory = save_transformers(model, tmp_path / "out")
    assert (directory / "modeling_supernas.py").is_file()  # no standard config expresses it
    ids = torch.randint(0, spec.vocab_size, (2, 12), generator=torch.Generator().manual_seed(0))
    loaded = transformers.AutoModelForCausalLM.from_pretrained(directory, trust_remote_code=True).eval()
    with torch.no_grad():
        diff = float((loaded(ids).logits - model(ids)).abs().max())
    print(f"no-op blocks: max |difference| {diff:.2e}")
    assert diff <= TOLERANCE
    assert len(loaded.model.blocks[0].ffn.experts) == 1 and loaded.model.blocks[0].attn is None
    assert loaded.model.blocks[1].ffn is None and loaded.config.layer_types == [
        "moe",
        "full_attention",
        "moe",
    ]


def greedy_steps(model, loaded, ids: torch.Tensor, steps: int) -> tuple[bool, float]:
    """Greedy generate() against the argmax of supernas's full-sequence logits, step by step: whether the
    tokens agree, and the largest logits difference over the steps."""
    with torch.no_grad():
        out = loaded.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=steps,
            do_sample=False,
            output_logits=True,
            return_dict_in_generate=True,
            pad_token_id=0,
        )
        sequence, diffs = ids, []
        for step in range(steps):
            logits = model(sequence)[:, -1]
            diffs.append(float((logits - out.logits[step]).abs().max()))
            sequence = torch.cat([sequence, logits.argmax(-1, keepdim=True)], dim=1)
    return bool(torch.equal(sequence, out.sequences)), max(diffs)


@pytest.mark.parametrize("name", ["gpt-tiny", "gpt2-small"])
def test_generate_with_kv_cache_matches_full_sequence_logits(tmp_path, name):
    """Subnets with 32-bit activations generate with a DynamicCache; subnets that round activations are
    written with use_cache false (a cache cannot reproduce a per-tensor rounding) and recompute."""
    spec = space(name)
    supernet = perturbed_supernet(spec, seed=5)
    archs = sample_many(spec, 4, seed=11)
    unrounded = [
        check(
            spec,
            a.model_copy(update={"layers": tuple(x.model_copy(update={"act_bits": 32}) for x in a.layers)}),
        )
        for a in archs[:3]
    ]
    ids = torch.randint(0, spec.vocab_size, (2, 5), generator=torch.Generator().manual_seed(2))
    for i, arch in enumerate([*unrounded, archs[3]]):
        model = extract(supernet, arch)
        directory = save_remote(model, tmp_path / f"subnet{i}")
        loaded = transformers.AutoModelForCausalLM.from_pretrained(directory, trust_remote_code=True).eval()
        assert loaded.config.use_cache == all(layer.act_bits == 32 for layer in arch.layers)
        same, diff = greedy_steps(model, loaded, ids, steps=6)
        print(f"{name} subnet {i} (cache {loaded.config.use_cache}): max |logits difference| {diff:.2e}")
        assert same and diff <= TOLERANCE
