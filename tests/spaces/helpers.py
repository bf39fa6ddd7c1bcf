"""Test helpers for spaces."""

from __future__ import annotations

from supernas.spaces import SpaceSpec


def without_quantization(spec: SpaceSpec) -> SpaceSpec:
    """The same space with every layer at 32-bit weights and activations."""
    return spec.model_copy(update={"layer": spec.layer.model_copy(update=dict(weight_bits=[32], act_bits=[32]))})
