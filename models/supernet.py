"""The weight-sharing supernet: the transformer at its largest, with elastic leaves.

``activate(arch)`` switches the supernet, in place, to compute exactly the subnet ``arch``; ``active(arch)``
does so for a ``with`` block. Saved as a directory: ``supernet.json`` (spec, provenance, the text it was
trained on) and ``supernet.safetensors``, plus ``heldout.bin`` once trained on text: the held-out bytes of
that text, so one-shot metrics score a supernet on the text it learned, wherever it is loaded. A supernet
given task data (``train --data digits``, ``from-pretrained --data FILE``) keeps that data's held-out
split instead, as ``heldout.safetensors`` (its tensors) with the data's description in ``supernet.json``.
A supernet given trained blocks (``supernas distill-blocks``) keeps them as ``blocks.safetensors`` and
``blocks.json`` and computes every subnet with them (:mod:`supernas.models.blocks`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

from supernas.core.errors import NotFoundError, SpecError
from supernas.core.weightfiles import save_weights
from supernas.data.text import TextData, byte_tokens
from supernas.data.types import HeldoutData, TaskData, TaskSplit
from supernas.models.blocks import (
    BLOCKS_INDEX,
    BLOCKS_WEIGHTS,
    TrainedBlocks,
    block_key,
    part_modules,
    present,
)
from supernas.models.elastic import ElasticEmbedding, ElasticLayerNorm, ElasticLeaves, Index, own_slices
from supernas.models.model import Block, FeedForward, Transformer
from supernas.models.pretrained import LoadReport, load_into
from supernas.spaces.architecture import Architecture, check, largest
from supernas.spaces.spec import SpaceSpec, parse_spec, read_structured_file

SUPERNET_CONFIG = "supernet.json"
SUPERNET_WEIGHTS = "supernet.safetensors"
SUPERNET_HELDOUT = "heldout.bin"
SUPERNET_HELDOUT_TASK = "heldout.safetensors"


class Supernet(Transformer):
    def __init__(self, spec: SpaceSpec, seed: int = 0) -> None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            super().__init__(spec, largest(spec), ElasticLeaves())
        self.arch = largest(spec)
        self.provenance = f"random initialisation, seed {seed}"
        self.trained_on: str | None = None  # description of the training text (``TextData.source``)
        self.directory: Path | None = None  # the directory it was loaded from, if any
        self.heldout = HeldoutData()  # the held-out examples kept with the weights (``keep_heldout``)
        self.trained_blocks: TrainedBlocks | None = None  # see :mod:`supernas.models.blocks`
        self._overwritten: list[tuple[torch.Tensor, Index, torch.Tensor]] = []  # own values under blocks

    def keep_heldout(self, data: TextData | TaskData) -> None:
        """Keep ``data``'s held-out part with the weights (saved with them): one-shot metrics score it."""
        if isinstance(data, TaskData):
            self.heldout = HeldoutData(task=data.heldout, source=data.source)
        else:
            self.heldout = HeldoutData(text=data.heldout)

    def activate(self, arch: Architecture) -> None:
        check(self.spec, arch)
        self._restore_own()
        for module in self.modules():
            if isinstance(module, (ElasticLayerNorm, ElasticEmbedding)):
                module.width = arch.embed_dim
        self.configure(arch)
        self.arch = arch
        if self.trained_blocks:
            self._assemble(arch)

    def use_blocks(self, blocks: TrainedBlocks | None) -> None:
        """Compute every architecture with these trained blocks (None: with slices only)."""
        self.trained_blocks = blocks
        self.activate(self.arch)

    def bake(self) -> None:
        """Make the weights of the active architecture, trained blocks included, the supernet's own and
        drop the blocks: for training that one subnet further (``supernas distill``)."""
        self._overwritten = []
        self.trained_blocks = None

    @torch.no_grad()
    def _assemble(self, arch: Architecture) -> None:
        """Write each active sub-block's trained weights into the slices it computes with."""
        for i, (block, choice) in enumerate(zip(self.blocks, arch.layers)):
            for part in ("attention", "ffn"):
                trained = self.trained_blocks.tensors.get(block_key(i, part, choice))
                if trained is None or not present(part, choice):
                    continue
                for name, module in part_modules(block, part):
                    parameters = dict(module.named_parameters())
                    for qualified, index in active_slices(module, f"{name}."):
                        parameter = parameters[qualified.removeprefix(f"{name}.")]
                        self._overwritten.append((parameter, index, parameter[index].clone()))
                        parameter[index] = trained[qualified]

    @torch.no_grad()
    def _restore_own(self) -> None:
        for parameter, index, own in reversed(self._overwritten):
            parameter[index] = own
        self._overwritten = []

    @contextmanager
    def active(self, arch: Architecture) -> Iterator[Supernet]:
        previous = self.arch
        self.activate(arch)
        try:
            yield self
        finally:
            self.activate(previous)

    def load_weights(self, path: str | Path) -> LoadReport:
        """Load a dense pretrained checkpoint (supernas, GPT-2 or BERT names) into the largest subnet."""
        report = load_into(self, path)
        if not report.loaded:
            raise SpecError(
                f"{path}: no tensor matched a parameter of space '{self.spec.name}' by name and shape"
            )
        self.provenance = f"pretrained weights from {Path(path).name}"
        return report

    # ------------------------------------------------------------------ persistence

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        config = {
            "format": "supernas-supernet",
            "supernas_version": version("supernas"),
            "provenance": self.provenance,
            "space": self.spec.model_dump(mode="json"),
            "trained_on": self.trained_on,
            "heldout_data": self.heldout.source if self.heldout.task is not None else None,
        }
        arch = self.arch
        self._restore_own()  # the supernet's own weights, never a subnet's assembled blocks
        save_weights({k: v.contiguous() for k, v in self.state_dict().items()}, directory / SUPERNET_WEIGHTS)
        self.activate(arch)
        if self.trained_blocks:
            self.trained_blocks.save(directory)
        else:
            for name in (BLOCKS_WEIGHTS, BLOCKS_INDEX):
                (directory / name).unlink(missing_ok=True)
        if self.heldout.text is not None:
            (directory / SUPERNET_HELDOUT).write_bytes(self.heldout.text.numpy().tobytes())
        else:  # never leave another supernet's text behind in a reused directory
            (directory / SUPERNET_HELDOUT).unlink(missing_ok=True)
        if self.heldout.task is not None:
            save_weights(self.heldout.task.tensors(), directory / SUPERNET_HELDOUT_TASK)
        else:
            (directory / SUPERNET_HELDOUT_TASK).unlink(missing_ok=True)
        (directory / SUPERNET_CONFIG).write_text(json.dumps(config, indent=2))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> Supernet:
        directory = Path(directory)
        config, spec = read_supernet_config(directory)
        supernet = cls(spec)
        supernet.load_state_dict(load_file(directory / SUPERNET_WEIGHTS))
        supernet.provenance = f"{config.get('provenance', 'unknown')} (loaded from {directory.name})"
        supernet.trained_on = config.get("trained_on")
        supernet.directory = directory  # where files kept beside the weights (a parent model) are found
        supernet.use_blocks(TrainedBlocks.load(directory))
        text, task = directory / SUPERNET_HELDOUT, directory / SUPERNET_HELDOUT_TASK
        if text.is_file():
            supernet.heldout = HeldoutData(text=byte_tokens(text.read_bytes()))
        if task.is_file():  # absent in supernets saved before task data
            supernet.heldout = HeldoutData(
                task=TaskSplit.from_tensors(load_file(task)), source=config.get("heldout_data")
            )
        return supernet


