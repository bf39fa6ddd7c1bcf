"""Speech task data: labeled WAV clips listed in a manifest, read as a speech space expects them.

``--data`` (and a job's ``data:``) names a directory holding ``manifest.csv``, or the manifest itself,
with a header naming ``path`` (a WAV file, relative to the manifest) and ``label`` (a class id), and
optionally ``split`` (``train`` or ``heldout``; ``supernas data keywords`` writes one split by speaker).
Without ``split``, every ``HELDOUT_EVERY``-th clip is held out, as for other task data.

Each clip must be what the space reads: 16-bit PCM, mono, at the space's sample rate, not empty and at
most ``max_seconds`` long. Shorter clips are zero-padded at the end to that length. Anything else is a
one-line ``SpecError`` naming the file and what is wrong, before any training starts.
"""

from __future__ import annotations

import csv
import io
import wave
from pathlib import Path

import numpy as np
import torch

from supernas.core.errors import NotFoundError, SpecError
from supernas.data.types import TaskData, TaskSplit, split_index
from supernas.spaces.spec import SpaceSpec

MANIFEST = "manifest.csv"
SPLITS = ("train", "heldout")


def read_wav(path: Path, spec: SpaceSpec) -> np.ndarray:
    """A clip as float32 samples in [-1, 1), checked against the space's audio format."""
    audio = spec.audio
    try:
        with wave.open(str(path), "rb") as clip:
            channels, width, rate, frames = (
                clip.getnchannels(),
                clip.getsampwidth(),
                clip.getframerate(),
                clip.getnframes(),
            )
            data = clip.readframes(frames)
    except FileNotFoundError:
        raise NotFoundError(f"{path}: no such file") from None
    except (wave.Error, EOFError, OSError) as e:
        raise SpecError(f"{path}: not a readable WAV file ({e})") from None
    if channels != 1:
        raise SpecError(f"{path}: {channels} channels; space '{spec.name}' reads mono audio (1 channel)")
    if width != 2:
        raise SpecError(f"{path}: {8 * width}-bit samples; space '{spec.name}' reads 16-bit PCM")
    if rate != audio.sample_rate:
        raise SpecError(
            f"{path}: sample rate {rate} Hz; space '{spec.name}' reads {audio.sample_rate} Hz "
            "(resample it first)"
        )
    if frames == 0:
        raise SpecError(f"{path}: empty (no samples)")
    if frames > audio.max_samples:
        raise SpecError(
            f"{path}: {frames / rate:.3f} s long; space '{spec.name}' reads clips of at most "
            f"{audio.max_seconds:g} s ({audio.max_samples} samples)"
        )
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


def _manifest(source: Path) -> Path:
    if source.is_dir():
        path = source / MANIFEST
        if not path.is_file():
            raise NotFoundError(
                f"{source}: no {MANIFEST} "
                "(a speech data directory lists its clips there; see 'supernas data keywords')"
            )
        return path
    if not source.is_file():
        raise NotFoundError(f"{source}: no such file or directory")
    if source.suffix.lower() != ".csv":
        raise SpecError(f"{source}: speech data is a directory with {MANIFEST} or such a .csv manifest")
    return source


def _rows(path: Path) -> list[dict[str, str]]:
    try:
        content = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise SpecError(f"{path}: not UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(content, newline=""))
    header = reader.fieldnames or []
    for column in ("path", "label"):
        if column not in header:
            raise SpecError(f"{path}: no '{column}' column (header: {', '.join(header) or 'empty'})")
    rows = list(reader)
    if len(rows) < 2:
        raise SpecError(f"{path}: {len(rows)} clips; needs at least 2 (some are held out)")
    return rows


def _label(path: Path, line: int, value: str | None, spec: SpaceSpec) -> int:
    text = (value or "").strip()
    if not text.lstrip("-").isdigit() or not 0 <= int(text) < spec.num_classes:
        raise SpecError(
            f"{path}: line {line}: label {value!r} is not a class of space '{spec.name}' "
            f"(0-{spec.num_classes - 1})"
        )
    return int(text)


def load_speech_data(source: str | Path, spec: SpaceSpec) -> TaskData:
    """The clips ``source`` lists, padded to the space's clip length, split by the manifest
    (else by position)."""
    manifest = _manifest(Path(source))
    rows = _rows(manifest)
    n = spec.audio.max_samples
    waves = torch.zeros(len(rows), n)
    labels = torch.zeros(len(rows), dtype=torch.long)
    splits = []
    for i, row in enumerate(rows):
        line = i + 2
        if not row.get("path"):
            raise SpecError(f"{manifest}: line {line}: no 'path' value")
        samples = read_wav(manifest.parent / row["path"], spec)
        waves[i, : len(samples)] = torch.from_numpy(samples)
        labels[i] = _label(manifest, line, row.get("label"), spec)
        split = (row.get("split") or "").strip()
        if "split" in row and split not in SPLITS:
            raise SpecError(f"{manifest}: line {line}: split {split!r} (allowed: {', '.join(SPLITS)})")
        splits.append(split)
    whole = TaskSplit(waves, None, labels)
    if all(splits):
        held = torch.tensor([s == "heldout" for s in splits])
        if not held.any() or held.all():
            raise SpecError(f"{manifest}: the split column needs both train and heldout clips")
        train, heldout = torch.nonzero(~held).flatten(), torch.nonzero(held).flatten()
        how = "held out by the manifest's split"
    else:
        train, heldout = split_index(len(rows))
        how = "held out by position"
    source_text = (
        f"{manifest.parent.name}: {len(rows):,} clips of {spec.audio.max_seconds:g} s "
        f"at {spec.audio.sample_rate} Hz, {len(heldout):,} {how}"
    )
    return TaskData("audio", whole.select(train), whole.select(heldout), source_text)
