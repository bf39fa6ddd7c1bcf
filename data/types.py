"""Task data as values: the examples of one split, a task's train and held-out splits, and their batches.

Every reader (:mod:`supernas.data.task`, :mod:`supernas.data.speech`) returns these; nothing here reads a file.

The held-out split is fixed by position: every ``HELDOUT_EVERY``-th example (0, 5, 10, ...), at most
``MAX_HELDOUT`` of them, is held out and the rest trains, so a file sorted by label is still held out
across all its classes and the same file gives the same split on every machine. A supernet keeps its
held-out split beside its weights (``heldout.safetensors``), so every worker and every re-measurement
scores exactly those examples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from supernas.core.seeds import step_seed
from supernas.data.inputs import Batch

HELDOUT_EVERY = 5
MAX_HELDOUT = 1000
HELDOUT_BATCH_SIZE = 32  # one batching of the held-out split everywhere: the same batches, the same floats

Kind = Literal["text", "labeled_text", "images", "audio"]


@dataclass(frozen=True)
class TaskSplit:
    """Examples of one split: token ids (N, T) long with ``padding`` (N, T) bool (True at real tokens),
    or images (N, C, H, W) or waveforms (N, samples) float with ``padding`` None; ``labels`` (N,) long,
    or None for unlabeled text."""

    inputs: torch.Tensor
    padding: torch.Tensor | None = None
    labels: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.inputs.shape[0]

    def select(self, index: torch.Tensor) -> TaskSplit:
        """The examples at ``index``, text trimmed to the longest of them."""
        inputs = self.inputs[index]
        padding = None if self.padding is None else self.padding[index]
        if padding is not None and len(index):
            width = int(padding.sum(1).max())
            inputs, padding = inputs[:, :width], padding[:, :width]
        return TaskSplit(inputs, padding, None if self.labels is None else self.labels[index])

    def tensors(self) -> dict[str, torch.Tensor]:
        """The split as named tensors (for safetensors)."""
        named = {"inputs": self.inputs, "padding": self.padding, "labels": self.labels}
        return {k: v.contiguous() for k, v in named.items() if v is not None}

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor]) -> TaskSplit:
        return cls(tensors["inputs"], tensors.get("padding"), tensors.get("labels"))


@dataclass(frozen=True)
class TaskData:
    kind: Kind
    train: TaskSplit
    heldout: TaskSplit
    source: str  # description: what the examples are and how many, for provenance and supernet.json


def to_batch(split: TaskSplit) -> Batch:
    """A whole split as one batch; unlabeled text has no targets (None)."""
    return Batch(split.inputs, split.labels, split.padding)


def heldout_batches(split: TaskSplit, batch_size: int = HELDOUT_BATCH_SIZE) -> list[Batch]:
    """Every example of ``split`` in order, in batches of ``batch_size`` (each trimmed to its longest text)."""
    return [to_batch(split.select(torch.arange(start, min(start + batch_size, len(split))))) for start in range(0, len(split), batch_size)]


def batch_at(split: TaskSplit, step: int, batch_size: int, seed: int) -> Batch:
    """Random examples for training step ``step``: the same (seed, step) always gives the same batch."""
    g = torch.Generator().manual_seed(step_seed(seed, step))
    return to_batch(split.select(torch.randint(0, len(split), (batch_size,), generator=g)))


def split_index(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, held-out) positions of ``n`` examples: every ``HELDOUT_EVERY``-th held out, at most ``MAX_HELDOUT``."""
    held = torch.arange(0, n, HELDOUT_EVERY)[:MAX_HELDOUT]
    keep = torch.ones(n, dtype=torch.bool)
    keep[held] = False
    return torch.arange(n)[keep], held
