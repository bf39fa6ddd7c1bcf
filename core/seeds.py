"""One random stream per step of a seeded run, so any step's draws can be recreated on their own.

Batches and random subnets of step ``s`` depend only on ``(seed, s)``: a resumed run draws exactly what an
uninterrupted one would have, with no generator state to checkpoint.
"""

from __future__ import annotations

STEP_SEED_STRIDE = 1_000_003  # prime; (seed, step) pairs never share a seed while step stays below it


def step_seed(seed: int, step: int) -> int:
    """The seed of step ``step`` of a run seeded ``seed``; one formula everywhere keeps past runs' draws."""
    return seed * STEP_SEED_STRIDE + step
