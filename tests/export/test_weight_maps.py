"""The GPT-2 and BERT weight-name maps of ``spaces/pretrained.py``, checked against Hugging Face itself.

A randomly initialised ``transformers`` model at the built-in space's largest size (gpt2-small = GPT-2
124M, bert-mini = MiniLM-L6 shape) has EVERY parameter drawn at random, biases and LayerNorm parameters
included (transformers starts those at 0 and 1, which would hide one the map never loads). Its checkpoint
goes through ``Supernet.load_weights``; the supernet's largest subnet at full precision must then
compute what transformers computes: GPT-2 logits, BERT ``last_hidden_state`` (with padding and token
types). A negative control changes one bias on the transformers side and shows the comparison catches it.

transformers is a dev dependency: imported plainly, so a missing install fails here instead of skipping.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch
import transformers

from supernas.models.parent import full_precision
from supernas.models.supernet import Supernet
from supernas.spaces.architecture import largest
from supernas.spaces.spec import load_spec
from tests.spaces.helpers import padded_token_batch

TOLERANCE = 1e-4  # fp32, same arithmetic up to operation order
CAUGHT = 1e-3  # a changed bias must move the outputs by at least this much


def randomise(model: torch.nn.Module, seed: int) -> None:
    """Every parameter random: LayerNorm weights around 1, everything else (biases too) around 0."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            is_norm_weight = name.endswith("weight") and p.dim() == 1
            p.copy_(
                torch.randn(p.shape, generator=g) * (0.1 if is_norm_weight else 0.05)
                + (1.0 if is_norm_weight else 0.0)
            )


@contextmanager
def zeroed(tensor: torch.Tensor) -> Iterator[None]:
    """The tensor set to zero in place for the block, restored after."""
    saved = tensor.detach().clone()
    with torch.no_grad():
        tensor.zero_()
    try:
        yield
    finally:
        with torch.no_grad():
            tensor.copy_(saved)


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


# ---------------------------------------------------------------------------- GPT-2


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory):
    spec = full_precision(load_spec("gpt2-small"))
    arch = largest(spec)
    layer = arch.layers[0]
    assert layer.attention.value == "mha" and layer.weight_bits == 32 and layer.act_bits == 32
    assert spec.tie_embeddings and spec.norm == "pre" and spec.activation == "gelu_tanh"
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=spec.vocab_size,
        n_positions=spec.max_seq_len,
        n_embd=arch.embed_dim,
        n_layer=arch.depth,
        n_head=layer.heads,
        n_inner=layer.ffn_dim,
        activation_function="gelu_new",  # the tanh approximation
        layer_norm_epsilon=spec.norm_eps,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        tie_word_embeddings=True,
        attn_implementation="eager",
    )
    assert config.n_embd // config.n_head == spec.head_dim
    hf = transformers.GPT2LMHeadModel(config).eval()
    randomise(hf, seed=1)
    directory = tmp_path_factory.mktemp("gpt2")
    hf.save_pretrained(directory)  # model.safetensors under the names a GPT-2 checkpoint uses
    supernet = Supernet(spec, seed=0).eval()
    report = supernet.load_weights(directory / "model.safetensors")
    supernet.activate(arch)
    ids = torch.randint(0, spec.vocab_size, (2, 24), generator=torch.Generator().manual_seed(2))
    return hf, supernet, report, ids


def gpt2_logits(hf, supernet, ids) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        return hf(input_ids=ids).logits, supernet(ids)


def test_gpt2_checkpoint_loads_every_supernet_weight(gpt2):
    hf, supernet, report, _ = gpt2
    assert report.missing == [], report.summary()
    assert report.shape_mismatch == [] and report.unexpected == [], report.summary()
    assert sorted(report.loaded) == sorted(supernet.state_dict())
    # every GPT-2 tensor was consumed; the fused c_attn becomes three supernet tensors
    n_hf = len([k for k in hf.state_dict() if k != "lm_head.weight"])  # tied to wte, not saved
    assert len(report.loaded) == n_hf + 2 * 2 * supernet.spec.max_depth


def test_gpt2_logits_equal_transformers(gpt2):
    hf, supernet, _, ids = gpt2
    theirs, ours = gpt2_logits(hf, supernet, ids)
    assert ours.shape == theirs.shape == (*ids.shape, supernet.spec.vocab_size)
    assert theirs.std().item() > 0.1  # the outputs are not trivially near zero
    diff = max_diff(ours, theirs)
    print(f"gpt2-small logits: max |supernas - transformers| = {diff:.2e}")
    assert diff < TOLERANCE


