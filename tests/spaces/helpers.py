"""Test helpers for spaces."""

from __future__ import annotations

import torch

from supernas.spaces import SpaceSpec


def without_quantization(spec: SpaceSpec) -> SpaceSpec:
    """The same space with every layer at 32-bit weights and activations."""
    return spec.model_copy(update={"layer": spec.layer.model_copy(update=dict(weight_bits=[32], act_bits=[32]))})


def padded_token_batch(spec: SpaceSpec, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(ids, attention mask, token types) of 3 x 20: rows padded at different lengths, both segment types."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, spec.vocab_size, (3, 20), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 13:] = 0
    mask[2, 5:] = 0
    token_types = torch.zeros_like(ids)
    token_types[:, 8:] = 1
    token_types[2, 3:] = 1
    return ids, mask, token_types
