"""Zero-cost proxies: hand-computed references, weight-sharing equivalence, determinism, applicability.

References are written out here with plain ``.backward()`` on a copy of a tiny dense transformer, explicit
loops and numpy, so they share no code with ``supernas.predictors.proxies`` beyond the model itself.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from supernas.core.errors import SpecError
from supernas.data.inputs import Batch, random_batch
from supernas.models.checkpoint import extract
from supernas.models.parent import full_precision
from supernas.models.supernet import Supernet
from supernas.predictors import proxies
from supernas.predictors.base import MetricContext
from supernas.predictors.catalogue import get_metric
from supernas.predictors.proxies import PROXIES
from supernas.spaces.architecture import largest, sample_many
from supernas.spaces.spec import SpaceSpec, load_spec, parse_spec
from tests.helpers import assert_active_weights_are_extracted

# ---------------------------------------------------------------- hand-computed references

TINY_LM = parse_spec(
    {
        "name": "tiny-lm",
        "task": "causal_lm",
        "vocab_size": 7,
        "max_seq_len": 4,
        "head_dim": 2,
        "depth": [2],
        "embed_dim": [4],
        "layer": {"heads": [2], "ffn_dim": [3]},
        "activation": "relu",
    },
    "tiny-lm",
)
TINY_MOE = parse_spec(
    {
        "name": "tiny-moe",
        "task": "causal_lm",
        "vocab_size": 7,
        "max_seq_len": 4,
        "head_dim": 2,
        "depth": [2],
        "embed_dim": [4],
        "layer": {"heads": [2], "ffn_dim": [3], "experts": [3], "top_k": [2]},
    },
    "tiny-moe",
)
TINY_ENCODER = parse_spec(
    {
        "name": "tiny-encoder",
        "task": "encoder_classification",
        "vocab_size": 7,
        "type_vocab_size": 2,
        "max_seq_len": 4,
        "num_classes": 3,
        "head_dim": 2,
        "depth": [2],
        "embed_dim": [4],
        "layer": {"heads": [2], "ffn_dim": [3]},
        "norm": "post",
    },
    "tiny-encoder",
)
TINY_VISION = parse_spec(
    {
        "name": "tiny-vision",
        "task": "vision",
        "image_size": 4,
        "patch_size": 2,
        "in_channels": 1,
        "num_classes": 3,
        "head_dim": 2,
        "depth": [1],
        "embed_dim": [4],
        "layer": {"heads": [1], "ffn_dim": [3]},
    },
    "tiny-vision",
)


def tiny(spec: SpaceSpec) -> tuple[torch.nn.Module, Batch]:
    """A dense tiny transformer with fixed random weights (norms included) and a fixed batch."""
    model = extract(Supernet(spec, seed=3), largest(spec))
    g = torch.Generator().manual_seed(11)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.5 * torch.randn(p.shape, generator=g))
    return model, random_batch(spec, batch_size=4, seq_len=4, seed=5)


def loss_of(out: torch.Tensor, batch: Batch) -> torch.Tensor:
    if out.dim() == 3:
        return F.cross_entropy(out.reshape(-1, out.shape[-1]), batch.targets.reshape(-1))
    return F.cross_entropy(out, batch.targets)


def backward_copy(model, batch: Batch, objective) -> torch.nn.Module:
    """A copy of the model whose ``.grad`` holds d objective(output) / d parameter (zero for an expert
    no token was routed to)."""
    m = copy.deepcopy(model)
    objective(m(batch.inputs), batch).backward()
    for p in m.parameters():
        p.grad = torch.zeros_like(p) if p.grad is None else p.grad
    return m


def flat(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(-1, x.shape[-1])


def correlation_score(rows: np.ndarray) -> float:
    lam = np.linalg.eigvals(np.corrcoef(rows)).real
    return float(-np.sum(np.log(lam + 1e-5) + 1.0 / (lam + 1e-5)))


def ref_snip(model, batch):
    m = backward_copy(model, batch, loss_of)
    return sum(float((p.detach() * p.grad).abs().sum()) for p in m.parameters())


def ref_grad_norm(model, batch):
    m = backward_copy(model, batch, loss_of)
    return math.sqrt(sum(float((p.grad**2).sum()) for p in m.parameters()))


def ref_synflow(model, batch):
    m = copy.deepcopy(model)
    with torch.no_grad():
        for p in m.parameters():
            p.abs_()
    x = torch.ones_like(batch.inputs) if batch.inputs.is_floating_point() else batch.inputs
    m = backward_copy(m, Batch(x, batch.targets), lambda out, b: out.sum())
    return sum(float((p.detach() * p.grad).abs().sum()) for p in m.parameters())


def ref_fisher(model, batch):
    m, outs = copy.deepcopy(model), []

    def keep(module, args, out):
        out.retain_grad()
        outs.append(out)

    for block in m.blocks:
        block.ffn.register_forward_hook(keep)
    loss_of(m(batch.inputs), batch).backward()
    total = 0.0
    for z in outs:
        b_, t_, c_ = z.shape
        for c in range(c_):
            per_sample = [
                sum(float(z.detach()[b, t, c] * z.grad[b, t, c]) for t in range(t_)) for b in range(b_)
            ]
            total += 0.5 * sum(g * g for g in per_sample) / b_
    return total


def ref_naswot(model, batch):
    """Codes from what each expert's fc1 computed, put back at the tokens whose input rows it was given
    (an MoE expert sees only its routed tokens; the other tokens' units stay silent)."""
    seen = []
    for block in model.blocks:
        record = {"fired": []}
        block.ffn.register_forward_pre_hook(lambda m, args, r=record: r.update(x=flat(args[0])))
        for e, expert in enumerate(block.ffn.experts):
            expert.fc1.register_forward_hook(
                lambda m, args, out, e=e, r=record: r["fired"].append((e, flat(args[0]), flat(out) > 0))
            )
        seen.append(record)
    with torch.no_grad():
        model(batch.inputs)
    codes = []
    for block, record in zip(model.blocks, seen):
        units, tokens = block.ffn.experts[0].fc1.out_features, record["x"]
        code = torch.zeros(tokens.shape[0], len(block.ffn.experts) * units, dtype=torch.bool)
        for e, rows, fired in record["fired"]:
            for row, on in zip(rows, fired):
                for i in range(tokens.shape[0]):
                    if torch.equal(tokens[i], row):
                        code[i, e * units : (e + 1) * units] = on
        codes.append(code.reshape(batch.inputs.shape[0], -1))
    c = torch.cat(codes, dim=1).int().tolist()
    n = len(c)
    k = [[sum(1 for a, b in zip(c[i], c[j]) if a == b) for j in range(n)] for i in range(n)]  # N_A - Hamming
    return float(np.linalg.slogdet(np.array(k, dtype=float))[1])


def ref_jacov(model, batch):
    x = model.embed(batch.inputs, None).detach().requires_grad_()
    h = x
    for block in model.blocks:
        h = block(h, None)
    F.linear(model.final_norm(h), model.wte.weight).sum().backward()
    return correlation_score(x.grad.reshape(x.shape[0], -1).double().numpy())


def ref_hidden_cov(model, batch):
    with torch.no_grad():
        h = model.encode(batch.inputs)
    return correlation_score(h.reshape(h.shape[0], -1).double().numpy())


def ref_zico(model, batch):
    halves = [Batch(batch.inputs[i : i + 2], batch.targets[i : i + 2]) for i in (0, 2)]
    grads = [
        [p.grad.double().numpy() for p in backward_copy(model, half, loss_of).parameters()] for half in halves
    ]
    score = 0.0
    for a, b in zip(*grads):
        g = np.stack([a, b])
        std = g.std(axis=0)
        ratio = np.abs(g).mean(axis=0)[std != 0] / std[std != 0]
        if ratio.sum() > 0:
            score += math.log(ratio.sum())
    return score


REFERENCES = {
    "synflow": ref_synflow,
    "snip": ref_snip,
    "grad_norm": ref_grad_norm,
    "fisher": ref_fisher,
    "naswot": ref_naswot,
    "jacov": ref_jacov,
    "hidden_cov": ref_hidden_cov,
    "zico": ref_zico,
}


@pytest.mark.parametrize("spec", [TINY_LM, TINY_MOE], ids=["dense", "moe"])
@pytest.mark.parametrize("name", PROXIES)
def test_proxy_matches_hand_computed_value(name: str, spec: SpaceSpec) -> None:
    model, batch = tiny(spec)
    expected = REFERENCES[name](copy.deepcopy(model), batch)
    assert getattr(proxies, name)(model, batch) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("name", ["synflow", "snip", "hidden_cov"])
def test_vision_proxy_matches_hand_computed_value(name: str) -> None:
    """Vision: synflow feeds an all-ones image; the class head and patch embedding take part."""
    model, batch = tiny(TINY_VISION)
    expected = REFERENCES[name](copy.deepcopy(model), batch)
    assert getattr(proxies, name)(model, batch) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("spec", [TINY_LM, TINY_ENCODER], ids=["causal", "encoder"])
def test_padding_tokens_do_not_count(spec: SpaceSpec) -> None:
    """Whatever sits at padded positions, no proxy changes (the loss, sums and samples skip it)."""
    model, batch = tiny(spec)
    padding = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 1, 1], [1, 1, 0, 0]], dtype=torch.bool)
    other_ids = torch.where(padding, batch.inputs, (batch.inputs + 3) % spec.vocab_size)
    for name in PROXIES:
        proxy = getattr(proxies, name)
        value = proxy(model, Batch(batch.inputs, batch.targets, padding))
        assert proxy(model, Batch(other_ids, batch.targets, padding)) == pytest.approx(value, rel=1e-5), name


