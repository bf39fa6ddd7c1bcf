"""One-shot metrics: held-out quality of a subnet with the weights it inherits from a trained supernet.

Computed through the weight-sharing supernet with the architecture active (no extraction), in eval mode
without gradients; the held-out batches are fixed, so the same weights give the same value. A byte-level
causal LM is scored on the held-out part of the text its supernet was trained on (saved with it by
``supernas train``, so a supernet trained on ``--data corpus.txt`` is scored on that corpus's tail), and
on the Python stdlib's held-out files when it has none (``data.text``; bytes, so nats/byte).
A classifier is scored on labeled task data (``data.task``): a job's ``data`` (its held-out split,
``MetricContext.data``), else the held-out split kept with its supernet (``train --data digits``,
``from-pretrained --data FILE``); without either there is nothing to score, and a synthetic labeled set
would only measure noise.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from supernas.core.errors import SpecError
from supernas.data.inputs import Batch
from supernas.data.text import heldout_windows, stdlib_text
from supernas.models.supernet import Supernet
from supernas.predictors.base import CostClass, Metric, MetricContext, register
from supernas.spaces.architecture import Architecture
from supernas.training.losses import counted_targets, task_loss

Score = Callable[[torch.Tensor, Batch], torch.Tensor]  # (logits, batch) -> mean over the batch's targets


def _accuracy(logits: torch.Tensor, batch: Batch) -> torch.Tensor:
    return (logits.argmax(dim=-1) == batch.targets).float().mean()


@torch.no_grad()
def heldout_score(supernet: Supernet, arch: Architecture, batches: list[Batch], score: Score) -> float:
    """Mean of ``score`` over every target of ``batches`` (batches weighted by their target counts)."""
    was_training = supernet.training
    supernet.eval()
    total, count = 0.0, 0
    # a file run by ONNX Runtime holds no torch parameters, and takes its inputs on the CPU
    device = next((p.device for p in supernet.parameters()), torch.device("cpu"))
    try:
        with supernet.active(arch):
            for batch in batches:
                batch = batch.to(device)
                n = counted_targets(batch)
                total += float(score(supernet(batch.inputs, batch.padding), batch)) * n
                count += n
    finally:
        supernet.train(was_training)
    return total / count


def heldout_loss(supernet: Supernet, arch: Architecture, batches: list[Batch]) -> float:
    """Mean cross-entropy per target (per byte for the byte-level LMs)."""
    return heldout_score(supernet, arch, batches, task_loss)


def heldout_accuracy(supernet: Supernet, arch: Architecture, batches: list[Batch]) -> float:
    """Fraction of held-out examples whose most likely class is the label."""
    return heldout_score(supernet, arch, batches, _accuracy)


class _OneShot(Metric):
    cost = CostClass.one_shot
    options = {
        "seq_len": 64,
        "batch_size": 8,
        "batches": 16,
    }  # the default causal-LM held-out set (seq_len capped at the space's)
    score: Score

    def heldout(self, context: MetricContext) -> list[Batch]:
        """The context's held-out batches; for a byte-level LM without them, the context's held-out text (a
        job's data), else the supernet's (the stdlib's when it was not trained on text); for a classifier,
        the labeled held-out split kept with the supernet."""
        if context.heldout is None:
            context.heldout = self._default_heldout(context)
        if any(b.targets is None for b in context.heldout):
            where = context.data or context.supernet.heldout.source or "the held-out data"
            raise SpecError(
                f"metric '{self.name}' needs labeled held-out data; {where} has no labels "
                "(a .jsonl/.csv file with text and label)"
            )
        return context.heldout

    def _default_heldout(self, context: MetricContext) -> list[Batch]:
        spec = context.spec
        if spec.task == "causal_lm" and spec.vocab_size == 256:
            o = self.settings
            seq_len = min(o["seq_len"], spec.max_seq_len)
            text = context.heldout_text if context.heldout_text is not None else context.supernet.heldout.text
            return heldout_windows(
                stdlib_text().heldout if text is None else text, seq_len, o["batch_size"], o["batches"]
            )
        stored = context.supernet.heldout.batches
        if stored is not None:
            return stored
        raise SpecError(
            f"metric '{self.name}' needs labeled held-out data for space '{spec.name}' (task {spec.task}): "
            "give the job 'data' (digits, or a .jsonl/.csv/.npz file), or a supernet trained with --data"
        )

    def evaluate(self, arch: Architecture, context: MetricContext) -> float:
        self.check_applicable(context.spec)
        return heldout_score(context.supernet, arch, self.heldout(context), type(self).score)


@register
class ValLoss(_OneShot):
    """Held-out cross-entropy with inherited weights: the quality objective of one-shot NAS."""

    name = "val_loss"
    direction = "minimize"
    unit = "nats/target"
    description = (
        "held-out cross-entropy through the trained supernet "
        "(byte-level LMs: its training text's held-out part)"
    )
    score = staticmethod(task_loss)


@register
class ValAccuracy(_OneShot):
    """Held-out classification accuracy with inherited weights."""

    name = "val_accuracy"
    direction = "maximize"
    unit = "fraction"
    tasks = ("encoder_classification", "vision", "speech")
    description = (
        "held-out accuracy through the trained supernet "
        "(the job's data, else the data kept with the supernet)"
    )
    score = staticmethod(_accuracy)
