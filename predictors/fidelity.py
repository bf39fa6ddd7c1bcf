"""Fidelity to the parent: does a subnet of a pretrained encoder still embed text as its parent does?

The parent is the dense pretrained model the supernet came from (``supernas from-pretrained``), at full
precision; after ``supernas adapt`` changed the shared weights it is the copy kept beside them
(:mod:`supernas.models.parent`). Sentence embeddings are the mean over real tokens of the final hidden
states (sentence-transformers' pooling for MiniLM).

- ``embedding_fidelity``: mean cosine between a subnet's and the parent's embedding of each held-out
  sentence. A narrower subnet (embedding width k) is compared with the parent's first k channels: the
  nesting that width slicing assumes (MatFormer).
- ``similarity_rank``: Spearman correlation between the subnet's and the parent's cosine similarities of
  all held-out sentence pairs: does the small model still rank "which texts are alike" as the parent does?
  It needs no common width, and it is what an embedding model is used for (search, clustering, dedup).

Held-out sentences: ``sentences`` (default 256) after the first ``skip`` (default 0) of the context's
held-out batches (a job's ``data``), else of the held-out split kept with the supernet
(``from-pretrained`` keeps the stdlib docstring prose of :mod:`supernas.data.prose` by default), else
of that prose's held-out split; text is tokenized with MiniLM's own WordPiece tokenizer. A search
scores the first sentences; ``verify --option skip=N`` re-measures a chosen model on sentences the
search never saw.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from scipy.stats import spearmanr

from supernas.core.errors import SpecError
from supernas.data.inputs import Batch
from supernas.data.task import load_task_data
from supernas.data.types import heldout_batches
from supernas.models.ops import mean_pool
from supernas.models.parent import parent_supernet
from supernas.models.supernet import Supernet
from supernas.predictors.base import CostClass, Metric, MetricContext, int_option, register
from supernas.spaces.architecture import Architecture


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


def sentence_range(batches: list[Batch], skip: int, n: int) -> list[Batch]:
    """Examples ``skip`` to ``skip + n`` of ``batches``, as batches cut where needed; it is an error when
    fewer than ``skip + 1`` exist (fewer than ``n`` after them is allowed: the split may be short)."""
    available = sum(len(b.inputs) for b in batches)
    if skip >= available:
        raise SpecError(f"option skip={skip}: the held-out split has only {available} sentences")
    out, start, end = [], 0, skip + n
    for batch in batches:
        size = len(batch.inputs)
        lo, hi = max(skip - start, 0), min(end - start, size)
        if lo < hi:
            out.append(
                Batch(
                    *(None if t is None else t[lo:hi] for t in (batch.inputs, batch.targets, batch.padding))
                )
            )
        start += size
    return out


def pair_similarities(embeddings: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of every unordered pair of rows, (N*(N-1)/2,)."""
    unit = F.normalize(embeddings.double(), dim=1)
    rows, cols = torch.triu_indices(len(unit), len(unit), offset=1)
    return (unit @ unit.T)[rows, cols]


class _ParentFidelity(Metric):
    direction = "maximize"
    unit = "1"
    cost = CostClass.one_shot
    options: ClassVar[dict[str, object]] = {"sentences": 256, "skip": 0}

    def check_applicable(self, spec) -> None:
        if spec.task != "encoder_classification":
            raise SpecError(
                f"metric '{self.name}' compares sentence embeddings: it needs an encoder space, "
                f"not {spec.task} ('{spec.name}')"
            )

    def reference(self, context: MetricContext) -> tuple[list[Batch], torch.Tensor]:
        """The held-out batches and the parent's embeddings of them, made once per context."""
        n, skip = int_option(self, "sentences"), int_option(self, "skip", minimum=0)
        cache = context.__dict__.setdefault("_fidelity_reference", {})
        if (skip, n) not in cache:
            batches = context.heldout or context.supernet.heldout.batches
            if not batches:
                batches = heldout_batches(load_task_data("stdlib-prose", context.spec).heldout)
            batches = sentence_range(batches, skip, n)
            parent, arch = parent_supernet(context.supernet)
            cache[skip, n] = batches, sentence_embeddings(parent, arch, batches)
        return cache[skip, n]

    def evaluate(self, arch: Architecture, context: MetricContext) -> float:
        self.check_applicable(context.spec)
        batches, parent = self.reference(context)
        return self.compare(sentence_embeddings(context.supernet, arch, batches), parent)

    def compare(self, subnet: torch.Tensor, parent: torch.Tensor) -> float: ...


@register
class EmbeddingFidelity(_ParentFidelity):
    name = "embedding_fidelity"
    description = "mean cosine of the subnet's sentence embeddings to the parent model's (held-out text)"

    def compare(self, subnet: torch.Tensor, parent: torch.Tensor) -> float:
        return float(
            F.cosine_similarity(subnet.double(), parent[:, : subnet.shape[1]].double(), dim=1).mean()
        )


@register
class SimilarityRank(_ParentFidelity):
    name = "similarity_rank"
    description = (
        "Spearman between the subnet's and the parent's pairwise sentence similarities (held-out text)"
    )

    def compare(self, subnet: torch.Tensor, parent: torch.Tensor) -> float:
        return float(
            spearmanr(pair_similarities(subnet).numpy(), pair_similarities(parent).numpy()).statistic
        )
