import itertools
import json
import random

import pytest

from supernas.core.errors import ArchitectureError
from supernas.spaces.architecture import (
    Architecture,
    LayerArch,
    attention_options,
    check,
    crossover,
    ffn_options,
    largest,
    mutate,
    n_subnets,
    parse_architecture,
    quant_options,
    sample,
    sample_many,
    smallest,
)
from supernas.spaces.spec import SpaceSpec, builtin_names, load_spec


def tiny_spec(**layer) -> SpaceSpec:
    base = dict(heads=[2, 4], ffn_dim=[8])
    return SpaceSpec.model_validate(
        dict(
            name="t",
            task="causal_lm",
            vocab_size=11,
            max_seq_len=8,
            head_dim=2,
            depth=[1, 2],
            embed_dim=[4],
            layer={**base, **layer},
        )
    )


def brute_force_count(spec: SpaceSpec) -> int:
    """Enumerate every architecture and count the distinct canonical ones."""
    layers = [
        LayerArch(**a, **f, **q)
        for a in attention_options(spec)
        for f in ffn_options(spec)
        for q in quant_options(spec)
    ]
    seen = set()
    for e in spec.embed_dim:
        for d in spec.depth:
            for combo in itertools.product(layers, repeat=d):
                seen.add(Architecture(space=spec.name, embed_dim=e, layers=combo).arch_id)
    return len(seen)


def test_n_subnets_exact_against_enumeration():
    spec = tiny_spec(
        attention=["mha", "gqa", "sliding_window"],
        kv_heads=[1, 2],
        windows=[2, 4],
        experts=[1, 2],
        top_k=[1, 2],
        weight_bits=[4, 8],
    )
    # per layer: mha 2 + gqa (2,1),(4,1),(4,2) 3 + sliding 2*2 = 9 attention;
    # ffn: dense 1 + moe(2) top1/top2 2 = 3; quant 2
    assert n_subnets(spec) == 9 * 3 * 2 + (9 * 3 * 2) ** 2
    assert brute_force_count(spec) == n_subnets(spec)


def test_canonical_json_and_id_are_stable():
    spec = load_spec("gpt-tiny")
    arch = sample(spec, random.Random(3))
    again = Architecture.from_json(arch.to_json())
    assert again == arch and again.arch_id == arch.arch_id and len(arch.arch_id) == 12
    shuffled = json.dumps(dict(reversed(list(json.loads(arch.to_json()).items()))))
    assert Architecture.from_json(shuffled).arch_id == arch.arch_id


def test_defaults_fill_canonical_values():
    arch = parse_architecture(
        load_spec("gpt-tiny"),
        {
            "embed_dim": 64,
            "layers": [{"attention": "mha", "heads": 2, "ffn_dim": 128, "weight_bits": 8, "act_bits": 8}] * 2,
        },
    )
    assert arch.layers[0].kv_heads == 2 and arch.layers[0].window is None and arch.layers[0].experts == 1


@pytest.mark.parametrize("name", builtin_names())
def test_sampling_is_seeded_and_valid(name):
    spec = load_spec(name)
    first, second = sample_many(spec, 30, seed=7), sample_many(spec, 30, seed=7)
    assert [a.arch_id for a in first] == [a.arch_id for a in second]
    assert len({a.arch_id for a in first}) == 30
    rng = random.Random(0)
    for a, b in zip(first, first[1:]):
        check(spec, a)
        check(spec, mutate(spec, a, rng, prob=0.5))
        child = check(spec, crossover(spec, a, b, rng))
        assert child.embed_dim in (a.embed_dim, b.embed_dim)
    assert largest(spec).depth == max(spec.depth) and smallest(spec).depth == min(spec.depth)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"embed_dim": 65}, "'embed_dim' = 65 is not in space 'gpt-tiny' (allowed: 64, 96, 128)"),
        ({"layers.0.ffn_dim": 100}, "'layers[0].ffn_dim' = 100"),
        ({"layers.1.heads": 3}, "'layers[1].heads' = 3"),
    ],
)
def test_wrong_choice_names_field_and_allowed_values(change, message):
    spec = load_spec("gpt-tiny")
    data = json.loads(sample_many(spec, 1, seed=0)[0].to_json())
    data["layers"] = data["layers"][:2]
    for key, value in change.items():
        parts = key.split(".")
        target = data if len(parts) == 1 else data["layers"][int(parts[1])]
        target[parts[-1]] = value
        if parts[-1] == "heads":
            target.update(attention="mha", kv_heads=None, window=None)
    with pytest.raises(ArchitectureError) as err:
        parse_architecture(spec, data)
    assert message in str(err.value)


def test_malformed_architecture_messages():
    spec = load_spec("gpt-tiny")
    with pytest.raises(ArchitectureError, match="not valid JSON"):
        parse_architecture(spec, "{not json")
    with pytest.raises(ArchitectureError, match="kv_heads applies to gqa only"):
        parse_architecture(
            spec,
            {
                "embed_dim": 64,
                "layers": [{"attention": "mha", "heads": 4, "kv_heads": 2, "ffn_dim": 128}] * 2,
            },
        )
    with pytest.raises(ArchitectureError, match="field 'layers.0.ffn_dim'"):
        parse_architecture(spec, {"embed_dim": 64, "layers": [{"attention": "mha", "heads": 4}] * 2})
