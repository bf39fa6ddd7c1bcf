"""Text data and supernet training: deterministic split, learning, bit-exact resume."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from supernas.core.errors import NotFoundError, SpecError
from supernas.data.text import TextWindows, heldout_windows, stdlib_text, text_file
from supernas.data.types import batch_at
from supernas.models.supernet import Supernet
from supernas.predictors.oneshot import heldout_loss
from supernas.spaces.architecture import largest, smallest
from supernas.spaces.spec import load_spec
from supernas.training.sandwich import (
    TRAINER_STATE,
    TrainConfig,
    finetune,
    learning_rate,
    sandwich,
    train_supernet,
)
from tests.helpers import TINY_BYTES, corpus_file

# ---------------------------------------------------------------- data


def test_stdlib_split_is_deterministic_and_by_file():
    first = stdlib_text()
    stdlib_text.cache_clear()
    again = stdlib_text()
    assert torch.equal(first.train, again.train) and torch.equal(first.heldout, again.heldout)
    assert first.train_files == again.train_files and first.heldout_files == again.heldout_files
    assert not set(first.train_files) & set(first.heldout_files)
    assert first.heldout_files and first.train_files
    assert first.train.numel() + first.heldout.numel() == 2_000_000
    assert first.train.dtype == torch.uint8


def test_training_batches_depend_on_seed_and_step_only():
    tokens = TextWindows(stdlib_text().train, 32)
    a, b = batch_at(tokens, 7, 4, seed=1), batch_at(tokens, 7, 4, seed=1)
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
    assert not torch.equal(a.inputs, batch_at(tokens, 8, 4, seed=1).inputs)
    assert not torch.equal(a.inputs, batch_at(tokens, 7, 4, seed=2).inputs)
    assert a.inputs.shape == (4, 32) and torch.equal(a.inputs[:, 1:], a.targets[:, :-1])  # next byte


def test_heldout_batches_are_fixed_disjoint_windows():
    tokens = torch.arange(250, dtype=torch.uint8)  # token value = position
    batches = heldout_windows(tokens, seq_len=9, batch_size=3, n_batches=4)
    assert len(batches) == 4 and all(b.inputs.shape == (3, 9) for b in batches)
    starts = [int(row[0]) for b in batches for row in b.inputs]
    assert starts == sorted(starts) and all(y - x >= 10 for x, y in zip(starts, starts[1:]))
    with pytest.raises(SpecError, match="held-out text"):
        heldout_windows(tokens[:50], seq_len=9, batch_size=3, n_batches=4)


def test_user_corpus_holds_out_its_tail(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_bytes(bytes(range(256)) * 4)
    data = text_file(path)
    assert data.train.numel() == 921 and torch.equal(
        data.heldout, torch.tensor(list(range(256)) * 4, dtype=torch.uint8)[921:]
    )
    with pytest.raises(NotFoundError):
        text_file(tmp_path / "missing.txt")


# ---------------------------------------------------------------- training


def test_schedule_and_sandwich():
    config = TrainConfig(
        steps=100,
        lr=1.0,
        batch_size=1,
        seq_len=4,
        sandwich_k=2,
        distill=True,
        seed=0,
        weight_decay=0.0,
        warmup=10,
        data="-",
    )
    assert learning_rate(config, 0) == pytest.approx(0.1) and learning_rate(config, 10) == pytest.approx(1.0)
    assert learning_rate(config, 100) == pytest.approx(0.1)
    net = Supernet(TINY_BYTES)
    archs = sandwich(net, config, 5)
    assert archs[:2] == [largest(TINY_BYTES), smallest(TINY_BYTES)] and len(archs) == 4
    assert archs == sandwich(net, config, 5) and archs != sandwich(net, config, 6)


@pytest.mark.slow
def test_short_training_lowers_heldout_loss_of_largest_and_smallest():
    spec = load_spec("gpt-tiny")
    net = Supernet(spec, seed=0)
    heldout = heldout_windows(stdlib_text().heldout, seq_len=32, batch_size=4, n_batches=4)
    before = {a: heldout_loss(net, a, heldout) for a in (largest(spec), smallest(spec))}
    result = train_supernet(net, stdlib_text(), steps=30, lr=3e-3, batch_size=4, seq_len=32, progress=False)
    after = {a: heldout_loss(net, a, heldout) for a in before}
    print(
        "held-out loss before -> after 30 steps:",
        {("largest", "smallest")[i]: (round(before[a], 3), round(after[a], 3)) for i, a in enumerate(before)},
    )
    assert len(result.losses) == 30
    for arch in before:
        assert after[arch] < before[arch] - 0.5
    assert net.arch == largest(spec) and not net.training


def _train(directory, resume=False, until=None, lr=1e-2, init_seed=3):
    net = Supernet(TINY_BYTES, seed=init_seed)
    result = train_supernet(
        net,
        stdlib_text(),
        steps=8,
        lr=lr,
        batch_size=2,
        seq_len=16,
        sandwich_k=2,
        distill=True,
        checkpoint_dir=directory,
        resume=resume,
        progress=False,
        seed=5,
        checkpoint_every=3,
        until=until,
    )
    return net, result


def test_resume_reproduces_an_uninterrupted_run_exactly(tmp_path):
    whole, _ = _train(tmp_path / "whole")
    _, first = _train(tmp_path / "sliced", until=4)
    assert first.steps_done == 4 and len(first.losses) == 4
    assert torch.load(tmp_path / "sliced" / TRAINER_STATE, weights_only=True)["step"] == 4
    resumed, rest = _train(
        tmp_path / "sliced", resume=True, init_seed=99
    )  # other init: all state comes from the checkpoint
    assert rest.steps_done == 8 and len(rest.losses) == 4
    for (name, a), (_, b) in zip(whole.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), name
    saved = load_file(tmp_path / "sliced" / "supernet.safetensors")
    assert all(torch.equal(saved[k], v) for k, v in whole.state_dict().items())
    assert Supernet.load(tmp_path / "sliced").provenance.startswith("trained 8/8 steps")


def test_resume_refuses_other_settings(tmp_path):
    _train(tmp_path, until=1)
    with pytest.raises(SpecError, match="lr"):
        _train(tmp_path, resume=True, lr=5e-3)
    with pytest.raises(NotFoundError):
        _train(tmp_path / "none", resume=True)
    (tmp_path / "supernet.safetensors").write_bytes(b"torn")  # a crash between the weights and the state
    with pytest.raises(SpecError, match="does not match"):
        _train(tmp_path, resume=True)


def test_training_needs_a_byte_level_lm():
    with pytest.raises(SpecError, match="byte-level"):
        train_supernet(Supernet(load_spec("vit-tiny")), stdlib_text(), steps=1, progress=False)


# ---------------------------------------------------------------- standalone fine-tuning


def test_finetune_trains_only_that_subnet_on_a_copy(tmp_path):
    net = Supernet(TINY_BYTES, seed=1)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    text = text_file(corpus_file(tmp_path))
    arch = smallest(TINY_BYTES)  # depth 1, one expert
    heldout = heldout_windows(text.heldout, seq_len=16, batch_size=4, n_batches=2)
    tuned = finetune(net, arch, text, steps=6, lr=1e-2, batch_size=4, seq_len=16, seed=3)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # the supernet is untouched
    assert tuned.arch == arch and not tuned.training
    tuned_state = tuned.state_dict()
    unused = [k for k in before if k.startswith(("blocks.1.", "blocks.0.ffn.experts.1."))]
    assert unused and all(
        torch.equal(before[k], tuned_state[k]) for k in unused
    )  # only the subnet's weights train
    assert not torch.equal(before["blocks.0.attn.q.weight"], tuned_state["blocks.0.attn.q.weight"])
    assert heldout_loss(tuned, arch, heldout) < heldout_loss(net, arch, heldout) - 0.1
    again = finetune(net, arch, text, steps=6, lr=1e-2, batch_size=4, seq_len=16, seed=3)
    assert all(
        torch.equal(a, b) for a, b in zip(tuned_state.values(), again.state_dict().values())
    )  # deterministic


def test_trained_supernet_keeps_the_heldout_part_of_its_corpus(tmp_path):
    text = text_file(corpus_file(tmp_path))
    net = Supernet(TINY_BYTES, seed=0)
    train_supernet(
        net, text, steps=2, batch_size=2, seq_len=16, checkpoint_dir=tmp_path / "net", progress=False
    )
    loaded = Supernet.load(tmp_path / "net")
    assert loaded.trained_on == text.source == "corpus.txt, 24,000 bytes"
    assert torch.equal(loaded.heldout.text, text.heldout)
    Supernet(TINY_BYTES).save(tmp_path / "net")  # an untrained supernet saved over it takes the text away
    assert Supernet.load(tmp_path / "net").heldout.text is None
