"""Data files for the task-data tests: a tiny WordPiece encoder space, labeled reviews, and one bad file
per mistake a user can make, with the one line each must give."""

from __future__ import annotations

import json

import numpy as np

from supernas.spaces.spec import parse_spec

# An encoder over MiniLM's WordPiece vocabulary, small enough to train in a test.
TINY_WORDPIECE = parse_spec(
    {
        "name": "tiny-wordpiece",
        "task": "encoder_classification",
        "vocab_size": 30522,
        "type_vocab_size": 2,
        "max_seq_len": 16,
        "num_classes": 3,
        "head_dim": 4,
        "depth": [1, 2],
        "embed_dim": [8, 16],
        "layer": {"heads": [2, 4], "ffn_dim": [16, 32], "weight_bits": [8, 32]},
        "norm": "post",
    },
    "tiny-wordpiece",
)
HELLO = 7592  # "hello" in MiniLM's (bert-base-uncased) vocabulary: [CLS] hello [SEP] = 101 7592 102

REVIEWS = [
    ("hello world", 0),
    ("a fine film", 1),
    ("dull and long", 2),
    ("hello again", 0),
    ("great acting", 1),
    ("boring plot", 2),
    ("hello there", 0),
    ("loved it", 1),
    ("fell asleep", 2),
    ("hello hello", 0),
]


def write_jsonl(path, rows=REVIEWS):
    path.write_text(
        "".join(json.dumps({"text": t, "label": y, "id": i}) + "\n" for i, (t, y) in enumerate(rows))
    )
    return path


def write_csv(path, rows=REVIEWS):
    path.write_text("id,text,label\n" + "".join(f'{i},"{t}",{y}\n' for i, (t, y) in enumerate(rows)))
    return path


# ---------------------------------------------------------------- the split


def _npz(images, labels):
    def write(path):
        np.savez(path, images=images, labels=labels)

    return write


BAD = [  # (file name, content or writer, space, message)
    ("empty.jsonl", "", "bert-mini", r"empty\.jsonl: empty \(no examples\)"),
    ("blank.txt", "\n  \n", "bert-mini", r"blank\.txt: empty \(no examples\)"),
    (
        "latin1.csv",
        "text,label\ncaf\xe9,1\n".encode("latin-1"),
        "bert-mini",
        r"latin1\.csv: not UTF-8 text \(line 2: byte 0xe9 at offset 14\)",
    ),
    (
        "nolabel.jsonl",
        '{"text": "a", "label": 0}\n{"text": "b"}\n',
        "bert-mini",
        r"nolabel\.jsonl: line 2: no 'label' field \(fields: text\)",
    ),
    (
        "broken.jsonl",
        '{"text": "a", "label": 0}\n{"text": \n',
        "bert-mini",
        r"broken\.jsonl: line 2: not valid JSON",
    ),
    (
        "notext.csv",
        "sentence,label\nhi,1\nyo,0\n",
        "bert-mini",
        r"notext\.csv: no 'text' column \(header: sentence, label\)",
    ),
    (
        "outside.jsonl",
        '{"text": "a", "label": 0}\n{"text": "b", "label": 2}\n',
        "bert-mini",
        r"outside\.jsonl: line 2: label 2 is outside the classes of space 'bert-mini' \(0-1, num_classes 2\)",
    ),
    (
        "word.csv",
        "text,label\nhi,positive\nyo,0\n",
        "bert-mini",
        r"word\.csv: line 2: label 'positive' is not a class id \(an integer 0-1\)",
    ),
    ("one.jsonl", '{"text": "a", "label": 0}\n', "bert-mini", r"one\.jsonl: 1 example; needs at least 2"),
    (
        "shape.npz",
        _npz(np.zeros((4, 28, 28), np.uint8), np.zeros(4, np.int64)),
        "vit-tiny",
        (
            r"shape\.npz: images of shape \(4, 28, 28\); "
            r"space 'vit-tiny' needs \(N, 3, 32, 32\) or \(N, 32, 32\)"
        ),
    ),
    (
        "last.npz",
        _npz(np.zeros((4, 32, 32, 3), np.uint8), np.zeros(4, np.int64)),
        "vit-tiny",
        r"images of shape \(4, 32, 32, 3\)",
    ),
    (
        "labels.npz",
        _npz(np.zeros((4, 32, 32), np.uint8), np.array([0, 1, 10, 2])),
        "vit-tiny",
        r"labels\.npz: image 2: label 10 is outside the classes of space 'vit-tiny' \(0-9, num_classes 10\)",
    ),
    (
        "count.npz",
        _npz(np.zeros((4, 32, 32), np.uint8), np.zeros(3, np.int64)),
        "vit-tiny",
        r"count\.npz: labels of shape \(3,\); expected \(4,\)",
    ),
    (
        "nolabels.npz",
        lambda p: np.savez(p, images=np.zeros((4, 32, 32))),
        "vit-tiny",
        r"nolabels\.npz: no 'labels' array \(arrays: images\)",
    ),
    ("garbage.npz", b"not a zip file", "vit-tiny", r"garbage\.npz: not a readable \.npz archive"),
    (
        "text.jsonl",
        '{"text": "a", "label": 0}\n{"text": "b", "label": 1}\n',
        "vit-tiny",
        r"text\.jsonl: space 'vit-tiny' is a vision space",
    ),
    ("data.parquet", "x", "vit-tiny", r"data\.parquet: unsupported data file type '\.parquet'"),
]


def write_bad(directory, name, content):
    path = directory / name
    if callable(content):
        content(path)
        path = (
            path if path.exists() else path.with_name(path.name + ".npz")
        )  # np.savez adds .npz only when missing
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path
