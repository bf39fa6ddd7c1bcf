"""Deterministic example inputs for a space's task (calibration batches, tests, benchmarks)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from supernas.spaces.spec import SpaceSpec


@dataclass(frozen=True)
class Batch:
    inputs: torch.Tensor  # token ids (B, T), images (B, C, H, W) or waveforms (B, samples)
    targets: torch.Tensor  # next tokens (B, T) for a causal LM, class ids (B,) otherwise
    padding: torch.Tensor | None = None  # (B, T) True at real tokens

    def to(self, device: str | torch.device) -> Batch:
        return Batch(
            *(t.to(device) if t is not None else None for t in (self.inputs, self.targets, self.padding))
        )


def random_batch(spec: SpaceSpec, batch_size: int = 4, seq_len: int | None = None, seed: int = 0) -> Batch:
    """A random batch of the task's shape; the same seed gives the same tensors."""
    g = torch.Generator().manual_seed(seed)
    if spec.task == "vision":
        images = torch.randn(batch_size, spec.in_channels, spec.image_size, spec.image_size, generator=g)
        return Batch(images, torch.randint(0, spec.num_classes, (batch_size,), generator=g))
    if spec.task == "speech":  # the longest clip, as the keyword sets are padded to it
        wave = 0.1 * torch.randn(batch_size, spec.audio.max_samples, generator=g)
        return Batch(wave, torch.randint(0, spec.num_classes, (batch_size,), generator=g))
    t = min(seq_len or spec.max_seq_len, spec.max_seq_len)
    ids = torch.randint(0, spec.vocab_size, (batch_size, t + 1), generator=g)
    if spec.task == "causal_lm":
        return Batch(ids[:, :-1], ids[:, 1:])
    return Batch(ids[:, :-1], torch.randint(0, spec.num_classes, (batch_size,), generator=g))
