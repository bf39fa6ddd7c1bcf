"""Rank agreement of metrics with one-shot and fine-tuned val_loss: the figures are scipy's on the metrics'
own values, the fine-tuned losses those of ``finetune``, and the learned combination never sees the subnet
it predicts."""

from __future__ import annotations

import pytest
import torch
from scipy.stats import kendalltau, spearmanr

from supernas.core.errors import SpecError
from supernas.data.text import heldout_windows, stdlib_text, text_file
from supernas.models.supernet import Supernet
from supernas.predictors.catalogue import get_metric
from supernas.predictors.correlation import (
    COMBINED,
    FINETUNED,
    Finetuning,
    format_agreement,
    loo_ridge,
    proxy_context,
    rank_agreement,
    training_text,
)
from supernas.predictors.oneshot import heldout_loss
from supernas.spaces.architecture import sample_many
from supernas.training.sandwich import finetune
from tests.helpers import TINY_BYTES, corpus_file


def test_rank_agreement_matches_scipy_on_metric_values():
    net = Supernet(TINY_BYTES, seed=4)
    rows, values = rank_agreement(net, n=6, seed=2, metrics=("snip", "params"))
    assert [r.metric for r in rows] == ["snip", "params", COMBINED]
    archs = sample_many(TINY_BYTES, 6, 2)
    context = proxy_context(net, seed=2)
    assert values["val_loss"] == [get_metric("val_loss").evaluate(a, context) for a in archs]
    assert values["params"] == [get_metric("params").evaluate(a, context) for a in archs]
    for r in rows[:2]:
        assert r.spearman == pytest.approx(spearmanr(values[r.metric], values["val_loss"])[0])
        assert r.kendall == pytest.approx(kendalltau(values[r.metric], values["val_loss"])[0])
        assert r.finetuned_spearman is None  # no fine-tuning asked for
    combined = loo_ridge({"snip": values["snip"], "params": values["params"]}, values["val_loss"])
    assert rows[2].spearman == pytest.approx(spearmanr(combined, values["val_loss"])[0])
    table = format_agreement(rows, 6)
    assert "snip" in table and "params" in table and "over 6 random subnets" in table


def test_proxies_see_real_text_for_byte_level_lms():
    context = proxy_context(Supernet(TINY_BYTES), seed=0)
    text = bytes(context.batch.inputs[0].to(torch.uint8).tolist())
    assert context.batch.inputs.shape == (4, 16) and text.isascii()  # capped at the space's max_seq_len


def test_agreement_with_val_loss_after_standalone_finetuning():
    net = Supernet(TINY_BYTES, seed=4)
    tuning = Finetuning(steps=3, lr=1e-2, batch_size=2, seq_len=16)
    rows, values = rank_agreement(net, n=5, seed=2, metrics=("snip", "params"), finetuning=tuning)
    heldout = heldout_windows(
        stdlib_text().heldout, seq_len=16, batch_size=8, n_batches=16
    )  # val_loss's defaults, capped
    archs = sample_many(TINY_BYTES, 5, 2)
    assert values[FINETUNED] == [
        heldout_loss(finetune(net, a, stdlib_text(), 3, 1e-2, 2, 16, seed=2), a, heldout) for a in archs
    ]
    assert values["val_loss"] == [heldout_loss(net, a, heldout) for a in archs]
    assert values[FINETUNED] != values["val_loss"]
    by_name = {r.metric: r for r in rows}
    assert by_name["val_loss"].spearman is None
    assert by_name["val_loss"].finetuned_spearman == pytest.approx(
        spearmanr(values["val_loss"], values[FINETUNED])[0]
    )
    for name in ("snip", "params"):
        assert by_name[name].finetuned_spearman == pytest.approx(
            spearmanr(values[name], values[FINETUNED])[0]
        )
        assert by_name[name].finetuned_kendall == pytest.approx(
            kendalltau(values[name], values[FINETUNED])[0]
        )
    combined = loo_ridge({"snip": values["snip"], "params": values["params"]}, values[FINETUNED])
    assert by_name[COMBINED].finetuned_spearman == pytest.approx(spearmanr(combined, values[FINETUNED])[0])
    table = format_agreement(rows, 5, tuning).splitlines()
    assert "after 3 standalone fine-tuning steps" in table[0] and table[2].startswith("val_loss")


def test_loo_ridge_never_sees_the_subnet_it_predicts():
    g = torch.Generator().manual_seed(0)
    target = torch.rand(12, generator=g).tolist()
    features = {"a": torch.rand(12, generator=g).tolist(), "b": torch.rand(12, generator=g).tolist()}
    predictions = loo_ridge(features, target)
    for i in (0, 5, 11):
        changed = list(target)
        changed[i] = -100.0 if target[i] > 0.5 else 100.0  # its own target moved to the other extreme
        again = loo_ridge(features, changed)
        assert again[i] == pytest.approx(predictions[i])
        assert again != pytest.approx(predictions)  # the others did learn from it
    perfect = loo_ridge({"good": [-t for t in target], "noise": features["a"]}, target)
    assert spearmanr(perfect, target)[0] < -0.9  # a predicted quality: higher means lower target


def test_proxies_and_finetuning_refuse_text_the_supernet_was_not_trained_on(tmp_path):
    net = Supernet(TINY_BYTES)
    corpus = corpus_file(tmp_path)
    net.trained_on = text_file(corpus).source
    assert training_text(net, corpus).source == net.trained_on
    with pytest.raises(SpecError, match="trained on corpus.txt"):
        training_text(net, None)
