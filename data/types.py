"""Task data as values: the examples of one split, a task's train and held-out splits, and their batches.

Every reader (:mod:`supernas.data.task`, :mod:`supernas.data.speech`) returns these; nothing here reads a
file.

The held-out split is fixed by position: every ``HELDOUT_EVERY``-th example (0, 5, 10, ...), at most
``MAX_HELDOUT`` of them, is held out and the rest trains, so a file sorted by label is still held out
across all its classes and the same file gives the same split on every machine. A supernet keeps its
held-out split beside its weights (``heldout.safetensors``), so every worker and every re-measurement
scores exactly those examples.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal, Protocol

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

    def take(self, positions: torch.Tensor) -> Batch:
        """The examples at ``positions`` as one batch (:class:`Examples`)."""
        return to_batch(self.select(positions))

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


class Examples(Protocol):
    """What batches are drawn from: positions ``0 .. len - 1``, each one example (a task split's example,
    or a text's window starting there), taken together as one batch."""

    def __len__(self) -> int: ...

    def take(self, positions: torch.Tensor) -> Batch: ...


def batch_at(examples: Examples, step: int, batch_size: int, seed: int) -> Batch:
    """Random examples for training step ``step``: the same (seed, step) always gives the same batch, so a
    resumed run sees exactly the batches an uninterrupted run would."""
    g = torch.Generator().manual_seed(step_seed(seed, step))
    return examples.take(torch.randint(0, len(examples), (batch_size,), generator=g))


def heldout_batches(
    examples: Examples, batch_size: int = HELDOUT_BATCH_SIZE, positions: torch.Tensor | None = None
) -> list[Batch]:
    """Fixed batches of ``batch_size``: the examples at ``positions`` (default: every one, in order)."""
    positions = torch.arange(len(examples)) if positions is None else positions
    return [examples.take(chunk) for chunk in positions.split(batch_size)]


def split_index(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, held-out) positions of ``n`` examples: every ``HELDOUT_EVERY``-th held out,
    at most ``MAX_HELDOUT``."""
    held = torch.arange(0, n, HELDOUT_EVERY)[:MAX_HELDOUT]
    keep = torch.ones(n, dtype=torch.bool)
    keep[held] = False
    return torch.arange(n)[keep], held


@dataclass(frozen=True)
class HeldoutData:
    """The held-out examples a supernet keeps beside its weights (and saves with them), so one-shot metrics
    score exactly these wherever it is loaded: a byte-level LM's held-out bytes (``text``, uint8), or a task
    split (``task``) with its data's description (``source``). Empty when the supernet was given no data."""

    text: torch.Tensor | None = None
    task: TaskSplit | None = None
    source: str | None = None

    @cached_property
    def batches(self) -> list[Batch] | None:
        """The task split in its fixed batches (:func:`heldout_batches`), made once; None without one."""
        return None if self.task is None else heldout_batches(self.task)