def test_decoder_params_counts_everything_but_the_embeddings() -> None:
    model, _ = tiny(TINY_LM)
    expected = sum(p.numel() for n, p in model.named_parameters() if not n.startswith(("wte.", "wpe.")))
    context = MetricContext(spec=TINY_LM)
    assert get_metric("decoder_params").evaluate(largest(TINY_LM), context) == expected


# ---------------------------------------------------------------- weight sharing == extraction

GPT = full_precision(load_spec("gpt-tiny"))
ARCHS = sample_many(GPT, 4, seed=1)  # every attention type, dense and 2/4-expert FFNs, every width


@pytest.fixture(scope="module")
def gpt_context() -> MetricContext:
    return MetricContext(spec=GPT, batch=random_batch(GPT, batch_size=4, seq_len=16, seed=1), seed=2)


def test_active_weights_are_exactly_the_extracted_parameters(gpt_context: MetricContext) -> None:
    assert_active_weights_are_extracted(gpt_context.supernet, ARCHS, gpt_context.batch)


@pytest.mark.parametrize("name", PROXIES)
def test_supernet_equals_extracted_gpt(name: str, gpt_context: MetricContext) -> None:
    metric = get_metric(name)
    for arch in ARCHS:
        shared = metric.evaluate(arch, gpt_context)
        alone = getattr(proxies, name)(extract(gpt_context.supernet, arch), gpt_context.batch)
        assert shared == pytest.approx(alone, rel=1e-4), arch


