"""Losses shared by supernet training (``training.sandwich``) and scoring (``predictors``).

They live in ``spaces`` because training sits there and may not import ``predictors``; the proxies and
the one-shot metrics import them from here, so every part of supernas means the same thing by "loss".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from supernas.data.inputs import Batch


def counted_targets(batch: Batch) -> int:
    """Number of targets a loss averages over: real tokens for a causal LM, samples otherwise."""
    if batch.targets.dim() == 1 or batch.padding is None:
        return batch.targets.numel()
    return int(batch.padding.sum())


def task_loss(logits: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Next-token cross-entropy over real tokens (causal LM, logits (B, T, V)) or class cross-entropy."""
    if logits.dim() == 2:
        return F.cross_entropy(logits, batch.targets)
    losses = F.cross_entropy(logits.flatten(0, 1), batch.targets.flatten(), reduction="none")
    return losses.mean() if batch.padding is None else losses[batch.padding.flatten().bool()].mean()


def distill_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """KL(teacher || student) per prediction (token or sample), averaged: in-place distillation's soft target.

    The teacher's logits are detached here, so no gradient reaches the teacher through its own targets.
    """
    student = F.log_softmax(student_logits.flatten(0, -2), dim=-1)
    teacher = F.log_softmax(teacher_logits.detach().flatten(0, -2), dim=-1)
    return F.kl_div(student, teacher, log_target=True, reduction="batchmean")