@pytest.mark.parametrize("parameter", ["h.11.mlp.c_proj.bias", "h.0.attn.c_attn.bias", "ln_f.bias"])
def test_gpt2_comparison_catches_a_changed_bias(gpt2, parameter):
    hf, supernet, _, ids = gpt2
    p = hf.transformer.get_parameter(parameter)
    if parameter.endswith("c_attn.bias"):  # only the value third: q/k biases can cancel in softmax
        target = p[2 * hf.config.n_embd :]
    else:
        target = p
    with zeroed(target):
        theirs, ours = gpt2_logits(hf, supernet, ids)
    diff = max_diff(ours, theirs)
    print(f"gpt2-small logits with {parameter} zeroed in transformers only: max diff = {diff:.2e}")
    assert diff > CAUGHT


# ---------------------------------------------------------------------------- BERT


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    spec = full_precision(load_spec("bert-mini"))
    arch = largest(spec)
    layer = arch.layers[0]
    assert layer.attention.value == "mha" and layer.weight_bits == 32 and layer.act_bits == 32
    assert spec.norm == "post" and spec.activation == "gelu" and spec.type_vocab_size == 2
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=spec.vocab_size,
        hidden_size=arch.embed_dim,
        num_hidden_layers=arch.depth,
        num_attention_heads=layer.heads,
        intermediate_size=layer.ffn_dim,
        hidden_act="gelu",
        max_position_embeddings=spec.max_seq_len,
        type_vocab_size=spec.type_vocab_size,
        layer_norm_eps=spec.norm_eps,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        attn_implementation="eager",
    )
    assert config.hidden_size // config.num_attention_heads == spec.head_dim
    hf = transformers.BertModel(config).eval()
    randomise(hf, seed=3)
    path = tmp_path_factory.mktemp("bert") / "pytorch_model.bin"
    torch.save(hf.state_dict(), path)  # the torch state_dict path of load_weights (GPT-2 takes safetensors)
    supernet = Supernet(spec, seed=0).eval()
    report = supernet.load_weights(path)
    supernet.activate(arch)
    ids, mask, token_types = padded_token_batch(spec, seed=4)
    return hf, supernet, report, (ids, mask, token_types)


def bert_hidden(hf, supernet, batch) -> tuple[torch.Tensor, torch.Tensor]:
    ids, mask, token_types = batch
    with torch.no_grad():
        theirs = hf(input_ids=ids, attention_mask=mask, token_type_ids=token_types).last_hidden_state
        ours = supernet.encode(ids, padding=mask.bool(), token_types=token_types)
    return theirs, ours


def test_bert_checkpoint_loads_every_supernet_weight(bert):
    hf, supernet, report, _ = bert
    # BertModel has no classification head; the supernet's classifier keeps its own initialisation
    assert report.missing == ["classifier.bias", "classifier.weight"], report.summary()
    assert report.shape_mismatch == [], report.summary()
    assert sorted(report.unexpected) == ["pooler.dense.bias", "pooler.dense.weight"], report.summary()
    assert sorted(report.loaded) == sorted(
        k for k in supernet.state_dict() if not k.startswith("classifier.")
    )
    assert len(report.loaded) == len(hf.state_dict()) - 2  # every BERT tensor but the pooler


def test_bert_hidden_states_equal_transformers(bert):
    hf, supernet, _, batch = bert
    theirs, ours = bert_hidden(hf, supernet, batch)
    assert ours.shape == theirs.shape == (*batch[0].shape, supernet.spec.max_embed)
    diff = max_diff(ours, theirs)
    real = batch[1].bool()
    print(
        f"bert-mini last_hidden_state: max |supernas - transformers| = {diff:.2e} "
        f"(real tokens {max_diff(ours[real], theirs[real]):.2e})"
    )
    assert diff < TOLERANCE


@pytest.mark.parametrize(
    "parameter",
    [
        "encoder.layer.5.output.dense.bias",
        "encoder.layer.0.attention.self.value.bias",
        "embeddings.LayerNorm.bias",
    ],
)
def test_bert_comparison_catches_a_changed_bias(bert, parameter):
    hf, supernet, _, batch = bert
    with zeroed(hf.get_parameter(parameter)):
        theirs, ours = bert_hidden(hf, supernet, batch)
    diff = max_diff(ours, theirs)
    print(f"bert-mini last_hidden_state with {parameter} zeroed in transformers only: max diff = {diff:.2e}")
    assert diff > CAUGHT


def test_token_types_and_padding_matter(bert):
    """The BERT batch exercises segment embeddings and the padding mask (else their maps go unchecked)."""
    hf, supernet, _, (ids, mask, token_types) = bert
    base, _ = bert_hidden(hf, supernet, (ids, mask, token_types))
    no_types, _ = bert_hidden(hf, supernet, (ids, mask, torch.zeros_like(token_types)))
    no_mask, _ = bert_hidden(hf, supernet, (ids, torch.ones_like(mask), token_types))
    real = mask.bool()
    assert max_diff(base[real], no_types[real]) > CAUGHT
    assert max_diff(base[real], no_mask[real]) > CAUGHT