@pytest.mark.parametrize("space", ["bert-mini", "vit-tiny", "speech-tiny"])
def test_supernet_equals_extracted_encoders(space: str) -> None:
    spec = full_precision(load_spec(space))
    context = MetricContext(spec=spec, batch=random_batch(spec, batch_size=4, seq_len=16, seed=1))
    arch = sample_many(spec, 1, seed=3)[0]
    dense = extract(context.supernet, arch)
    for name in PROXIES:
        shared = get_metric(name).evaluate(arch, context)
        assert shared == pytest.approx(getattr(proxies, name)(dense, context.batch), rel=1e-4), name


# ---------------------------------------------------------------- determinism, side effects, applicability


def test_deterministic_and_leaves_the_supernet_untouched() -> None:
    spec = load_spec("gpt-tiny")  # quantized, as searches run it
    context = MetricContext(spec=spec, batch=random_batch(spec, batch_size=4, seq_len=16, seed=0), seed=4)
    supernet = context.supernet.train()
    before = {k: v.clone() for k, v in supernet.state_dict().items()}
    arch_before = supernet.arch
    arch = sample_many(spec, 1, seed=9)[0]
    first = {name: get_metric(name).evaluate(arch, context) for name in PROXIES}
    again = {name: get_metric(name).evaluate(arch, context) for name in PROXIES}
    fresh_context = MetricContext(
        spec=spec, batch=random_batch(spec, batch_size=4, seq_len=16, seed=0), seed=4
    )
    fresh = {name: get_metric(name).evaluate(arch, fresh_context) for name in PROXIES}
    assert first == again == fresh
    assert all(math.isfinite(v) for v in first.values()), first
    after = supernet.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in supernet.parameters())
    assert supernet.training and supernet.arch == arch_before


def test_decoder_params_applies_to_causal_lm_only() -> None:
    spec = load_spec("bert-mini")
    metric = get_metric("decoder_params")
    with pytest.raises(SpecError, match="decoder_params"):
        metric.check_applicable(spec)
    with pytest.raises(SpecError, match="decoder_params"):
        metric.evaluate(sample_many(spec, 1, seed=0)[0], MetricContext(spec=spec))


def test_zico_rejects_too_few_parts(gpt_context: MetricContext) -> None:
    with pytest.raises(SpecError, match="parts"):
        get_metric("zico", parts=1).evaluate(sample_many(GPT, 1, seed=0)[0], gpt_context)
