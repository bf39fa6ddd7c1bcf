"""Proxies of a subnet with no-op blocks: the supernet's active weights are exactly the extracted model's,
and every proxy scores the two the same."""

from __future__ import annotations

import pytest

from supernas.data.inputs import random_batch
from supernas.models.checkpoint import extract
from supernas.predictors import proxies
from supernas.predictors.base import MetricContext
from supernas.predictors.catalogue import get_metric
from supernas.predictors.proxies import PROXIES
from supernas.spaces.architecture import sample_many
from supernas.spaces.spec import parse_spec
from tests.helpers import assert_active_weights_are_extracted

SPACE = {
    "name": "gpt-noop",
    "task": "causal_lm",
    "vocab_size": 256,
    "max_seq_len": 32,
    "head_dim": 8,
    "depth": [2, 3],
    "embed_dim": [32, 48],
    "layer": {
        "attention": ["mha", "linear", "none"],
        "heads": [2, 4],
        "ffn_dim": [0, 32, 64],
        "experts": [1, 2],
    },
}
SPEC = parse_spec(SPACE, "test")
ARCHS = [
    a for a in sample_many(SPEC, 12, seed=3) if any(not x.has_attention or not x.has_ffn for x in a.layers)
][:3]


@pytest.fixture(scope="module")
def context() -> MetricContext:
    return MetricContext(spec=SPEC, batch=random_batch(SPEC, batch_size=4, seq_len=16, seed=1), seed=2)


def test_noop_blocks_have_no_active_weights(context):
    assert len(ARCHS) == 3
    assert_active_weights_are_extracted(context.supernet, ARCHS, context.batch)


@pytest.mark.parametrize("name", PROXIES)
def test_supernet_equals_extracted_with_noop_blocks(name, context):
    metric = get_metric(name)
    for arch in ARCHS:
        alone = getattr(proxies, name)(extract(context.supernet, arch), context.batch)
        assert metric.evaluate(arch, context) == pytest.approx(alone, rel=1e-4), arch
