"""Analytic costs: hand-computed values, and agreement with torch's FLOP counter and real checkpoints."""

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from supernas.core.errors import SpecError
from supernas.data.inputs import random_batch
from supernas.models.checkpoint import extract, save_subnet
from supernas.models.dense import parameter_count
from supernas.models.parent import full_precision
from supernas.models.supernet import Supernet
from supernas.predictors import costs  # noqa: F401  (registers the analytic metrics)
from supernas.predictors.base import REGISTRY, MetricContext
from supernas.spaces import analytic
from supernas.spaces.architecture import Architecture, LayerArch, sample_many
from supernas.spaces.spec import AttentionType, SpaceSpec, load_spec
from tests.helpers import header_bytes

TINY = SpaceSpec.model_validate(
    dict(
        name="tiny",
        task="causal_lm",
        vocab_size=10,
        max_seq_len=8,
        head_dim=2,
        depth=[2],
        embed_dim=[4],
        layer=dict(
            attention=["mha", "gqa", "linear", "sliding_window"],
            heads=[2],
            kv_heads=[1],
            windows=[2],
            ffn_dim=[8],
            experts=[1, 2],
            weight_bits=[8, 32],
        ),
    )
)
# Layer 0: fp32 MHA with a dense FFN; layer 1: int8 GQA (one K/V head) with two experts, top-1.
ARCH = Architecture(
    space="tiny",
    embed_dim=4,
    layers=(
        LayerArch(attention="mha", heads=2, ffn_dim=8),
        LayerArch(attention="gqa", heads=2, kv_heads=1, ffn_dim=8, experts=2, weight_bits=8),
    ),
)


def metric(name: str, spec: SpaceSpec, arch: Architecture, **options) -> float:
    return REGISTRY[name](**options).evaluate(arch, MetricContext(spec))


def with_attention(arch: Architecture, **attention) -> Architecture:
    layers = tuple(
        LayerArch(**{**x.model_dump(), "kv_heads": None, "window": None, **attention}) for x in arch.layers
    )
    return arch.model_copy(update={"layers": layers})


def test_hand_computed_costs():
    # per token: layer 0 q,k,v,o 4x16 + fc1,fc2 2x32 = 128; layer 1 q,o 2x16 + k,v 2x8 + one expert 64
    # + router 8 = 120; tied LM head 10x4 = 40 -> 288 x 8 tokens. Attention 2 x (2*2 heads*8*8*2).
    assert analytic.linear_macs(TINY, ARCH, 8) == 2304
    assert analytic.forward_macs(TINY, ARCH, 8) == 2304 + 1024
    assert metric("macs", TINY, ARCH, seq_len=8) == 416
    assert metric("flops", TINY, ARCH, seq_len=8) == 832
    assert metric("flops", TINY, ARCH, seq_len=100) == 832  # capped at max_seq_len
    # embeddings 40 + 32; layer 0: 4 x 20 + 40 + 36; layer 1: 20 + 10 + 10 + 20 + 2 x 76 + router 8; norms 40
    assert metric("params", TINY, ARCH) == 488
    assert metric("non_embedding_params", TINY, ARCH) == 416
    # layer 0 fp32 156 x 4; layer 1 int8 rows + fp32 scales + fp32 biases 144 + 2 x 160, router 32;
    # rest 112 x 4
    assert metric("weight_bytes", TINY, ARCH) == 624 + 496 + 448
    # fp16 K and V: 2 bytes x 2 x kv_heads x head_dim per layer
    assert metric("kv_cache_bytes", TINY, ARCH, seq_len=8) == 16 + 8
    # largest stage: residual 32 + q, k, v 96 + scores 2 heads x 8 x 8 = 256 floats
    assert metric("peak_activation_bytes", TINY, ARCH, batch_size=1, seq_len=8) == 4 * 256
    assert metric("peak_activation_bytes", TINY, ARCH, batch_size=2, seq_len=8) == 8 * 256


