"""``spaces/hf_export.py``: subnets exported as Hugging Face GPT-2 / BERT checkpoints compute what
they compute.

Subnets of full-precision variants of gpt-tiny and bert-mini (16/32-bit weights, 32-bit activations) are
extracted from supernets whose EVERY parameter is random (biases and LayerNorms included, so a tensor the
export forgets or misnames shows up), written with ``save_hf`` and loaded by ``transformers`` itself:
logits / hidden states must agree within fp32 rounding, and loading must report no missing, unexpected or
mismatched tensor (no "newly initialized" weights). Subnets no standard config can express must be
refused with one line naming the layer or setting and pointing at ONNX.

transformers is a dev dependency: imported plainly, so a missing install fails here instead of skipping.
"""

from __future__ import annotations

import json

import pytest
import torch
import transformers
from safetensors.torch import load_file

from supernas.core.errors import SpecError
from supernas.export.huggingface import CLASSIFIER_WEIGHTS, REMOTE_HINT, hf_unsupported_reason, save_hf
from supernas.models.checkpoint import extract
from supernas.models.ops import mean_pool
from supernas.models.supernet import Supernet
from supernas.spaces.architecture import Architecture, LayerArch, check
from supernas.spaces.spec import SpaceSpec, load_spec
from tests.spaces.helpers import padded_token_batch

TOLERANCE = 1e-5


def variant(name: str, weight_bits: list[int], act_bits: list[int], **update) -> SpaceSpec:
    spec = load_spec(name)
    layer = spec.layer.model_copy(update=dict(weight_bits=weight_bits, act_bits=act_bits))
    return spec.model_copy(update={"layer": layer, **update})


def random_supernet(spec, seed: int) -> Supernet:
    """Every parameter random: LayerNorm weights around 1, everything else (biases too) around 0."""
    supernet = Supernet(spec, seed=seed).eval()
    g = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():
        for name, p in supernet.named_parameters():
            norm_weight = name.endswith("weight") and p.dim() == 1
            p.copy_(
                torch.randn(p.shape, generator=g) * (0.1 if norm_weight else 0.05)
                + (1.0 if norm_weight else 0.0)
            )
    return supernet


def arch(spec: SpaceSpec, embed: int, layers: list[dict]) -> Architecture:
    """A checked architecture; layers are softmax attention (mha) unless they say otherwise."""
    layers = tuple(LayerArch(**{"attention": "mha", **layer}) for layer in layers)
    return check(spec, Architecture(space=spec.name, embed_dim=embed, layers=layers))


def uniform(depth: int, heads: int, ffn_dim: int, bits: int | list[int]) -> list[dict]:
    bits = bits if isinstance(bits, list) else [bits] * depth
    return [dict(heads=heads, ffn_dim=ffn_dim, weight_bits=b) for b in bits]


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


def assert_loaded_completely(info: dict, unexpected: set[str] | frozenset[str] = frozenset()) -> None:
    assert (
        not info["missing_keys"]
        and set(info["unexpected_keys"]) == unexpected
        and not info["mismatched_keys"]
    ), info


@pytest.fixture(scope="module")
def supernets():
    """gpt: full precision; gpt_plain: also no biases and an untied LM head; bert: full precision;
    gpt_any: every quantization (for the refusals)."""
    specs = {
        "gpt": variant("gpt-tiny", [16, 32], [32]),
        "gpt_plain": variant("gpt-tiny", [16, 32], [32], bias=False, tie_embeddings=False),
        "gpt_any": variant("gpt-tiny", [8, 16, 32], [16, 32]),
        "bert": variant("bert-mini", [16, 32], [32]),
    }
    return {key: random_supernet(spec, seed) for seed, (key, spec) in enumerate(specs.items())}


# ---------------------------------------------------------------------------- GPT-2