# the modules a no-op block skips, by the flag that switches them on
SKIPPED_WITH = {"ln1": "use_attn", "attn": "use_attn", "ln2": "use_ffn", "ffn": "use_ffn"}


def _active_children(module: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    """Children the active architecture computes with: the supernet also holds deeper blocks, more
    experts, a router and the modules of no-op blocks that a subnet may not use (a dense model holds only
    what it uses)."""
    for name, child in module.named_children():
        if isinstance(module, Block) and name in SKIPPED_WITH and not getattr(module, SKIPPED_WITH[name]):
            continue
        if isinstance(module, Transformer) and name == "blocks":
            yield from ((f"blocks.{i}", block) for i, block in enumerate(list(child)[: module.depth]))
        elif isinstance(module, FeedForward) and name == "experts":
            yield from ((f"experts.{i}", expert) for i, expert in enumerate(list(child)[: module.n_experts]))
        elif not (isinstance(module, FeedForward) and name == "router" and module.n_experts == 1):
            yield name, child


def active_slices(module: nn.Module, prefix: str = "") -> list[tuple[str, Index]]:
    """(qualified parameter name, index of its active part) of every parameter slice the current
    architecture computes with, each parameter once. Extraction copies exactly these and the
    training-free proxies score exactly these, so a proxy scores what the extracted subnet holds."""
    own = [(prefix + name, index) for name, index in own_slices(module).items()]
    children = _active_children(module)
    return own + [item for name, child in children for item in active_slices(child, f"{prefix}{name}.")]


def read_supernet_config(directory: str | Path) -> tuple[dict, SpaceSpec]:
    """A saved supernet's config and space, without its weights (cheap enough to validate a job spec)."""
    directory = Path(directory)
    config_path = directory / SUPERNET_CONFIG
    if not config_path.is_file():
        raise NotFoundError(f"{directory}: not a supernet directory (no {SUPERNET_CONFIG})")
    config = read_structured_file(config_path)
    if not isinstance(config, dict):
        raise SpecError(f"{config_path}: a supernet config must be a JSON object")
    return config, parse_spec(config.get("space"), f"{config_path}: space")
