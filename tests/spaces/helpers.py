"""Test helpers for spaces."""

from __future__ import annotations

import torch

from supernas.spaces.spec import SpaceSpec


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
