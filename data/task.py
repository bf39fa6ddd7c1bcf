"""Task data: the examples a classification or encoder space trains on and is scored on.

Sources, as ``--data`` and a job's ``data:`` name them:

- ``digits``: scikit-learn's bundled handwritten digits (1,797 real 8x8 greyscale images, 10 classes, no
  download), resized to the space's ``image_size`` (bilinear), repeated over its ``in_channels`` and
  scaled from 0-16 to [-1, 1];
- ``stdlib-prose``: unlabeled English sentences from the standard library's docstrings (:mod:`.prose`);
- ``FILE.txt``: one unlabeled text per line (blank lines skipped);
- ``FILE.jsonl``: one JSON object per line with ``text`` (a string) and ``label`` (a class id);
- ``FILE.csv``: a header row naming ``text`` and ``label`` columns (others are ignored);
- speech spaces: a directory of WAV clips with ``manifest.csv`` (:mod:`.speech`);
- ``FILE.npz``: ``images`` (N, H, W) or (N, C, H, W) at the space's input size, and ``labels`` (N,)
  class ids; uint8 images are scaled to [-1, 1], float images are used as they are.

Labels are integer class ids in ``[0, num_classes)`` of the space. Text for an encoder space with a
WordPiece vocabulary (bert-mini) is tokenized with MiniLM's own tokenizer (:mod:`.tokenizer`), truncated
to the space's ``max_seq_len``; an encoder with a 256-token vocabulary reads UTF-8 bytes. Byte-level
causal LMs do not come here: they read any file as bytes (:mod:`.text`).

The held-out split is fixed by position (:func:`supernas.data.types.split_index`).

Every mistake in a data file is a one-line ``SpecError``/``NotFoundError`` naming the file (and line)
and what is wrong.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import torch

from supernas.core.errors import NotFoundError, SpecError, allowed
from supernas.data.text import TextData, load_text
from supernas.data.types import Kind, TaskData, TaskSplit, split_index
from supernas.spaces.spec import SpaceSpec

BUILTINS = ("digits", "stdlib-prose")
FILE_TYPES = (".txt", ".jsonl", ".csv", ".npz")


# ------------------------------------------------------------------ loading


def is_byte_lm(spec: SpaceSpec) -> bool:
    """A byte-level causal LM: its data is any file read as bytes (``data.text``), not task data."""
    return spec.task == "causal_lm" and spec.vocab_size == 256


def load_data(source: str | Path | None, spec: SpaceSpec) -> TextData | TaskData:
    """What ``--data`` (or a job's ``data``) names for ``spec``: for a byte-level LM a file read as bytes
    (the stdlib sources when ``source`` is None), task data for every other space."""
    if is_byte_lm(spec):
        if source is not None and str(source) in BUILTINS:
            raise SpecError(
                f"data {source} is not text for a byte-level LM; '{spec.name}' reads any text file as bytes"
            )
        return load_text(source)
    if source is None:
        raise SpecError(
            f"space '{spec.name}' ({spec.task}) needs data: {', '.join(BUILTINS)} "
            f"or a {'/'.join(FILE_TYPES)} file"
        )
    return load_task_data(source, spec)


def pretrained_default_data(spec: SpaceSpec) -> TaskData | None:
    """Held-out data for a pretrained supernet given no ``--data``: stdlib-prose for a WordPiece encoder
    (bert-mini), nothing for other spaces."""
    if spec.task == "encoder_classification" and spec.vocab_size != 256:
        return load_task_data("stdlib-prose", spec)
    return None


def load_task_data(source: str | Path, spec: SpaceSpec) -> TaskData:
    """The examples ``source`` names (a built-in name or a file), shaped for ``spec``, split once."""
    text = str(source)
    if spec.task == "speech":  # WAV clips listed in a manifest (data.speech)
        from supernas.data.speech import load_speech_data

        return load_speech_data(source, spec)
    if spec.task == "causal_lm":
        why = (
            "reads any text file as bytes (data.text)"
            if is_byte_lm(spec)
            else f"has no tokenizer in supernas (vocab {spec.vocab_size})"
        )
        raise SpecError(
            f"data {text}: task data is for classification and encoder spaces; "
            f"'{spec.name}' (causal_lm) {why}"
        )
    if text == "digits":
        return _digits(spec)
    if text == "stdlib-prose":
        return _prose(spec)
    path = Path(text)
    try:
        found = path.is_file()
    except OSError as e:  # a name too long, say
        raise NotFoundError(f"data {text[:80]!r}: not a usable path ({e.strerror})") from None
    if not path.suffix and not found:
        raise NotFoundError(
            f"unknown data '{text}' (built-in: {', '.join(BUILTINS)}; or a {'/'.join(FILE_TYPES)} file)"
        )
    if not found:
        raise NotFoundError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix not in FILE_TYPES:
        raise SpecError(f"{path}: unsupported data file type '{path.suffix}' ({allowed(FILE_TYPES)})")
    if suffix == ".npz":
        return _npz(path, spec)
    if spec.task == "vision":
        raise SpecError(
            f"{path}: space '{spec.name}' is a vision space: it needs images "
            "(a .npz file with images and labels, or digits)"
        )
    content = _utf8(path)
    if suffix == ".txt":
        texts = [line.strip() for line in content.splitlines() if line.strip()]
        _enough(path, len(texts))
        return _text_data(spec, texts, None, f"{path.name}: {len(texts):,} texts", str(path))
    rows = _jsonl(path, content) if suffix == ".jsonl" else _csv(path, content)
    _enough(path, len(rows))
    labels = [_label(path, where, value, spec) for where, _, value in rows]
    return _text_data(
        spec, [t for _, t, _ in rows], labels, f"{path.name}: {len(rows):,} labeled texts", str(path)
    )


def _split(kind: Kind, whole: TaskSplit, source: str) -> TaskData:
    train, held = split_index(len(whole))
    return TaskData(kind, whole.select(train), whole.select(held), f"{source}, {len(held):,} held out")


def _enough(path: Path, n: int) -> None:
    if n == 0:
        raise SpecError(f"{path}: empty (no examples)")
    if n < 2:
        raise SpecError(f"{path}: 1 example; needs at least 2 (one is held out)")


def _utf8(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise SpecError(
            f"{path}: not UTF-8 text (line {line}: byte 0x{data[e.start]:02x} at offset {e.start})"
        ) from None


def _jsonl(path: Path, content: str) -> list[tuple[str, str, object]]:
    rows = []
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise SpecError(f"{path}: line {number}: not valid JSON ({e.msg})") from None
        if not isinstance(row, dict):
            raise SpecError(f"{path}: line {number}: not a JSON object with 'text' and 'label'")
        for column in ("text", "label"):
            if column not in row:
                raise SpecError(
                    f"{path}: line {number}: no '{column}' field "
                    f"(fields: {', '.join(map(str, row)) or 'none'})"
                )
        if not isinstance(row["text"], str):
            raise SpecError(f"{path}: line {number}: 'text' is {type(row['text']).__name__}, not a string")
        rows.append((f"line {number}", row["text"], row["label"]))
    return rows


def _csv(path: Path, content: str) -> list[tuple[str, str, object]]:
    reader = csv.DictReader(io.StringIO(content, newline=""))
    try:
        header = reader.fieldnames or []
        for column in ("text", "label"):
            if header and column not in header:
                raise SpecError(f"{path}: no '{column}' column (header: {', '.join(header)})")
        rows = []
        for row in reader:
            for column in ("text", "label"):
                if row.get(column) is None:
                    raise SpecError(
                        f"{path}: line {reader.line_num}: no '{column}' value (the row is too short)"
                    )
            rows.append((f"line {reader.line_num}", row["text"], row["label"]))
    except csv.Error as e:
        raise SpecError(f"{path}: line {reader.line_num}: not valid CSV ({e})") from None
    return rows


def _label(path: Path, where: str, value: object, spec: SpaceSpec) -> int:
    """A class id of ``spec`` from a JSON value or a CSV cell."""
    label = None
    if isinstance(value, int) and not isinstance(value, bool):
        label = value
    elif isinstance(value, float) and value.is_integer():
        label = int(value)
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        label = int(value.strip())
    if label is None:
        raise SpecError(
            f"{path}: {where}: label {value!r} is not a class id (an integer 0-{spec.num_classes - 1})"
        )
    _in_classes(path, f"{where}: ", label, spec)
    return label


def _in_classes(path: Path | str, where: str, label: int, spec: SpaceSpec) -> None:
    if not 0 <= label < spec.num_classes:
        raise SpecError(
            f"{path}: {where}label {label} is outside the classes of space '{spec.name}' "
            f"(0-{spec.num_classes - 1}, num_classes {spec.num_classes})"
        )


def encode_texts(spec: SpaceSpec, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids and mask for ``spec``: MiniLM's WordPiece, or UTF-8 bytes for a 256-token vocabulary."""
    if spec.vocab_size == 256:
        rows = [list(t.encode("utf-8"))[: spec.seq_len] or [0] for t in texts]
        width = max(map(len, rows))
        ids = torch.zeros(len(rows), width, dtype=torch.long)
        mask = torch.zeros(len(rows), width, dtype=torch.bool)
        for i, row in enumerate(rows):
            ids[i, : len(row)], mask[i, : len(row)] = torch.tensor(row), True
        return ids, mask
    from supernas.data.tokenizer import wordpiece_encode

    return wordpiece_encode(texts, spec.seq_len)


def _text_data(
    spec: SpaceSpec, texts: list[str], labels: list[int] | None, source: str, where: str
) -> TaskData:
    ids, mask = encode_texts(spec, texts)
    top = int(ids.max())
    if top >= spec.vocab_size:
        raise SpecError(
            f"{where}: token id {top} is outside the vocabulary of space '{spec.name}' "
            f"(vocab_size {spec.vocab_size}); "
            "WordPiece text needs MiniLM's 30,522-token vocabulary"
        )
    whole = TaskSplit(ids, mask, None if labels is None else torch.tensor(labels, dtype=torch.long))
    return _split("text" if labels is None else "labeled_text", whole, source)


def _prose(spec: SpaceSpec) -> TaskData:
    from supernas.data.prose import stdlib_sentences

    if spec.task != "encoder_classification":
        raise SpecError(f"data stdlib-prose is text; space '{spec.name}' is a {spec.task} space")
    sentences = list(stdlib_sentences())
    return _text_data(
        spec,
        sentences,
        None,
        f"stdlib-prose: {len(sentences):,} sentences of the Python stdlib's docstrings",
        "data stdlib-prose",
    )


# ------------------------------------------------------------------ images


def _need_vision(spec: SpaceSpec, what: str) -> None:
    if spec.task != "vision":
        raise SpecError(
            f"{what} holds images; space '{spec.name}' is a {spec.task} space "
            "(text: .txt, .jsonl, .csv or stdlib-prose)"
        )


def _images(spec: SpaceSpec, images: torch.Tensor) -> torch.Tensor:
    """(N, 1 or C, H, W) float to the space's channels."""
    return images.expand(-1, spec.in_channels, -1, -1).contiguous() if images.shape[1] == 1 else images


def _digits(spec: SpaceSpec) -> TaskData:
    from sklearn.datasets import load_digits

    _need_vision(spec, "data digits")
    if spec.num_classes < 10:
        raise SpecError(
            f"data digits has 10 classes (0-9); space '{spec.name}' has num_classes {spec.num_classes}"
        )
    digits = load_digits()
    pixels = torch.tensor(digits.images, dtype=torch.float32)[:, None] / 8.0 - 1.0  # 0-16 -> [-1, 1]
    size = spec.image_size
    if size != pixels.shape[-1]:
        pixels = torch.nn.functional.interpolate(
            pixels, size=(size, size), mode="bilinear", align_corners=False
        )
    whole = TaskSplit(_images(spec, pixels), None, torch.tensor(digits.target, dtype=torch.long))
    return _split(
        "images",
        whole,
        f"digits: {len(whole):,} scikit-learn handwritten 8x8 images resized to {size}x{size}",
    )


def _npz(path: Path, spec: SpaceSpec) -> TaskData:
    _need_vision(spec, str(path))
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except (OSError, ValueError, EOFError) as e:
        raise SpecError(f"{path}: not a readable .npz archive ({' '.join(str(e).split())[:120]})") from None
    for key in ("images", "labels"):
        if key not in arrays:
            raise SpecError(f"{path}: no '{key}' array (arrays: {', '.join(arrays) or 'none'})")
    images, labels = arrays["images"], arrays["labels"]
    c, s = spec.in_channels, spec.image_size
    expected = f"(N, {c}, {s}, {s}) or (N, {s}, {s})"
    ok = (images.ndim == 4 and images.shape[1:] in ((c, s, s), (1, s, s))) or (
        images.ndim == 3 and images.shape[1:] == (s, s)
    )
    if not ok:
        raise SpecError(
            f"{path}: images of shape {tuple(images.shape)}; space '{spec.name}' needs {expected}"
        )
    if len(images) == 0:
        raise SpecError(f"{path}: empty (no images)")
    if labels.shape != (len(images),):
        raise SpecError(
            f"{path}: labels of shape {tuple(labels.shape)}; expected ({len(images)},), one per image"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise SpecError(f"{path}: labels are {labels.dtype}; expected integer class ids")
    if not (np.issubdtype(images.dtype, np.floating) or np.issubdtype(images.dtype, np.integer)):
        raise SpecError(f"{path}: images are {images.dtype}; expected numbers (uint8 or float)")
    bad = np.flatnonzero((labels < 0) | (labels >= spec.num_classes))
    if len(bad):
        _in_classes(path, f"image {bad[0]}: ", int(labels[bad[0]]), spec)
    _enough(path, len(images))
    pixels = torch.from_numpy(images.astype(np.float32))
    if images.dtype == np.uint8:
        pixels = pixels / 127.5 - 1.0
    elif not torch.isfinite(pixels).all():
        raise SpecError(f"{path}: images contain NaN or infinite values")
    pixels = pixels[:, None] if pixels.dim() == 3 else pixels
    whole = TaskSplit(_images(spec, pixels), None, torch.from_numpy(labels.astype(np.int64)))
    return _split("images", whole, f"{path.name}: {len(whole):,} labeled {s}x{s} images")
