"""How well do cheap metrics rank subnets as their trained quality does?

For N random subnets of a trained supernet, every metric's Spearman rho and Kendall tau against two
targets: one-shot ``val_loss`` (the weights each subnet inherits), and, with ``Finetuning``, the
held-out loss after a short standalone fine-tuning of each subnet (``training.sandwich.finetune``; the
same steps, batches and seed for all), a closer stand-in for what a subnet is worth once trained on its
own. The number of parameters is the baseline a proxy has to beat: in a weight-sharing space bigger
subnets are usually better, so a proxy that only tracks size adds nothing. Signs are raw: a maximized
proxy that ranks perfectly has rho = -1 against a loss, and so does "more parameters, lower loss".

Besides single metrics, a learned combination: ridge regression on the ranks of every metric, scored
by leave-one-out (each subnet's prediction comes from a model, rank transform included, fit on the
other N-1 subnets only), so it is never fit and scored on the same subnet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau, spearmanr

from supernas.core.errors import SpecError
from supernas.core.progress import make_progress
from supernas.data.inputs import Batch
from supernas.data.text import TextData, TextWindows, load_text
from supernas.data.types import batch_at
from supernas.models.supernet import Supernet
from supernas.predictors.base import CostClass, MetricContext
from supernas.predictors.catalogue import get_metric
from supernas.predictors.oneshot import heldout_loss
from supernas.predictors.proxies import PROXIES
from supernas.spaces.architecture import Architecture, sample_many
from supernas.training.sandwich import finetune

BASELINES = ("params", "decoder_params")
TARGET = "val_loss"
FINETUNED = "finetuned_val_loss"
COMBINED = "ridge(ranks), LOO"
RIDGE_ALPHA = 1.0  # fixed in advance: tuning it on the same subnets would leak


@dataclass(frozen=True)
class Finetuning:
    """The short standalone training every subnet gets before its fine-tuned val_loss is measured."""

    steps: int
    lr: float = 1e-3
    batch_size: int = 16
    seq_len: int = 64


@dataclass(frozen=True)
class Agreement:
    metric: str
    direction: str
    cost: str
    spearman: float | None  # against one-shot val_loss; None on the row of val_loss itself
    kendall: float | None
    finetuned_spearman: float | None = None  # against val_loss after fine-tuning; None without fine-tuning
    finetuned_kendall: float | None = None


def training_text(supernet: Supernet, path: str | Path | None) -> TextData:
    """The text ``supernet`` was trained on: ``path``, else the stdlib. Other text is refused: proxy
    batches and fine-tuning on it would measure transfer to another corpus, not the subnets."""
    text = load_text(path)
    if supernet.trained_on is not None and text.source != supernet.trained_on:
        given = f"--data {path}" if path is not None else "the default text (Python stdlib)"
        raise SpecError(
            f"{given} is {text.source}, but the supernet was trained on {supernet.trained_on}: "
            "pass that file with --data"
        )
    return text


def proxy_context(supernet: Supernet, seed: int = 0, text: TextData | None = None) -> MetricContext:
    """Context for scoring a trained supernet: for a byte-level LM, proxies see a batch of its training
    text (the stdlib's by default; random tokens say little about a model trained on text); otherwise
    the default random batch."""
    spec = supernet.spec
    context = MetricContext(spec, seed=seed, supernet_factory=lambda: supernet)
    if spec.task == "causal_lm" and spec.vocab_size == 256:
        tokens = (text or load_text(None)).train
        context.batch = batch_at(TextWindows(tokens, min(32, spec.max_seq_len)), 0, batch_size=4, seed=seed)
    return context


def finetuned_losses(
    supernet: Supernet,
    archs: list[Architecture],
    text: TextData,
    heldout: list[Batch],
    finetuning: Finetuning,
    seed: int,
    progress: bool = False,
) -> list[float]:
    """Held-out loss of each subnet after ``finetuning`` on ``text`` (same batches and seed for all)."""
    return [
        heldout_loss(
            finetune(
                supernet,
                arch,
                text,
                finetuning.steps,
                finetuning.lr,
                finetuning.batch_size,
                finetuning.seq_len,
                seed,
            ),
            arch,
            heldout,
        )
        for arch in make_progress(
            archs, enabled=progress, desc=f"fine-tune {finetuning.steps} steps", unit="subnet"
        )
    ]


def _ecdf(fitted: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Mid-rank of ``x`` among ``fitted``, as a fraction: the rank transform fit on ``fitted`` alone."""
    s = np.sort(fitted)
    return (np.searchsorted(s, x, "left") + np.searchsorted(s, x, "right")) / (2 * len(s))


def loo_ridge(
    features: dict[str, list[float]], target: list[float], alpha: float = RIDGE_ALPHA
) -> list[float]:
    """Leave-one-out predictions of a quality score (higher = lower ``target``) from ridge regression on
    the features' ranks; subnet i's prediction uses a model whose ranks, scaling and weights come from
    the other subnets only. Features with a non-finite value are left out."""
    columns = [np.asarray(v, dtype=float) for v in features.values() if all(math.isfinite(x) for x in v)]
    if not columns:
        raise SpecError("no metric with finite values to combine")
    X, y = np.stack(columns, axis=1), -np.asarray(target, dtype=float)
    predictions = []
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        train = np.stack([_ecdf(X[keep, j], X[keep, j]) for j in range(X.shape[1])], axis=1)
        test = np.array([_ecdf(X[keep, j], X[i : i + 1, j])[0] for j in range(X.shape[1])])
        mean, std = train.mean(axis=0), train.std(axis=0)
        std[std == 0] = 1.0
        a, b = (train - mean) / std, (test - mean) / std
        t = _ecdf(y[keep], y[keep])
        w = np.linalg.solve(a.T @ a + alpha * np.eye(a.shape[1]), a.T @ (t - t.mean()))
        predictions.append(float(b @ w + t.mean()))
    return predictions


def _agreement(x: list[float], target: list[float]) -> tuple[float, float]:
    return float(spearmanr(x, target)[0]), float(kendalltau(x, target)[0])


def rank_agreement(
    supernet: Supernet,
    n: int,
    seed: int = 0,
    metrics: tuple[str, ...] = PROXIES + BASELINES,
    text: TextData | None = None,
    finetuning: Finetuning | None = None,
    progress: bool = False,
) -> tuple[list[Agreement], dict[str, list[float]]]:
    """Agreement of each applicable metric, and of their leave-one-out ridge combination, with one-shot
    ``val_loss`` and (with ``finetuning``) fine-tuned val_loss over ``n`` random subnets; also the raw
    values (targets under ``TARGET`` and ``FINETUNED``). ``text`` is the supernet's training text
    (default: ``training_text(supernet, None)``)."""
    spec = supernet.spec
    text = text or training_text(supernet, None)
    context = proxy_context(supernet, seed, text)
    archs = sample_many(spec, n, seed)
    target_metric = get_metric(TARGET)
    chosen = [m for m in (get_metric(name) for name in metrics) if spec.task in m.tasks]
    values = {TARGET: [float(target_metric.evaluate(arch, context)) for arch in archs]}
    values.update({m.name: [float(m.evaluate(arch, context)) for arch in archs] for m in chosen})
    if finetuning is not None:
        values[FINETUNED] = finetuned_losses(
            supernet, archs, text, target_metric.heldout(context), finetuning, seed, progress
        )
    targets = [TARGET] + ([FINETUNED] if finetuning is not None else [])
    rows = []
    if finetuning is not None:
        rows.append(
            Agreement(
                TARGET,
                target_metric.direction,
                target_metric.cost.value,
                None,
                None,
                *_agreement(values[TARGET], values[FINETUNED]),
            )
        )
    for m in chosen:
        rows.append(
            Agreement(
                m.name,
                m.direction,
                m.cost.value,
                *(r for t in targets for r in _agreement(values[m.name], values[t])),
            )
        )
    if len(chosen) > 1:
        features = {m.name: values[m.name] for m in chosen}
        combined = [r for t in targets for r in _agreement(loo_ridge(features, values[t]), values[t])]
        costliest = max(
            (m.cost for m in chosen), key=list(CostClass).index
        )  # a combination costs its dearest input
        rows.append(Agreement(COMBINED, "maximize", costliest.value, *combined))
    return rows, values


def _cell(x: float | None) -> str:
    return f"{'-':>9}" if x is None else f"{x:>9.3f}"


def format_agreement(rows: list[Agreement], n: int, finetuning: Finetuning | None = None) -> str:
    """A table, val_loss first, then by strength of agreement with the fine-tuned target (else one-shot)."""
    header = (
        f"rank agreement over {n} random subnets (rho = -1: higher metric, lower loss); "
        "targets: one-shot val_loss"
    )
    if finetuning is not None:
        header += (
            f", val_loss after {finetuning.steps} standalone fine-tuning steps "
            f"(lr {finetuning.lr:g}, batch {finetuning.batch_size})"
        )
    lines = [
        header,
        f"{'metric':<18} {'direction':<9} {'cost':<9} {'rho 1shot':>9} {'tau 1shot':>9}"
        + (f" {'rho tuned':>9} {'tau tuned':>9}" if finetuning is not None else ""),
    ]

    def strength(r: Agreement) -> float:
        if r.spearman is None:  # the val_loss row goes first
            return -2.0
        rho = r.finetuned_spearman if finetuning is not None else r.spearman
        return -abs(rho) if math.isfinite(rho) else 0.0

    for r in sorted(rows, key=strength):
        line = f"{r.metric:<18} {r.direction:<9} {r.cost:<9} {_cell(r.spearman)} {_cell(r.kendall)}"
        lines.append(
            line
            + (
                f" {_cell(r.finetuned_spearman)} {_cell(r.finetuned_kendall)}"
                if finetuning is not None
                else ""
            )
        )
    return "\n".join(lines)