def test_attention_variants_by_hand():
    window = with_attention(ARCH, attention="sliding_window", heads=2, window=2)
    linear = with_attention(ARCH, attention="linear", heads=2)
    assert analytic.forward_macs(TINY, window, 8) - analytic.linear_macs(TINY, window, 8) == 2 * (
        2 * 2 * 8 * 2 * 2
    )
    assert analytic.forward_macs(TINY, linear, 8) - analytic.linear_macs(TINY, linear, 8) == 2 * (
        8 * 2 * (2 * 4 + 2)
    )
    assert analytic.kv_cache_bytes_per_token(TINY, window, 8) == 2 * (16 * 2 / 8)
    assert analytic.kv_cache_bytes_per_token(TINY, linear, 8) == 2 * (
        2 * 2 * (4 + 2) / 8
    )  # constant state / T
    # linear attention, causal: prefix-summed states 2 heads x 8 x 2 x 2 = 64 floats < scores of MHA
    assert analytic.peak_activation_bytes(TINY, linear, 1, 8) == 4 * (32 + 96 + 64)


def test_kv_cache_shrinks_with_gqa_and_windows():
    spec = load_spec("gpt-tiny")  # head_dim 16
    mha = Architecture(
        space="gpt-tiny", embed_dim=128, layers=(LayerArch(attention="mha", heads=8, ffn_dim=512),) * 4
    )

    def cache(arch, t=128):
        return metric("kv_cache_bytes", spec, arch, seq_len=t)

    assert cache(mha) == 4 * 2 * 2 * 8 * 16 == 2048
    assert cache(with_attention(mha, attention="gqa", heads=8, kv_heads=2)) == 512
    assert (
        cache(with_attention(mha, attention="sliding_window", heads=8, window=32)) == 512
    )  # 32 of 128 tokens
    assert cache(with_attention(mha, attention="sliding_window", heads=8, window=32), t=16) == 2048
    assert cache(with_attention(mha, attention="linear", heads=8)) == 4 * 2 * 8 * (16 * 16 + 16) / 128


def test_kv_cache_is_for_language_models_only():
    with pytest.raises(SpecError, match="does not apply"):
        REGISTRY["kv_cache_bytes"]().check_applicable(load_spec("bert-mini"))


def test_bad_option_is_a_clear_error():
    with pytest.raises(SpecError, match="option 'seq_len' = 0"):
        metric("flops", TINY, ARCH, seq_len=0)


def counted_flops(model, inputs) -> tuple[int, int]:
    """(all, linear-layer) FLOPs torch counts for one forward; the math SDPA kernel exposes its matmuls."""
    with FlopCounterMode(display=False) as counter, sdpa_kernel(SDPBackend.MATH), torch.no_grad():
        model(inputs)
    counts = counter.get_flop_counts()["Global"]
    linear = sum(v for op, v in counts.items() if str(op) in ("aten.mm", "aten.addmm"))
    return counter.get_total_flops(), linear


@pytest.mark.parametrize("name", ["gpt-tiny", "bert-mini", "vit-tiny"])
def test_flops_match_torch_flop_counter(name):
    spec = full_precision(load_spec(name))
    softmax = spec.layer.model_copy(update=dict(attention=[AttentionType.mha, AttentionType.gqa]))
    softmax_only = spec.model_copy(update={"layer": softmax})
    supernet, t = Supernet(spec, seed=1), 32
    inputs = random_batch(spec, batch_size=1, seq_len=t).inputs
    for arch in sample_many(softmax_only, 2, seed=2):  # full attention: every matmul is counted exactly
        total, _ = counted_flops(extract(supernet, arch), inputs)
        assert total == 2 * analytic.forward_macs(spec, arch, t)
    for arch in sample_many(spec, 2, seed=3):  # any attention kind: the linear layers match exactly
        _, linear = counted_flops(extract(supernet, arch), inputs)
        assert linear == 2 * analytic.linear_macs(spec, arch, t)


@pytest.mark.parametrize("name", ["gpt-tiny", "bert-mini"])
def test_params_and_weight_bytes_match_real_subnets(tmp_path, name):
    spec = load_spec(name)
    supernet = Supernet(spec)
    for i, arch in enumerate(sample_many(spec, 3, seed=4)):
        model = extract(supernet, arch)
        assert metric("params", spec, arch) == parameter_count(model)
        weights = save_subnet(model, tmp_path / str(i)) / "model.safetensors"
        assert metric("weight_bytes", spec, arch) == weights.stat().st_size - header_bytes(weights)
