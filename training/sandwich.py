"""Supernet training: the sandwich rule with in-place distillation (Yu et al. 2020, BigNAS).

Every step runs the largest subnet, the smallest and ``sandwich_k`` random ones on one batch and
accumulates their gradients before a single AdamW step. The largest learns from the labels; with
``distill`` the others learn from the largest's detached soft predictions (KL), which trains small
subnets towards what the shared weights can express and keeps them from pulling the large ones apart.
Distillation is off by default: it pays off once the teacher is good, and CPU-length runs end long
before that. Measured on gpt-tiny (held-out nats/byte, largest / smallest subnet): 300 steps, 2.89 / 2.91
with distillation vs 2.41 / 2.52 from labels; 600 steps, 2.69 / 2.75 vs 1.97 / 2.13 (the largest
subnet trained alone for 600 steps: 1.84). Blending labels and the teacher (fixed 1:1, or ramped from
labels to teacher) measured in between (300 steps: 2.52 and 2.49 for the largest).
Quantized layers train through the straight-through fake-quant already in the forward pass.
A byte-level LM trains on text (``data.text``, next-byte loss); a classification space (encoder or
vision) on labeled task data (``data.task``, class cross-entropy), and keeps that data's held-out
split with its weights.

Resumable bit for bit: the batch and the random subnets of step ``s`` depend only on ``(seed, s)``, and
the learning rate only on ``s``, so the training state (weights, AdamW state, step) is all the state there is.

Adaptation (:mod:`supernas.training.adapt`) follows the same rule with its own batches and losses, so the
loop (:func:`run_sandwich`), one step's update (:func:`sandwich_step`) and the saved training state live
here once.
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import torch
from safetensors.torch import load_file

from supernas.core.errors import NotFoundError, SpecError
from supernas.core.progress import make_progress
from supernas.core.seeds import step_seed
from supernas.core.weightfiles import weights_digest
from supernas.data.inputs import Batch
from supernas.data.text import TextData, TextWindows
from supernas.data.types import TaskData, batch_at
from supernas.models.supernet import SUPERNET_WEIGHTS, Supernet
from supernas.spaces.architecture import Architecture, largest, sample, smallest
from supernas.spaces.spec import SpaceSpec
from supernas.training.losses import distill_loss, task_loss

Data = TextData | TaskData

TRAINER_STATE = "trainer.pt"
GRAD_CLIP = 1.0
MIN_LR_FRACTION = 0.1


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides the result of a run; a resumed run must match it exactly."""

    steps: int
    lr: float
    batch_size: int
    seq_len: int  # byte-level LMs only (task data is cut to the space's sequence length when loaded)
    sandwich_k: int
    distill: bool
    seed: int
    weight_decay: float
    warmup: int
    data: str  # the data's description: resuming on other data would be another run


@dataclass
class TrainResult:
    steps_done: int
    losses: list[float]  # the loss each step run in this call reports (training: the largest subnet's)


class RunConfig(Protocol):
    """What the shared sandwich helpers read of a run's settings: ``TrainConfig``, or adaptation's
    ``AdaptConfig`` (each a dataclass, saved whole with every training state)."""

    steps: int
    lr: float
    warmup: int
    seed: int
    sandwich_k: int


