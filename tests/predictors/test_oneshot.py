"""One-shot metrics: equal to a hand computation on the extracted subnet, deterministic, applicable."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from supernas.core.errors import SpecError
from supernas.data.inputs import Batch
from supernas.data.text import heldout_windows, stdlib_text, text_file
from supernas.models.checkpoint import extract
from supernas.models.supernet import Supernet
from supernas.predictors.base import MetricContext
from supernas.predictors.catalogue import get_metric
from supernas.spaces.architecture import largest, sample_many, smallest
from supernas.spaces.spec import load_spec, parse_spec
from supernas.training.sandwich import train_supernet
from tests.helpers import TINY_BYTES, corpus_file

TINY_ENCODER = parse_spec(
    {
        "name": "tiny-encoder",
        "task": "encoder_classification",
        "vocab_size": 11,
        "type_vocab_size": 2,
        "max_seq_len": 6,
        "num_classes": 3,
        "head_dim": 2,
        "depth": [1, 2],
        "embed_dim": [4, 8],
        "layer": {"heads": [2, 4], "ffn_dim": [8, 16], "weight_bits": [8, 32]},
        "norm": "post",
    },
    "tiny-encoder",
)


def _by_hand_loss(model: torch.nn.Module, batches: list[Batch]) -> float:
    total, count = 0.0, 0
    with torch.no_grad():
        for b in batches:
            logits = model(b.inputs, b.padding)
            total += float(
                F.cross_entropy(logits.reshape(-1, logits.shape[-1]), b.targets.reshape(-1), reduction="sum")
            )
            count += b.targets.numel()
    return total / count


def test_val_loss_through_the_supernet_equals_the_extracted_subnet():
    spec = load_spec("gpt-tiny")  # every layer quantized: 4/8/16-bit weights, 8/16-bit activations
    net = Supernet(spec, seed=1)
    heldout = heldout_windows(stdlib_text().heldout, seq_len=32, batch_size=4, n_batches=3)
    context = MetricContext(spec, heldout=heldout, supernet_factory=lambda: net)
    metric = get_metric("val_loss")
    for arch in [largest(spec), smallest(spec), *sample_many(spec, 4, seed=3)]:
        value = metric.evaluate(arch, context)
        assert value == pytest.approx(_by_hand_loss(extract(net, arch), heldout), abs=1e-5)
        assert metric.evaluate(arch, context) == value  # deterministic
    assert net.arch == largest(spec)


def test_val_loss_defaults_to_the_stdlib_heldout_text():
    spec = load_spec("gpt-tiny")
    context = MetricContext(spec, seed=0)
    value = get_metric("val_loss", batches=2, batch_size=2, seq_len=16).evaluate(smallest(spec), context)
    expected = heldout_windows(stdlib_text().heldout, seq_len=16, batch_size=2, n_batches=2)
    assert [torch.equal(a.inputs, b.inputs) for a, b in zip(context.heldout, expected)] == [True, True]
    assert value == pytest.approx(
        _by_hand_loss(extract(context.supernet, smallest(spec)), expected), abs=1e-5
    )
    assert 5.0 < value < 6.0  # an untrained byte LM is near ln(256) = 5.55


def _labeled(seed: int, n: int, lengths: list[int]) -> Batch:
    g = torch.Generator().manual_seed(seed)
    t = max(lengths)
    padding = torch.arange(t)[None, :] < torch.tensor(lengths)[:, None]
    return Batch(torch.randint(0, 11, (n, t), generator=g), torch.randint(0, 3, (n,), generator=g), padding)


def test_classification_metrics_use_the_callers_heldout_set():
    net = Supernet(TINY_ENCODER, seed=2)
    heldout = [
        _labeled(0, 5, [6, 3, 4, 6, 2]),
        _labeled(1, 3, [5, 6, 1]),
    ]  # unequal sizes: weighted by samples
    context = MetricContext(TINY_ENCODER, heldout=heldout, supernet_factory=lambda: net)
    for arch in sample_many(TINY_ENCODER, 4, seed=0):
        model = extract(net, arch)
        with torch.no_grad():
            logits = [model(b.inputs, b.padding) for b in heldout]
        labels = torch.cat([b.targets for b in heldout])
        loss = float(F.cross_entropy(torch.cat(logits), labels))
        accuracy = float((torch.cat(logits).argmax(-1) == labels).float().mean())
        assert get_metric("val_loss").evaluate(arch, context) == pytest.approx(loss, abs=1e-5)
        assert get_metric("val_accuracy").evaluate(arch, context) == pytest.approx(accuracy, abs=1e-6)


def test_classification_without_heldout_data_is_a_user_error():
    context = MetricContext(TINY_ENCODER)
    with pytest.raises(SpecError, match="needs labeled held-out data .*give the job .data."):
        get_metric("val_loss").evaluate(largest(TINY_ENCODER), context)
    with pytest.raises(SpecError, match="does not apply"):
        get_metric("val_accuracy").evaluate(
            largest(load_spec("gpt-tiny")), MetricContext(load_spec("gpt-tiny"))
        )


def test_metric_registry_lists_one_shot_metrics():
    for name, direction in (("val_loss", "minimize"), ("val_accuracy", "maximize")):
        metric = get_metric(name)
        assert metric.direction == direction and metric.cost.value == "one_shot"


def test_val_loss_of_a_supernet_trained_on_a_corpus_scores_that_corpus(tmp_path):
    text = text_file(corpus_file(tmp_path))
    train_supernet(
        Supernet(TINY_BYTES, seed=0),
        text,
        steps=3,
        batch_size=2,
        seq_len=16,
        checkpoint_dir=tmp_path / "net",
        progress=False,
    )
    loaded = Supernet.load(tmp_path / "net")
    options = dict(batches=2, batch_size=4, seq_len=16)
    context = MetricContext(TINY_BYTES, supernet_factory=lambda: Supernet.load(tmp_path / "net"))
    corpus = heldout_windows(text.heldout, seq_len=16, batch_size=4, n_batches=2)
    for arch in (largest(TINY_BYTES), smallest(TINY_BYTES)):
        value = get_metric("val_loss", **options).evaluate(arch, context)
        assert value == pytest.approx(_by_hand_loss(extract(loaded, arch), corpus), abs=1e-5)
    assert all(
        torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
        for a, b in zip(context.heldout, corpus)
    )
    assert (
        bytes(context.heldout[0].inputs[0].tolist()).decode() in "the cat sat on the mat. " * 2
    )  # the corpus, not the stdlib
