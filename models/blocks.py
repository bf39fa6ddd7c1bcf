"""Trained blocks (Puzzle's BLD library): sub-blocks with their own weights, kept with a supernet.

A supernet's layer is two sub-blocks: attention (its norm and q/k/v/o) and FFN (its norm, experts and
router). Without trained blocks every choice of a sub-block is a slice of the supernet's weights. A
trained block is one (layer, part, structural choice) with weights of exactly that slice's shapes,
trained to imitate the parent's block (``supernas distill-blocks``). A supernet that holds some computes
every architecture with them: ``Supernet.activate`` writes each active sub-block's trained weights into
the slices it uses and restores the supernet's own values when another architecture is activated, so
forward, extraction, export and the training-free proxies all see one assembled subnet.

Quantization is not part of a block's key: a block trained at full precision is quantized like a slice.
Saved beside the supernet as ``blocks.safetensors`` (tensors named ``KEY/relative.parameter``) and
``blocks.json`` (per key: how it was trained and its imitation loss before and after).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

from supernas.core.weightfiles import save_weights, weights_digest
from supernas.spaces.architecture import LayerArch

BLOCKS_WEIGHTS = "blocks.safetensors"
BLOCKS_INDEX = "blocks.json"
PARTS = {"attention": ("ln1", "attn"), "ffn": ("ln2", "ffn")}  # the modules of a Block each part owns


def block_key(layer: int, part: str, choice: LayerArch) -> str:
    """A name for (layer, part, structural choice), e.g. ``L3/attention/mha-h8`` or ``L0/ffn/ffn768``."""
    if part == "attention":
        extra = f"-kv{choice.kv_heads}" if choice.kv_heads != choice.heads else ""
        extra += f"-w{choice.window}" if choice.window else ""
        return f"L{layer}/attention/{choice.attention.value}-h{choice.heads}{extra}"
    experts = f"-e{choice.experts}k{choice.top_k}" if choice.experts > 1 else ""
    return f"L{layer}/ffn/ffn{choice.ffn_dim}{experts}"


def present(part: str, choice: LayerArch) -> bool:
    return choice.has_attention if part == "attention" else choice.has_ffn


def part_modules(block: nn.Module, part: str) -> list[tuple[str, nn.Module]]:
    """(name, module) of the modules of ``block`` that ``part`` owns."""
    return [(name, getattr(block, name)) for name in PARTS[part]]


@dataclass
class TrainedBlocks:
    """Trained weights by block key (each a dict of relative parameter name -> tensor) and what is known
    about how each was trained."""

    tensors: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)
    records: dict[str, dict] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.tensors)

    def add(self, key: str, tensors: dict[str, torch.Tensor], record: dict) -> None:
        self.tensors[key] = {name: t.detach().clone().contiguous() for name, t in tensors.items()}
        self.records[key] = record

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        flat = {f"{key}/{name}": t for key, ts in sorted(self.tensors.items()) for name, t in ts.items()}
        save_weights(flat, directory / BLOCKS_WEIGHTS)
        index = {"weights_sha256": weights_digest(directory / BLOCKS_WEIGHTS), "blocks": self.records}
        (directory / BLOCKS_INDEX).write_text(json.dumps(index, indent=2, sort_keys=True))

    @classmethod
    def load(cls, directory: str | Path) -> TrainedBlocks | None:
        """The blocks kept in a supernet directory, or None where it keeps none."""
        directory = Path(directory)
        if not (directory / BLOCKS_INDEX).is_file():
            return None
        index = json.loads((directory / BLOCKS_INDEX).read_text())
        blocks = cls(records=index["blocks"])
        for name, tensor in load_file(directory / BLOCKS_WEIGHTS).items():
            key, parameter = name.rsplit("/", 1)  # parameter names hold dots, never slashes
            blocks.tensors.setdefault(key, {})[parameter] = tensor
        return blocks


def blocks_digest(directory: str | Path) -> str | None:
    """A fingerprint of the trained blocks kept in ``directory`` (None where there are none)."""
    index = Path(directory) / BLOCKS_INDEX
    return json.loads(index.read_text())["weights_sha256"] if index.is_file() else None