def learning_rate(config: RunConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to ``MIN_LR_FRACTION`` of the peak at the last step."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = (step - config.warmup) / max(config.steps - config.warmup, 1)
    return config.lr * (MIN_LR_FRACTION + (1 - MIN_LR_FRACTION) * 0.5 * (1 + math.cos(math.pi * progress)))


def default_warmup(steps: int) -> int:
    """A tenth of the run, at most 100 steps."""
    return min(100, steps // 10)


def sandwich(supernet: Supernet, config: RunConfig, step: int) -> list[Architecture]:
    """Largest, smallest, then ``sandwich_k`` random subnets: a function of (seed, step) only."""
    rng = random.Random(step_seed(config.seed, step))
    spec = supernet.spec
    return [largest(spec), smallest(spec)] + [sample(spec, rng) for _ in range(config.sandwich_k)]


def training_batch(data: Data, config: TrainConfig, step: int) -> Batch:
    """The batch of step ``step``: random byte windows of the text, or random labeled examples."""
    examples = data.train if isinstance(data, TaskData) else TextWindows(data.train, config.seq_len)
    return batch_at(examples, step, config.batch_size, config.seed)


def check_trainable(spec: SpaceSpec, data: Data) -> None:
    """Text for a byte-level LM; labeled task data for a classification space."""
    if isinstance(data, TextData):
        if spec.task != "causal_lm" or spec.vocab_size != 256:
            raise SpecError(
                "training on text needs a byte-level causal LM space (vocab 256); "
                f"'{spec.name}' is {spec.task}"
            )
    elif spec.task not in ("encoder_classification", "vision", "speech") or data.train.labels is None:
        what = "unlabeled text" if data.train.labels is None else f"{data.kind} data"
        raise SpecError(
            f"cannot train space '{spec.name}' ({spec.task}) on {data.source}: {what}; "
            "training a classifier needs labels "
            "(a .jsonl/.csv file with text and label, a .npz file with images and labels, or digits)"
        )


def train_step(
    supernet: Supernet,
    optimizer: torch.optim.Optimizer,
    data: Data,
    config: TrainConfig,
    step: int,
    archs: list[Architecture],
) -> float:
    """One step over ``archs`` on one batch (a sandwich, or a single subnet when fine-tuning): the first
    learns from the labels, the others from it when distilling; returns the first's label loss."""
    batch = training_batch(data, config, step)
    losses = _label_losses(supernet, batch, archs, config.distill)
    return sandwich_step(supernet, optimizer, learning_rate(config, step), losses)[0]


def _label_losses(
    supernet: Supernet, batch: Batch, archs: list[Architecture], distill: bool
) -> Iterator[torch.Tensor]:
    """Each subnet's loss on ``batch``, lazily: the first's from the labels, the others' from the first's
    detached logits when distilling, else from the labels too."""
    teacher = None
    for i, arch in enumerate(archs):
        with supernet.active(arch):
            logits = supernet(batch.inputs, batch.padding)
        if i == 0:
            teacher = logits.detach()
        yield task_loss(logits, batch) if i == 0 or not distill else distill_loss(logits, teacher)


def sandwich_step(
    supernet: Supernet, optimizer: torch.optim.Optimizer, lr: float, losses: Iterable[torch.Tensor]
) -> list[float]:
    """One update of the sandwich rule: each subnet's loss adds its gradients, then one clipped AdamW step
    at ``lr``; the losses' values, in order. ``losses`` should be lazy (a generator), so each subnet's
    graph is freed by its backward before the next subnet's forward."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    optimizer.zero_grad(set_to_none=True)
    values = []
    for loss in losses:
        loss.backward()
        values.append(float(loss.detach()))
    torch.nn.utils.clip_grad_norm_(supernet.parameters(), GRAD_CLIP)
    optimizer.step()
    return values


def save_training_state(
    supernet: Supernet, optimizer: torch.optim.Optimizer, config: RunConfig, step: int, directory: Path
) -> None:
    """Supernet directory plus ``trainer.pt`` (AdamW state, steps done, config, weights' SHA-256),
    written last and atomically: a crash while saving leaves weights that do not match the state, which
    ``resume`` detects instead of silently mixing two steps."""
    supernet.save(directory)
    state = {
        "step": step,
        "config": asdict(config),
        "optimizer": optimizer.state_dict(),
        "weights_sha256": weights_digest(directory / SUPERNET_WEIGHTS),
    }
    tmp = directory / (TRAINER_STATE + ".tmp")
    torch.save(state, tmp)
    tmp.replace(directory / TRAINER_STATE)


def restore_training_state(
    supernet: Supernet, optimizer: torch.optim.Optimizer, config: RunConfig, directory: Path
) -> int:
    """Load ``save_training_state``'s weights and AdamW state into ``supernet`` and ``optimizer``; the
    steps done. Any run config (training or adaptation) that differs from the saved one is refused."""
    path = directory / TRAINER_STATE
    if not path.is_file():
        raise NotFoundError(f"--resume: {directory} has no {TRAINER_STATE} (no training run to resume)")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state["config"] != asdict(config):
        changed = sorted(k for k in state["config"] if state["config"][k] != asdict(config).get(k))
        raise SpecError(
            f"--resume: {directory} was trained with different settings ({', '.join(changed)}); "
            "use the same ones"
        )
    if weights_digest(directory / SUPERNET_WEIGHTS) != state["weights_sha256"]:
        raise SpecError(
            f"--resume: {directory}/{SUPERNET_WEIGHTS} does not match {TRAINER_STATE} "
            "(interrupted while saving); start again"
        )
    supernet.load_state_dict(load_file(directory / SUPERNET_WEIGHTS))
    optimizer.load_state_dict(state["optimizer"])
    return int(state["step"])


def run_sandwich(
    supernet: Supernet,
    optimizer: torch.optim.Optimizer,
    config: RunConfig,
    start: int,
    run_step: Callable[[int], float],
    provenance: Callable[[int], str],
    *,
    directory: Path | None,
    checkpoint_every: int,
    until: int | None,
    progress: bool,
    verb: str,
    loss_label: str = "loss",
    loss_format: str = ".3f",
) -> TrainResult:
    """Steps ``start`` up to ``until`` (at most ``config.steps``) of a run, ``run_step(s)`` doing step ``s``
    and returning the loss its bar shows; the provenance kept current, and a checkpoint in ``directory``
    every ``checkpoint_every`` steps and where the call stops, so a later resume finishes the same run."""
    supernet.train()
    losses = []
    stop = config.steps if until is None else min(until, config.steps)
    bar = make_progress(
        range(start, stop),
        initial=start,
        total=config.steps,
        enabled=progress,
        desc=f"{verb} {supernet.spec.name}",
        unit="step",
    )
    for step in bar:
        losses.append(run_step(step))
        shown = {loss_label: format(losses[-1], loss_format), "lr": f"{learning_rate(config, step):.2e}"}
        bar.set_postfix(**shown)
        supernet.provenance = provenance(step + 1)
        if directory is not None and ((step + 1) % checkpoint_every == 0 or step + 1 == stop):
            save_training_state(supernet, optimizer, config, step + 1, directory)
    supernet.eval()
    return TrainResult(max(stop, start), losses)


def train_supernet(
    supernet: Supernet,
    data: Data,
    steps: int,
    lr: float = 3e-3,
    batch_size: int = 16,
    seq_len: int = 64,
    sandwich_k: int = 2,
    distill: bool = False,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    seed: int = 0,
    checkpoint_every: int = 200,
    weight_decay: float = 0.01,
    warmup: int | None = None,
    until: int | None = None,
) -> TrainResult:
    """Train ``supernet`` in place for ``steps`` steps in all (a resumed run continues to the same total).

    Checkpoints go to ``checkpoint_dir`` every ``checkpoint_every`` steps and where the call stops.
    ``until`` stops after that many steps of the schedule (time-sliced or preemptible training: a later
    ``resume`` finishes the same run, identical to one that never stopped).
    """
    spec = supernet.spec
    check_trainable(spec, data)
    if isinstance(data, TextData) and seq_len > spec.max_seq_len:
        raise SpecError(f"--seq-len {seq_len} exceeds the space's max_seq_len {spec.max_seq_len}")
    if resume and checkpoint_dir is None:
        raise SpecError("--resume needs a checkpoint directory (-o)")
    config = TrainConfig(
        steps,
        lr,
        batch_size,
        seq_len if isinstance(data, TextData) else 0,
        sandwich_k,
        distill,
        seed,
        weight_decay,
        warmup if warmup is not None else default_warmup(steps),
        data.source,
    )
    optimizer = torch.optim.AdamW(supernet.parameters(), lr=lr, weight_decay=weight_decay)
    directory = Path(checkpoint_dir) if checkpoint_dir is not None else None
    start = restore_training_state(supernet, optimizer, config, directory) if resume else 0

    def provenance(done: int) -> str:
        return (
            f"trained {done}/{steps} steps on {data.source} "
            f"(sandwich k={sandwich_k}, distill={distill}, seed {seed})"
        )

    if start:
        supernet.provenance = provenance(start)
    supernet.trained_on = data.source
    supernet.keep_heldout(data)  # saved with it: val_loss (and val_accuracy) score these held-out examples

    def run_step(step: int) -> float:
        return train_step(supernet, optimizer, data, config, step, sandwich(supernet, config, step))

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
        verb="train",
    )


def finetune(
    supernet: Supernet,
    arch: Architecture,
    data: Data,
    steps: int,
    lr: float = 1e-3,
    batch_size: int = 16,
    seq_len: int = 64,
    seed: int = 0,
    weight_decay: float = 0.01,
) -> Supernet:
    """Standalone fine-tuning of one subnet: a copy of ``supernet`` with only ``arch`` active, trained alone
    on its labels for ``steps`` steps (fresh AdamW, the same warm-up/cosine schedule and batches of
    ``(seed, step)`` for every subnet). ``supernet`` itself is left untouched.

    Why a supernet copy rather than the extracted model: an extracted subnet stores quantized weights as
    integer buffers (an inference artifact, not trainable), while the copy with ``arch`` active computes
    the same outputs and trains them through the same straight-through fake-quant as supernet training.
    Only ``arch``'s slices of the shared tensors receive gradients; the rest of the copy is never read, so
    it is exactly the subnet trained on its own, and its ``val_loss`` is measured as the one-shot one is.
    """
    check_trainable(supernet.spec, data)
    model = copy.deepcopy(supernet)
    model.activate(arch)
    config = TrainConfig(
        steps,
        lr,
        batch_size,
        min(seq_len, supernet.spec.max_seq_len),
        0,
        False,
        seed,
        weight_decay,
        default_warmup(steps),
        data.source,
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    model.train()
    for step in range(steps):
        train_step(model, optimizer, data, config, step, [arch])
    model.eval()
    return model
