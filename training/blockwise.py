"""Blockwise local distillation (BLD, NVIDIA Puzzle): train each alternative sub-block alone to imitate
the parent's block on the parent's own activations.

One job is one (layer, part, structural choice) other than the parent's own and other than a no-op.
Decoupled as Puzzle does: an attention choice is trained inside the parent's layer with the parent's FFN
frozen, an FFN choice with the parent's attention frozen, so each job trains only its part's weights
(that part's norm included). The layer's input is the parent's hidden state entering it; the target is
the parent layer's output; the loss is the normalised MSE ``|y - t|^2 / |t|^2`` over real tokens. The
block starts from the parent's slice (importance-sorted heads and neurons) and trains with AdamW,
warm-up then cosine decay, in full precision.

A job depends only on its settings, its key and the data: the batch of step ``s`` is drawn from
``(seed, s)`` alone, so jobs run in any order, on any worker, and a resumed run retrains nothing it
finished (and gives the blocks an uninterrupted run would).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from supernas.data.inputs import Batch
from supernas.models.blocks import block_key, part_modules, present
from supernas.models.checkpoint import extract
from supernas.models.model import Block
from supernas.models.parent import parent_supernet
from supernas.models.supernet import Supernet
from supernas.spaces.architecture import LayerArch, attention_options, ffn_options, largest, with_layer
from supernas.training.examples import DistillationData
from supernas.training.sandwich import default_warmup, learning_rate


@dataclass(frozen=True)
class BlockSettings:
    """Everything that decides a trained block besides its key; a stored block with other settings is
    trained again."""

    steps: int
    lr: float
    batch_size: int
    seed: int
    data: str
    heldout_batches: int
    parent: str  # fingerprint of the parent's weights
    warmup: int = 0

    def __post_init__(self) -> None:
        if not self.warmup:
            object.__setattr__(self, "warmup", default_warmup(self.steps))

    def record(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class BlockJob:
    """One sub-block to train: ``choice`` is the parent's layer with ``part`` replaced."""

    layer: int
    part: str  # attention | ffn
    choice: LayerArch

    @property
    def key(self) -> str:
        return block_key(self.layer, self.part, self.choice)


def block_jobs(spec) -> list[BlockJob]:
    """Every trainable (layer, part, choice) of a space: not the parent's own choice, not a no-op."""
    top = largest(spec)
    jobs = []
    for layer, own in enumerate(top.layers):
        for part, options in (("attention", attention_options(spec)), ("ffn", ffn_options(spec))):
            for option in options:
                choice = LayerArch(**{**own.model_dump(), **option})
                if present(part, choice) and block_key(layer, part, choice) != block_key(layer, part, own):
                    jobs.append(BlockJob(layer, part, choice))
    return jobs


def normalized_mse(output: torch.Tensor, target: torch.Tensor, padding: torch.Tensor | None) -> torch.Tensor:
    """``sum |y - t|^2 / sum |t|^2`` over real tokens: 0 is a perfect imitation, 1 outputting zeros."""
    error, scale = (output - target).square().sum(-1), target.square().sum(-1)
    if padding is not None:
        error, scale = error[padding], scale[padding]
    return error.sum() / scale.sum()


class ParentActivations:
    """The parent's input to and output of one layer, for a batch (computed without gradients)."""

    def __init__(self, supernet: Supernet) -> None:
        self.parent, self.arch = parent_supernet(supernet)

    @torch.no_grad()
    def __call__(self, layer: int, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        with self.parent.active(self.arch):
            x = self.parent.embed(batch.inputs, None)
            for block in list(self.parent.blocks)[:layer]:
                x = block(x, batch.padding)
            return x, self.parent.blocks[layer](x, batch.padding)


def student_block(activations: ParentActivations, job: BlockJob) -> Block:
    """The parent's layer ``job.layer`` with ``job.part`` replaced by the parent's slice of the choice,
    dense and in full precision; only that part's parameters train."""
    block = extract(
        activations.parent, with_layer(activations.arch, job.layer, job.choice.model_dump())
    ).blocks[job.layer]
    for parameter in block.parameters():
        parameter.requires_grad_(False)
    for _, parameter in _part_parameters(block, job.part):
        parameter.requires_grad_(True)
    return block.train()


def _part_parameters(block: nn.Module, part: str) -> list[tuple[str, nn.Parameter]]:
    return [
        (f"{name}.{p}", parameter)
        for name, module in part_modules(block, part)
        for p, parameter in module.named_parameters()
    ]


@torch.no_grad()
def imitation_loss(block: Block, activations: ParentActivations, layer: int, batches: list[Batch]) -> float:
    """Mean normalised MSE of ``block`` against the parent's layer on fixed batches."""
    was = block.training
    block.eval()
    losses = []
    for batch in batches:
        x, target = activations(layer, batch)
        losses.append(float(normalized_mse(block(x, batch.padding), target, batch.padding)))
    block.train(was)
    return sum(losses) / len(losses)


def train_block(
    activations: ParentActivations,
    job: BlockJob,
    settings: BlockSettings,
    data: DistillationData,
) -> tuple[dict[str, torch.Tensor], dict]:
    """Train one sub-block; its weights (relative names in the supernet's layer) and what to record."""
    block = student_block(activations, job)
    heldout = data.heldout_batches(settings.heldout_batches, settings.batch_size)
    before = imitation_loss(block, activations, job.layer, heldout)
    trained = [p for _, p in _part_parameters(block, job.part)]
    optimizer = torch.optim.AdamW(trained, lr=settings.lr, weight_decay=0.0)
    for step in range(settings.steps):
        batch = data.batch(step, settings.batch_size, settings.seed)
        x, target = activations(job.layer, batch)
        loss = normalized_mse(block(x, batch.padding), target, batch.padding)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(settings, step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    after = imitation_loss(block, activations, job.layer, heldout)
    tensors = {name: p.detach().clone() for name, p in _part_parameters(block, job.part)}
    record = {"settings": settings.record(), "heldout_loss_slice": before, "heldout_loss_trained": after}
    return tensors, record
