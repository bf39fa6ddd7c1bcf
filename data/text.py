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
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from supernas.core.errors import NotFoundError, SpecError
from supernas.data.inputs import Batch

STDLIB_BYTES = 2_000_000
HELDOUT_EVERY = 10
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
def stdlib_text(max_bytes: int = STDLIB_BYTES, heldout_every: int = HELDOUT_EVERY) -> TextData:
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
        byte_tokens(train), byte_tokens(heldout), f"python {sys.version_info.major}.{sys.version_info.minor} stdlib sources, {total:,} bytes",
        tuple(train_files), tuple(heldout_files),
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
    return TextData(byte_tokens(data[:cut]), byte_tokens(data[cut:]), f"{path.name}, {len(data):,} bytes", (path.name,), (path.name,))


def load_text(path: str | Path | None) -> TextData:
    """A user corpus, or the stdlib text when no path is given."""
    return stdlib_text() if path is None else text_file(path)


def byte_tokens(data: bytes | bytearray) -> torch.Tensor:
    """Bytes as a uint8 token tensor (empty input gives an empty tensor, which ``torch.frombuffer`` refuses)."""
    return torch.frombuffer(bytearray(data), dtype=torch.uint8) if data else torch.zeros(0, dtype=torch.uint8)


def _windows(tokens: torch.Tensor, starts: torch.Tensor, seq_len: int) -> Batch:
    w = tokens[starts[:, None] + torch.arange(seq_len + 1)].long()  # (B, seq_len + 1)
    return Batch(w[:, :-1], w[:, 1:])


def _need(tokens: torch.Tensor, n: int, what: str) -> None:
    if tokens.numel() < n:
        raise SpecError(f"{what}: {tokens.numel():,} bytes of text, need at least {n:,}")


def batch_at(tokens: torch.Tensor, step: int, seq_len: int, batch_size: int, seed: int) -> Batch:
    """Random windows for training step ``step``: the same (seed, step) always gives the same batch."""
    _need(tokens, seq_len + 1, "training text")
    g = torch.Generator().manual_seed(seed * 1_000_003 + step)  # one stream per (seed, step)
    starts = torch.randint(0, tokens.numel() - seq_len, (batch_size,), generator=g)
    return _windows(tokens, starts, seq_len)


def batches(tokens: torch.Tensor, seq_len: int, batch_size: int, seed: int, start: int = 0) -> Iterator[Batch]:
    """Training batches for steps ``start``, ``start + 1``, ... (endless)."""
    step = start
    while True:
        yield batch_at(tokens, step, seq_len, batch_size, seed)
        step += 1


def heldout_batches(tokens: torch.Tensor, seq_len: int, batch_size: int, n_batches: int) -> list[Batch]:
    """``n_batches`` fixed batches of non-overlapping windows spread evenly over the held-out text."""
    windows = batch_size * n_batches
    _need(tokens, windows * (seq_len + 1), "held-out text")
    stride = (tokens.numel() - seq_len - 1) // max(windows - 1, 1)
    starts = torch.arange(windows) * stride
    return [_windows(tokens, chunk, seq_len) for chunk in starts.split(batch_size)]
