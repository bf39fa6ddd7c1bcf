"""Fidelity to the parent: does a subnet of a pretrained encoder still embed text as its parent does?

The parent is the dense pretrained model the supernet came from (``supernas from-pretrained``), at full
precision; after ``supernas adapt`` changed the shared weights it is the copy kept beside them
(:mod:`supernas.spaces.parent`). Sentence embeddings are the mean over real tokens of the final hidden
states (sentence-transformers' pooling for MiniLM).

- ``embedding_fidelity``: mean cosine between a subnet's and the parent's embedding of each held-out
  sentence. A narrower subnet (embedding width k) is compared with the parent's first k channels: the
  nesting that width slicing assumes (MatFormer).
- ``similarity_rank``: Spearman correlation between the subnet's and the parent's cosine similarities of
  all held-out sentence pairs: does the small model still rank "which texts are alike" as the parent does?
  It needs no common width, and it is what an embedding model is used for (search, clustering, dedup).

Held-out sentences: the context's held-out batches (a job's ``data``), else the held-out text kept with
the supernet, else 256 held-out sentences of the Python standard library's docstrings
(:mod:`supernas.spaces.prose`), tokenized with MiniLM's own WordPiece tokenizer.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from scipy.stats import spearmanr

from supernas.spaces import Architecture, Supernet
from supernas.spaces.errors import SpecError
from supernas.spaces.inputs import Batch
from supernas.spaces.ops import mean_pool
from supernas.spaces.parent import parent_supernet
from supernas.spaces.prose import prose_split
from supernas.spaces.tokenizer import wordpiece_encode

from .base import CostClass, Metric, MetricContext, register
from .costs import int_option


@torch.no_grad()
def sentence_embeddings(supernet: Supernet, arch: Architecture, batches: list[Batch]) -> torch.Tensor:
    """Mean-pooled final hidden states (N, width) of ``arch`` for every sentence of ``batches``."""
    was_training = supernet.training
    supernet.eval()
    try:
        with supernet.active(arch):
            out = [mean_pool(supernet.encode(b.inputs, b.padding), b.padding) for b in batches]
    finally:
        supernet.train(was_training)
    return torch.cat(out)


def prose_batches(n_sentences: int, seq_len: int, batch_size: int = 32) -> list[Batch]:
    """The first ``n_sentences`` held-out stdlib docstring sentences as WordPiece batches."""
    _, heldout = prose_split()
    sentences = heldout[:n_sentences]
    batches = []
    for start in range(0, len(sentences), batch_size):
        ids, mask = wordpiece_encode(sentences[start : start + batch_size], seq_len)
        batches.append(Batch(ids, torch.zeros(len(ids), dtype=torch.long), mask))
    return batches


def pair_similarities(embeddings: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of every unordered pair of rows, (N*(N-1)/2,)."""
    unit = F.normalize(embeddings.double(), dim=1)
    rows, cols = torch.triu_indices(len(unit), len(unit), offset=1)
    return (unit @ unit.T)[rows, cols]


class _ParentFidelity(Metric):
    direction = "maximize"
    unit = "1"
    cost = CostClass.one_shot
    options: ClassVar[dict[str, object]] = {"sentences": 256, "seq_len": 128}

    def check_applicable(self, spec) -> None:
        if spec.task != "encoder_classification":
            raise SpecError(f"metric '{self.name}' compares sentence embeddings: it needs an encoder space, not {spec.task} ('{spec.name}')")

    def batches(self, context: MetricContext) -> list[Batch]:
        if context.heldout is not None:
            return context.heldout
        stored = getattr(context.supernet, "heldout_batches", None)
        if stored:
            return stored
        seq_len = min(int_option(self, "seq_len"), context.spec.seq_len)
        context.heldout = prose_batches(int_option(self, "sentences"), seq_len)
        return context.heldout

    def parent_embeddings(self, context: MetricContext, batches: list[Batch]) -> torch.Tensor:
        """The parent's embeddings of the batches, computed once per context."""
        cache = context.__dict__.setdefault("_parent_embeddings", {})
        key = id(batches)
        if key not in cache:
            parent, arch = parent_supernet(context.supernet)
            cache[key] = sentence_embeddings(parent, arch, batches)
        return cache[key]

    def evaluate(self, arch: Architecture, context: MetricContext) -> float:
        self.check_applicable(context.spec)
        batches = self.batches(context)
        parent = self.parent_embeddings(context, batches)
        return self.compare(sentence_embeddings(context.supernet, arch, batches), parent)

    def compare(self, subnet: torch.Tensor, parent: torch.Tensor) -> float: ...


@register
class EmbeddingFidelity(_ParentFidelity):
    name = "embedding_fidelity"
    description = "mean cosine of the subnet's sentence embeddings to the parent model's (held-out text)"

    def compare(self, subnet: torch.Tensor, parent: torch.Tensor) -> float:
        return float(F.cosine_similarity(subnet.double(), parent[:, : subnet.shape[1]].double(), dim=1).mean())


@register
class SimilarityRank(_ParentFidelity):
    name = "similarity_rank"
    description = "Spearman between the subnet's and the parent's pairwise sentence similarities (held-out text)"

    def compare(self, subnet: torch.Tensor, parent: torch.Tensor) -> float:
        return float(spearmanr(pair_similarities(subnet).numpy(), pair_similarities(parent).numpy()).statistic)
