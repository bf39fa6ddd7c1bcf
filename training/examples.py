"""What distillation trains on: the training part of the user's data in seeded batches, and fixed
held-out batches to report on. The parent is the teacher, so no labels are needed: unlabeled text serves
an encoder, any text a byte-level LM. (Text examples come trimmed to the longest in their batch.)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from supernas.core.errors import SpecError
from supernas.data.inputs import Batch
from supernas.data.task import is_byte_lm, load_data
from supernas.data.text import TextData, TextWindows
from supernas.data.types import Examples, batch_at, heldout_batches
from supernas.spaces.spec import SpaceSpec

DEFAULT_DATA = {"encoder_classification": "stdlib-prose", "vision": "digits"}


@dataclass(frozen=True)
class DistillationData:
    train: Examples
    heldout: Examples
    source: str

    def batch(self, step: int, batch_size: int, seed: int) -> Batch:
        """The training batch of step ``step``: a function of (seed, step) only, so resuming is exact."""
        return batch_at(self.train, step, batch_size, seed)

    def heldout_batches(self, batches: int, batch_size: int) -> list[Batch]:
        """The first ``batches * batch_size`` held-out examples (spread evenly over held-out text)."""
        n = min(batches * batch_size, len(self.heldout))
        positions = torch.linspace(0, len(self.heldout) - 1, n).long() if n else torch.arange(0)
        return heldout_batches(self.heldout, batch_size, positions)


def distillation_data(spec: SpaceSpec, data: str | None) -> DistillationData:
    """``data`` (a file or a built-in name; default: stdlib-prose for an encoder, digits for vision, the
    standard library's source for a byte-level LM) for ``spec``."""
    if data is None and not is_byte_lm(spec):
        data = DEFAULT_DATA.get(spec.task)
        if data is None:
            raise SpecError(f"space '{spec.name}' ({spec.task}) needs --data to distil on")
    loaded = load_data(data, spec)
    if isinstance(loaded, TextData):
        return DistillationData(
            TextWindows(loaded.train, spec.seq_len, "training text"),
            TextWindows(loaded.heldout, spec.seq_len, "held-out text"),
            loaded.source,
        )
    return DistillationData(loaded.train, loaded.heldout, loaded.source)
