"""Byte-level text the project makes itself: no downloads, the same bytes on every run.

Default corpus: the Python standard library's own top-level ``*.py`` sources (every CPython install has
them), read in sorted file order up to a fixed number of bytes. It is split *by file* (every
``heldout_every``-th file is held out), so held-out text is never a neighbour window of a training
window. A user corpus (``--data corpus.txt``, any bytes) is a single file, so its held-out part is its
last tenth instead. Tokens are bytes (vocabulary 256), matching the byte-level LM spaces.

Training windows are a pure function of ``(seed, step)``, so a resumed run sees exactly the batches an
uninterrupted run would. Held-out batches are fixed, evenly spaced windows: no randomness at all.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from supernas.core.errors import NotFoundError, SpecError
from supernas.data.inputs import Batch
from supernas.data.types import heldout_batches

STDLIB_BYTES = 2_000_000
HELDOUT_FILE_EVERY = 10  # whole files: stdlib modules differ in length, so a tenth of them, not of bytes
FILE_HELDOUT_FRACTION = 0.1


@dataclass(frozen=True)
class TextData:
    """Byte tokens (uint8) for training and for held-out evaluation, and where they came from."""

    train: torch.Tensor
    heldout: torch.Tensor
    source: str
    train_files: tuple[str, ...] = ()
    heldout_files: tuple[str, ...] = ()


def _stdlib_files() -> list[Path]:
    """Top-level stdlib modules only: sub-packages (tests, idlelib) differ between installs."""
    return sorted(Path(os.path.dirname(os.__file__)).glob("*.py"))


@lru_cache(maxsize=4)
def stdlib_text(max_bytes: int = STDLIB_BYTES, heldout_every: int = HELDOUT_FILE_EVERY) -> TextData:
    """The first ``max_bytes`` of the stdlib sources; file i is held out when ``i % heldout_every == 0``."""
    train, heldout, train_files, heldout_files = bytearray(), bytearray(), [], []
    total = 0
    for i, path in enumerate(_stdlib_files()):
        if total >= max_bytes:
            break
        text = path.read_bytes()[: max_bytes - total]
        total += len(text)
        held = i % heldout_every == 0
        (heldout if held else train).extend(text)
        (heldout_files if held else train_files).append(path.name)
    return TextData(
        byte_tokens(train),
        byte_tokens(heldout),
        f"python {sys.version_info.major}.{sys.version_info.minor} stdlib sources, {total:,} bytes",
        tuple(train_files),
        tuple(heldout_files),
    )


def text_file(path: str | Path, heldout_fraction: float = FILE_HELDOUT_FRACTION) -> TextData:
    """Any file, read as bytes; its last ``heldout_fraction`` is held out (one contiguous tail)."""
    path = Path(path)
    try:
        found = path.is_file()
    except OSError as e:  # a name too long, say
        raise NotFoundError(f"data {str(path)[:80]!r}: not a usable path ({e.strerror})") from None
    if not found:
        raise NotFoundError(f"{path}: no such file")
    data = path.read_bytes()
    if not data:
        raise SpecError(f"{path}: empty (no text)")
    cut = int(len(data) * (1 - heldout_fraction))
    return TextData(
        byte_tokens(data[:cut]),
        byte_tokens(data[cut:]),
        f"{path.name}, {len(data):,} bytes",
        (path.name,),
        (path.name,),
    )


def load_text(path: str | Path | None) -> TextData:
    """A user corpus, or the stdlib text when no path is given."""
    return stdlib_text() if path is None else text_file(path)


def byte_tokens(data: bytes | bytearray) -> torch.Tensor:
    """Bytes as a uint8 token tensor (empty input gives an empty tensor, which ``torch.frombuffer``
    refuses)."""
    return torch.frombuffer(bytearray(data), dtype=torch.uint8) if data else torch.zeros(0, dtype=torch.uint8)


@dataclass(frozen=True)
class TextWindows:
    """The windows of ``seq_len + 1`` bytes of a text, by start (:class:`~supernas.data.types.Examples`):
    inputs are a window's first ``seq_len`` bytes, targets the same shifted by one."""

    tokens: torch.Tensor
    seq_len: int
    what: str = "training text"  # for the error when the text is too short

    def __post_init__(self) -> None:
        if self.tokens.numel() < self.seq_len + 1:
            raise SpecError(
                f"{self.what}: {self.tokens.numel():,} bytes of text, need at least {self.seq_len + 1:,}"
            )

    def __len__(self) -> int:
        return self.tokens.numel() - self.seq_len

    def take(self, positions: torch.Tensor) -> Batch:
        w = self.tokens[positions[:, None] + torch.arange(self.seq_len + 1)].long()  # (B, seq_len + 1)
        return Batch(w[:, :-1], w[:, 1:])


def heldout_windows(tokens: torch.Tensor, seq_len: int, batch_size: int, n_batches: int) -> list[Batch]:
    """``n_batches`` fixed batches of non-overlapping windows spread evenly over the held-out text."""
    windows = batch_size * n_batches
    if tokens.numel() < windows * (seq_len + 1):
        raise SpecError(
            f"held-out text: {tokens.numel():,} bytes of text, need at least {windows * (seq_len + 1):,}"
        )
    stride = (tokens.numel() - seq_len - 1) // max(windows - 1, 1)
    return heldout_batches(
        TextWindows(tokens, seq_len, "held-out text"), batch_size, torch.arange(windows) * stride
    )
