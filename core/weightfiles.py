"""Writing safetensors files with the permissions a user expects, and fingerprinting them.

safetensors creates its files readable by their owner only (0600), while everything else supernas
writes (config.json, reports) follows the user's umask; a checkpoint shared with a group or served by
another account then fails to load for a reason nobody sees. Every weights file goes through here.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
from safetensors.torch import save_file


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_weights(
    tensors: dict[str, torch.Tensor], path: str | Path, metadata: dict[str, str] | None = None
) -> Path:
    """``save_file``, then the mode an ordinary new file gets (0666 less the umask)."""
    path = Path(path)
    save_file(tensors, path, metadata=metadata)
    path.chmod(0o666 & ~_umask())
    return path


def weights_digest(path: str | Path) -> str:
    """SHA-256 (hex) of a weights file's bytes: the one fingerprint of a supernet's weights, so a training
    checkpoint's check and the block library's store key agree on "the same weights". Read in chunks: a
    real model's file need not be held in memory."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