GPT_CASES = {
    "fp32": ("gpt", 128, uniform(3, 8, 512, 32)),
    "fp16": ("gpt", 64, uniform(2, 4, 256, 16)),
    "mixed-16-32": ("gpt", 128, uniform(4, 8, 128, [16, 32, 16, 32])),
    "no-bias-untied": ("gpt_plain", 64, uniform(2, 4, 128, 32)),
}


@pytest.mark.parametrize("case", GPT_CASES)
def test_gpt2_export_equals_transformers(supernets, tmp_path, case):
    key, embed, layers = GPT_CASES[case]
    supernet = supernets[key]
    spec = supernet.spec
    model = extract(supernet, arch(spec, embed, layers))
    if layers[0]["weight_bits"] == 16:
        assert model.blocks[0].attn.q.weight.dtype == torch.float16  # really stored as fp16
    assert hf_unsupported_reason(spec, model.arch) is None
    save_hf(model, tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["n_positions"] == spec.seq_len and config["tie_word_embeddings"] == spec.tie_embeddings
    assert config["supernas"]["arch_id"] == model.arch.arch_id

    hf, info = transformers.AutoModelForCausalLM.from_pretrained(
        tmp_path, output_loading_info=True, attn_implementation="eager"
    )
    assert_loaded_completely(info)
    assert type(hf).__name__ == "GPT2LMHeadModel"
    base, info = transformers.AutoModel.from_pretrained(
        tmp_path, output_loading_info=True
    )  # default attention
    assert_loaded_completely(
        info, frozenset() if spec.tie_embeddings else {"lm_head.weight"}
    )  # GPT2Model has no head
    ids = torch.randint(0, spec.vocab_size, (2, 24), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        ours, hidden = model(ids), model.encode(ids)
        theirs = hf.eval()(input_ids=ids).logits
        theirs_hidden = base.eval()(input_ids=ids).last_hidden_state
    assert theirs.std().item() > 0.1  # not trivially near zero
    diff, diff_hidden = max_diff(ours, theirs), max_diff(hidden, theirs_hidden)
    print(f"gpt-tiny {case}: max |logits diff| = {diff:.2e}, AutoModel hidden = {diff_hidden:.2e}")
    assert diff < TOLERANCE and diff_hidden < TOLERANCE


# ---------------------------------------------------------------------------- BERT

BERT_CASES = {"fp32": (256, uniform(2, 8, 768, 32)), "fp16": (192, uniform(3, 6, 384, 16))}


@pytest.mark.parametrize("case", BERT_CASES)
def test_bert_export_equals_transformers(supernets, tmp_path, case):
    supernet = supernets["bert"]
    spec = supernet.spec
    embed, layers = BERT_CASES[case]
    model = extract(supernet, arch(spec, embed, layers))
    save_hf(model, tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["max_position_embeddings"] == spec.seq_len and config["layer_norm_eps"] == spec.norm_eps
    assert config["supernas"]["classifier"]["file"] == CLASSIFIER_WEIGHTS and "pooler" in config["supernas"]

    hf, info = transformers.AutoModel.from_pretrained(tmp_path, output_loading_info=True)
    assert_loaded_completely(info)
    assert type(hf).__name__ == "BertModel"
    ids, mask, token_types = padded_token_batch(spec, seed=6)
    padding = mask.bool()
    with torch.no_grad():
        out = hf.eval()(input_ids=ids, attention_mask=mask, token_type_ids=token_types)
        ours = model.encode(ids, padding, token_types)
        our_logits = model(ids, padding, token_types)
    diff = max_diff(ours, out.last_hidden_state)
    print(f"bert-mini {case}: max |last_hidden_state diff| = {diff:.2e}")
    assert out.last_hidden_state.std().item() > 0.1 and diff < TOLERANCE
    assert not out.pooler_output.any()  # zero pooler: documented as not part of the subnet

    head = load_file(tmp_path / CLASSIFIER_WEIGHTS)
    pooled = mean_pool(out.last_hidden_state, padding)
    logits = torch.nn.functional.linear(pooled, head["classifier.weight"], head["classifier.bias"])
    assert logits.shape == (3, spec.num_classes)
    diff = max_diff(logits, our_logits)
    print(f"bert-mini {case}: max |classifier logits diff| = {diff:.2e}")
    assert diff < TOLERANCE


# ---------------------------------------------------------------------------- refusals

REFUSED = {  # supernet, embed, layers, what the message must name
    "non-uniform": (
        "gpt",
        128,
        [dict(heads=8, ffn_dim=512), dict(heads=8, ffn_dim=256)],
        "layer 1: ffn_dim 256 differs",
    ),
    "moe": (
        "gpt",
        128,
        [dict(heads=8, ffn_dim=512), dict(heads=8, ffn_dim=512, experts=2)],
        "layer 1: 2 experts",
    ),
    "8-bit": ("gpt_any", 64, [dict(heads=4, ffn_dim=128, weight_bits=8)] * 2, "layer 0: 8-bit weights"),
    "act-16": (
        "gpt_any",
        64,
        [dict(heads=4, ffn_dim=128), dict(heads=4, ffn_dim=128, act_bits=16)],
        "layer 1: 16-bit activation",
    ),
    "head-dim": (
        "gpt",
        128,
        [dict(heads=4, ffn_dim=128)] * 2,
        "layer 0: heads 4 x head_dim 16 = 64 != embed_dim 128",
    ),
    "linear": (
        "gpt",
        64,
        [dict(heads=4, ffn_dim=128)] * 2 + [dict(attention="linear", heads=4, ffn_dim=128)],
        "layer 2: attention 'linear' (Hugging Face GPT-2 has softmax attention only)",
    ),
    "bert-window": (
        "bert",
        192,
        [dict(heads=6, ffn_dim=384), dict(attention="sliding_window", window=32, heads=6, ffn_dim=384)],
        "layer 1: attention 'sliding_window' (window 32; Hugging Face BERT",
    ),
}


@pytest.mark.parametrize("case", REFUSED)
def test_inexpressible_subnets_are_refused(supernets, tmp_path, case):
    key, embed, layers, named = REFUSED[case]
    supernet = supernets[key]
    a = arch(supernet.spec, embed, layers)
    model = extract(supernet, a)
    with pytest.raises(SpecError) as e:
        save_hf(model, tmp_path / "out")
    message = str(e.value)
    assert named in message and message.endswith(REMOTE_HINT) and "\n" not in message, message
    assert message == hf_unsupported_reason(supernet.spec, a)
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_uniform_vit_exports_as_vit_for_image_classification(tmp_path):
    spec = variant("vit-tiny", [16, 32], [32])
    model = extract(random_supernet(spec, 9), arch(spec, 128, uniform(4, 2, 384, [32, 16, 32, 16])))
    save_hf(model, tmp_path)
    hf, info = transformers.AutoModelForImageClassification.from_pretrained(
        tmp_path, output_loading_info=True
    )
    assert_loaded_completely(info)
    assert type(hf).__name__ == "ViTForImageClassification"
    images = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        diff = max_diff(hf.eval()(pixel_values=images).logits, model(images))
    print(f"vit-tiny uniform: max |logits diff| = {diff:.2e}")
    assert diff < TOLERANCE


def test_speech_and_wrong_norm_are_refused(tmp_path):
    spec = variant("speech-tiny", [32], [32])
    model = extract(Supernet(spec, seed=0), arch(spec, 32, uniform(2, 2, 64, 32)))
    with pytest.raises(
        SpecError, match=r"^task 'speech': .*own modeling code instead \(trust_remote_code\)$"
    ):
        save_hf(model, tmp_path)
    post = variant("gpt-tiny", [32], [32], norm="post")
    reason = hf_unsupported_reason(post, arch(post, 64, uniform(2, 4, 128, 32)))
    assert reason.startswith("norm 'post' (Hugging Face GPT-2 is pre-norm") and reason.endswith(REMOTE_HINT)
