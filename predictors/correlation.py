"""How well do cheap metrics rank subnets as one-shot ``val_loss`` does?

For N random subnets of a trained supernet, every metric's Spearman rho and Kendall tau against
``val_loss``. The number of parameters is the baseline a proxy has to beat: in a weight-sharing space
bigger subnets are usually better, so a proxy that only tracks size adds nothing. Signs are raw: a
maximized proxy that ranks perfectly has rho = -1 against a loss, and so does "more parameters, lower
loss".
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from scipy.stats import kendalltau, spearmanr

from supernas.spaces import Supernet, sample_many
from supernas.spaces.data import batch_at, stdlib_text

from .base import MetricContext, get_metric

PROXIES = ("synflow", "snip", "grad_norm", "fisher", "naswot", "jacov", "hidden_cov", "zico")
BASELINES = ("params", "decoder_params")
TARGET = "val_loss"


@dataclass(frozen=True)
class Agreement:
    metric: str
    direction: str
    cost: str
    spearman: float
    kendall: float


def proxy_context(supernet: Supernet, seed: int = 0) -> MetricContext:
    """Context for scoring a trained supernet: for a byte-level LM, proxies see a batch of real training
    text (random tokens say little about a model trained on text); otherwise the default random batch."""
    spec = supernet.spec
    context = MetricContext(spec, seed=seed, supernet_factory=lambda: supernet)
    if spec.task == "causal_lm" and spec.vocab_size == 256:
        context.batch = batch_at(stdlib_text().train, 0, seq_len=min(32, spec.max_seq_len), batch_size=4, seed=seed)
    return context


def rank_agreement(
    supernet: Supernet, n: int, seed: int = 0, metrics: tuple[str, ...] = PROXIES + BASELINES
) -> tuple[list[Agreement], dict[str, list[float]]]:
    """Agreement of each applicable metric with ``val_loss`` over ``n`` random subnets; also the raw values."""
    spec = supernet.spec
    context = proxy_context(supernet, seed)
    archs = sample_many(spec, n, seed)
    chosen = [get_metric(name) for name in (TARGET, *metrics)]
    chosen = [m for m in chosen if spec.task in m.tasks]
    values = {m.name: [float(m.evaluate(arch, context)) for arch in archs] for m in chosen}
    target = values[TARGET]
    rows = [
        Agreement(m.name, m.direction, m.cost.value, float(spearmanr(values[m.name], target)[0]), float(kendalltau(values[m.name], target)[0]))
        for m in chosen if m.name != TARGET
    ]
    return rows, values


def format_agreement(rows: list[Agreement], n: int) -> str:
    lines = [f"rank agreement with one-shot val_loss over {n} random subnets (rho = -1: higher metric, lower loss)",
             f"{'metric':<16} {'direction':<9} {'cost':<9} {'spearman':>9} {'kendall':>9}"]
    for r in sorted(rows, key=lambda r: -abs(r.spearman) if r.spearman == r.spearman else 0.0):
        lines.append(f"{r.metric:<16} {r.direction:<9} {r.cost:<9} {r.spearman:>9.3f} {r.kendall:>9.3f}")
    return "\n".join(lines)
