"""Rank agreement of metrics with one-shot val_loss: the figures are scipy's on the metrics' own values."""

from __future__ import annotations

import pytest
import torch
from scipy.stats import kendalltau, spearmanr

from supernas.predictors.base import get_metric
from supernas.predictors.correlation import format_agreement, proxy_context, rank_agreement
from supernas.spaces import Supernet, sample_many

from ..spaces.test_training import TINY_BYTES



def test_rank_agreement_matches_scipy_on_metric_values():
    net = Supernet(TINY_BYTES, seed=4)
    rows, values = rank_agreement(net, n=6, seed=2, metrics=("snip", "params"))
    assert [r.metric for r in rows] == ["snip", "params"]
    archs = sample_many(TINY_BYTES, 6, 2)
    context = proxy_context(net, seed=2)
    assert values["val_loss"] == [get_metric("val_loss").evaluate(a, context) for a in archs]
    assert values["params"] == [get_metric("params").evaluate(a, context) for a in archs]
    for r in rows:
        assert r.spearman == pytest.approx(spearmanr(values[r.metric], values["val_loss"])[0])
        assert r.kendall == pytest.approx(kendalltau(values[r.metric], values["val_loss"])[0])
    table = format_agreement(rows, 6)
    assert "snip" in table and "params" in table and "over 6 random subnets" in table


def test_proxies_see_real_text_for_byte_level_lms():
    context = proxy_context(Supernet(TINY_BYTES), seed=0)
    text = bytes(context.batch.inputs[0].to(torch.uint8).tolist())
    assert context.batch.inputs.shape == (4, 16) and text.isascii()  # capped at the space's max_seq_len
