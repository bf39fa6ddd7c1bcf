"""Global distillation of one chosen subnet from the parent (Puzzle's last step; sentence-transformers'
layer-reduction distillation): after the search, train that subnet alone to reproduce the parent.

- Encoders: the token-level and pooled cosine distances and the batch's similarity-matrix term of
  :func:`supernas.training.adapt.distillation_loss` (what ``similarity_rank`` scores).
- Every other task (LMs, vision, speech): KL of the parent's output distribution to the subnet's, per
  prediction, plus the token-level cosine distance of the final hidden states.

The student is the supernet with the subnet active and its weights (trained blocks included) made its own
(:meth:`Supernet.bake`), trained in full precision with the subnet's quantization simulated
(straight-through), so the checkpoint written at the end is quantized as the search scored it. Resumable
exactly: the batch of step ``s`` depends only on ``(seed, s)``, and the training state (weights, AdamW
state, step) is kept in ``OUTPUT/training``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from supernas.data.inputs import Batch
from supernas.models.checkpoint import extract, save_subnet
from supernas.models.model import Transformer
from supernas.models.parent import parent_supernet
from supernas.models.supernet import Supernet
from supernas.spaces.architecture import Architecture
from supernas.training.adapt import distillation_loss
from supernas.training.examples import DistillationData
from supernas.training.losses import distill_loss
from supernas.training.sandwich import (
    TrainResult,
    default_warmup,
    learning_rate,
    restore_training_state,
    run_sandwich,
)

TRAINING_STATE = "training"  # subfolder of the output with the resumable state
HELDOUT_BATCHES = 4


@dataclass(frozen=True)
class DistillConfig:
    """Everything that decides a distillation run; a resumed run must match it exactly."""

    arch_id: str
    steps: int
    lr: float
    batch_size: int
    seed: int
    weight_decay: float
    warmup: int
    data: str
    sandwich_k: int = 0  # one subnet, not a sandwich (the shared run loop reads it)


def token_distance(
    student: torch.Tensor, teacher: torch.Tensor, padding: torch.Tensor | None
) -> torch.Tensor:
    """1 - cosine of each real token's hidden state, the teacher cut to the student's width (a narrower
    subnet's embedding is the first channels of the parent's)."""
    distance = 1 - F.cosine_similarity(student, teacher[..., : student.shape[-1]], dim=-1)
    return (distance[padding] if padding is not None else distance).mean()


def subnet_loss(student: Supernet, teacher: Supernet, batch: Batch) -> torch.Tensor:
    """The distillation loss of the active subnet of ``student`` against ``teacher`` on one batch."""
    with torch.no_grad():
        target = teacher.encode(batch.inputs, batch.padding)
    hidden = student.encode(batch.inputs, batch.padding)
    if student.spec.task == "encoder_classification":
        return distillation_loss(hidden, target, batch.padding)
    logits, target_logits = _logits(student, hidden, batch), _logits(teacher, target, batch)
    return distill_loss(logits, target_logits) + token_distance(hidden, target, batch.padding)


def _logits(model: Transformer, hidden: torch.Tensor, batch: Batch) -> torch.Tensor:
    """The output of ``model`` from its final hidden states (the head of :meth:`Transformer.forward`)."""
    if model.spec.task == "causal_lm":
        if model.spec.tie_embeddings:
            return F.linear(hidden, model.wte.weight[:, : hidden.shape[-1]])
        return model.lm_head(hidden)
    from supernas.models.ops import mean_pool

    pooled = hidden[:, 0] if model.spec.task == "vision" else mean_pool(hidden, batch.padding)
    return model.classifier(pooled)


@torch.no_grad()
def heldout_loss(student: Supernet, teacher: Supernet, batches: list[Batch]) -> float:
    was = student.training
    student.eval()
    losses = [float(subnet_loss(student, teacher, b)) for b in batches]
    student.train(was)
    return sum(losses) / len(losses)


@dataclass(frozen=True)
class Distilled:
    model: Transformer  # the distilled subnet, as its checkpoint holds it
    result: TrainResult
    heldout_before: float
    heldout_after: float


def distill_subnet(
    supernet: Supernet,
    arch: Architecture,
    data: DistillationData,
    steps: int,
    output: str | Path,
    lr: float = 1e-4,
    batch_size: int = 16,
    seed: int = 0,
    weight_decay: float = 0.01,
    resume: bool = False,
    progress: bool = True,
    checkpoint_every: int = 50,
    until: int | None = None,
    origin: dict | None = None,
) -> Distilled:
    """Distil ``arch`` of ``supernet`` from its parent and write the subnet checkpoint to ``output``
    (its config records the run, with ``origin``: where the subnet came from). ``supernet`` becomes the
    student: its other subnets are not kept."""
    output = Path(output)
    state = output / TRAINING_STATE
    teacher, parent_arch = parent_supernet(supernet)
    supernet.activate(arch)
    supernet.bake()
    config = DistillConfig(
        arch.arch_id, steps, lr, batch_size, seed, weight_decay, default_warmup(steps), data.source
    )
    heldout = data.heldout_batches(HELDOUT_BATCHES, batch_size)
    with teacher.active(parent_arch):
        before = heldout_loss(supernet, teacher, heldout)
        trained = list(supernet.parameters())
        optimizer = torch.optim.AdamW(trained, lr=lr, weight_decay=weight_decay)
        start = restore_training_state(supernet, optimizer, config, state) if resume else 0
        base = supernet.provenance.split(" (loaded from")[0]

        def provenance(done: int) -> str:
            return f"{base}; {arch.arch_id} distilled from its parent, {done}/{steps} steps on {data.source}"

        def run_step(step: int) -> float:
            batch = data.batch(step, batch_size, seed)
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(config, step)
            optimizer.zero_grad(set_to_none=True)
            loss = subnet_loss(supernet, teacher, batch)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trained, 1.0)
            optimizer.step()
            return float(loss.detach())

        result = run_sandwich(
            supernet,
            optimizer,
            config,
            start,
            run_step,
            provenance,
            directory=state,
            checkpoint_every=checkpoint_every,
            until=until,
            progress=progress,
            verb="distill",
            loss_label="loss",
            loss_format=".4f",
        )
        after = heldout_loss(supernet, teacher, heldout)
    model = extract(supernet, arch)
    record = {
        **(origin or {}),
        **asdict(config),
        "steps_done": result.steps_done,
        "heldout_loss_before": before,
    }
    record["heldout_loss_after"] = after
    save_subnet(model, output, distilled=record)
    return Distilled(model, result, before, after)
