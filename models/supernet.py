"""The weight-sharing supernet: the transformer at its largest, with elastic leaves.

``activate(arch)`` switches the supernet, in place, to compute exactly the subnet ``arch``; ``active(arch)``
does so for a ``with`` block. Saved as a directory: ``supernet.json`` (spec, provenance, the text it was
trained on) and ``supernet.safetensors``, plus ``heldout.bin`` once trained on text: the held-out bytes of
that text, so one-shot metrics score a supernet on the text it learned, wherever it is loaded. A supernet
given task data (``train --data digits``, ``from-pretrained --data FILE``) keeps that data's held-out
split instead, as ``heldout.safetensors`` (its tensors) with the data's description in ``supernet.json``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

import torch
from safetensors.torch import load_file

from supernas.spaces.architecture import Architecture, check, largest
from supernas.data.text import TextData, byte_tokens
from supernas.models.elastic import ElasticEmbedding, ElasticLayerNorm, ElasticLeaves
from supernas.core.errors import NotFoundError, SpecError
from supernas.data.inputs import Batch
from supernas.models.model import Transformer
from supernas.models.pretrained import LoadReport, load_into
from supernas.spaces.spec import SpaceSpec, parse_spec, read_structured_file
from supernas.data.types import TaskData, TaskSplit, heldout_batches
from supernas.core.weightfiles import save_weights

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
        self.heldout_text: torch.Tensor | None = None  # its held-out bytes (uint8), kept with the weights
        self.heldout_task: TaskSplit | None = None  # or its task data's held-out split (``TaskData.heldout``)
        self.heldout_source: str | None = None  # that task data's description (``TaskData.source``)

    @property
    def heldout_task(self) -> TaskSplit | None:
        return self.__dict__.get("_heldout_task")

    @heldout_task.setter
    def heldout_task(self, split: TaskSplit | None) -> None:
        self.__dict__["_heldout_task"], self.__dict__["_heldout_batches"] = split, None

    @property
    def heldout_batches(self) -> list[Batch] | None:
        """The kept held-out split in its fixed batches (``taskdata.heldout_batches``), made once; None without one.
        Unlabeled text has no targets."""
        if self.heldout_task is not None and self.__dict__.get("_heldout_batches") is None:
            self.__dict__["_heldout_batches"] = heldout_batches(self.heldout_task)
        return self.__dict__.get("_heldout_batches")

    def keep_heldout(self, data: TextData | TaskData) -> None:
        """Keep ``data``'s held-out part with the weights (saved with them): one-shot metrics score it."""
        if isinstance(data, TaskData):
            self.heldout_text, self.heldout_task, self.heldout_source = None, data.heldout, data.source
        else:
            self.heldout_text, self.heldout_task, self.heldout_source = data.heldout, None, None

    def activate(self, arch: Architecture) -> None:
        check(self.spec, arch)
        for module in self.modules():
            if isinstance(module, (ElasticLayerNorm, ElasticEmbedding)):
                module.width = arch.embed_dim
        self.configure(arch)
        self.arch = arch

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
            raise SpecError(f"{path}: no tensor matched a parameter of space '{self.spec.name}' by name and shape")
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
            "heldout_data": self.heldout_source if self.heldout_task is not None else None,
        }
        save_weights({k: v.contiguous() for k, v in self.state_dict().items()}, directory / SUPERNET_WEIGHTS)
        if self.heldout_text is not None:
            (directory / SUPERNET_HELDOUT).write_bytes(self.heldout_text.numpy().tobytes())
        else:  # never leave another supernet's text behind in a reused directory
            (directory / SUPERNET_HELDOUT).unlink(missing_ok=True)
        if self.heldout_task is not None:
            save_weights(self.heldout_task.tensors(), directory / SUPERNET_HELDOUT_TASK)
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
        heldout = directory / SUPERNET_HELDOUT
        if heldout.is_file():
            supernet.heldout_text = byte_tokens(heldout.read_bytes())
        if (directory / SUPERNET_HELDOUT_TASK).is_file():  # absent in supernets saved before task data
            supernet.heldout_task = TaskSplit.from_tensors(load_file(directory / SUPERNET_HELDOUT_TASK))
            supernet.heldout_source = config.get("heldout_data")
        return supernet


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
