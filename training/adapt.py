"""Adaptation (InstaTune-style): fine-tune a pretrained supernet so its small subnets recover the parent's
embeddings, without changing what its full-size subnet computes more than it must.

Sandwich rule as in supernet training, by its loop (:func:`supernas.training.sandwich.run_sandwich`:
largest, smallest and ``sandwich_k`` random subnets per step, gradients accumulated into one AdamW step
with warm-up and cosine decay), but every subnet learns from the frozen parent
(:mod:`supernas.models.parent`) instead of labels, on the user's unlabeled text:

- tokens: 1 - cosine between each real token's final hidden state in the subnet and in the parent (the
  parent's first k channels for a subnet of width k: the nesting width slicing assumes);
- pooled: the same for the mean-pooled sentence embeddings;
- relational: mean squared difference between the batch's sentence-similarity matrices of subnet and
  parent, which needs no common width and is what ``similarity_rank`` scores.

Resumable exactly like ``supernas train``: the batch and the subnets of step ``s`` depend only on
``(seed, s)``, and the saved training state holds weights, AdamW state and the step.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from supernas.core.errors import SpecError
from supernas.core.seeds import step_seed
from supernas.models.ops import mean_pool
from supernas.models.parent import PARENT_WEIGHTS, parent_supernet, save_parent
from supernas.models.supernet import Supernet
from supernas.spaces.architecture import Architecture
from supernas.training.sandwich import (
    TrainResult,
    default_warmup,
    learning_rate,
    restore_training_state,
    run_sandwich,
    sandwich,
    sandwich_step,
)


@dataclass(frozen=True)
class AdaptConfig:
    """Everything that decides an adaptation run; a resumed run must match it exactly."""

    steps: int
    lr: float
    batch_size: int
    sandwich_k: int
    seed: int
    weight_decay: float
    warmup: int
    data: str  # description of the text


@dataclass(frozen=True)
class Texts:
    """Tokenized text to adapt on: ids (N, T) and padding (N, T, True at real tokens)."""

    ids: torch.Tensor
    padding: torch.Tensor
    source: str


def _batch(texts: Texts, config: AdaptConfig, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(step_seed(config.seed, step))
    rows = torch.randint(0, len(texts.ids), (config.batch_size,), generator=g)
    padding = texts.padding[rows]
    width = int(padding.sum(1).max())  # drop columns that are padding in every row
    return texts.ids[rows, :width], padding[:, :width]


def _states(net: Supernet, arch: Architecture, ids: torch.Tensor, padding: torch.Tensor) -> torch.Tensor:
    with net.active(arch):
        return net.encode(ids, padding)  # (B, T, width)


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, padding: torch.Tensor) -> torch.Tensor:
    """Token and pooled cosine distances (teacher cut to the student's width) plus the relational term."""
    width = student.shape[-1]
    tokens = (1 - F.cosine_similarity(student, teacher[..., :width], dim=-1))[padding].mean()
    s, t = mean_pool(student, padding), mean_pool(teacher, padding)
    pooled = 1 - F.cosine_similarity(s, t[:, :width], dim=1).mean()
    s, t = F.normalize(s, dim=1), F.normalize(t, dim=1)
    return tokens + pooled + F.mse_loss(s @ s.T, t @ t.T)


def adapt_step(
    supernet: Supernet,
    parent: tuple[Supernet, Architecture],
    optimizer: torch.optim.Optimizer,
    texts: Texts,
    config: AdaptConfig,
    step: int,
) -> float:
    """One sandwich step; returns the smallest subnet's loss (the one adaptation is for)."""
    ids, padding = _batch(texts, config, step)
    with torch.no_grad():
        teacher = _states(*parent, ids, padding)
    losses = (
        distillation_loss(_states(supernet, arch, ids, padding), teacher, padding)
        for arch in sandwich(supernet, config, step)
    )
    return sandwich_step(supernet, optimizer, learning_rate(config, step), losses)[1]


def adapt_supernet(
    supernet: Supernet,
    texts: Texts,
    steps: int,
    output: str | Path,
    lr: float = 1e-4,
    batch_size: int = 32,
    sandwich_k: int = 2,
    seed: int = 0,
    resume: bool = False,
    progress: bool = True,
    checkpoint_every: int = 50,
    weight_decay: float = 0.01,
    until: int | None = None,
) -> TrainResult:
    """Adapt ``supernet`` (a pretrained encoder supernet) in place towards its parent; checkpoints and
    the result go to ``output``, with the parent kept beside them."""
    if supernet.trained_blocks:
        raise SpecError(
            "adapt trains the shared weights; this supernet computes with trained blocks "
            "(blocks.json beside it): adapt the supernet they were distilled from, then run distill-blocks"
        )
    if supernet.spec.task != "encoder_classification":
        raise SpecError(
            "adapt distils sentence embeddings: it needs an encoder space, "
            f"not {supernet.spec.task} ('{supernet.spec.name}')"
        )
    if len(texts.ids) < batch_size:
        raise SpecError(
            f"{texts.source}: {len(texts.ids)} examples to adapt on, fewer than --batch-size {batch_size}"
        )
    directory = Path(output)
    config = AdaptConfig(
        steps, lr, batch_size, sandwich_k, seed, weight_decay, default_warmup(steps), texts.source
    )
    parent = parent_supernet(supernet)  # before any step changes the weights
    directory.mkdir(parents=True, exist_ok=True)
    if not (directory / PARENT_WEIGHTS).is_file():
        save_parent(parent[0], directory)
    optimizer = torch.optim.AdamW(supernet.parameters(), lr=lr, weight_decay=weight_decay)
    start = restore_training_state(supernet, optimizer, config, directory) if resume else 0
    base = supernet.provenance.split("; adapted")[0]

    def provenance(done: int) -> str:
        return (
            f"{base}; adapted {done}/{steps} steps to its parent on {texts.source} "
            f"(sandwich k={sandwich_k}, seed {seed})"
        )

    def run_step(step: int) -> float:
        return adapt_step(supernet, parent, optimizer, texts, config, step)

    return run_sandwich(
        supernet,
        optimizer,
        config,
        start,
        run_step,
        provenance,
        directory=directory,
        checkpoint_every=checkpoint_every,
        until=until,
        progress=progress,
        verb="adapt",
        loss_label="smallest",
        loss_format=".4f",
    )


def adaptation_texts(spec, data: str | None) -> Texts:
    """The training part of ``data`` (see :func:`supernas.data.task.load_task_data`; default: the
    stdlib docstring prose), never its held-out part, which fidelity is scored on."""
    from supernas.data.task import load_task_data

    task = load_task_data(data or "stdlib-prose", spec)
    if task.train.padding is None:
        raise SpecError(f"--data {data}: adapt needs text, got {task.kind}")
    return Texts(task.train.inputs, task.train.padding, task.source)
