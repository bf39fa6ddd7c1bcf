"""Loading dense pretrained weights into a supernet's largest configuration.

Accepts a ``.safetensors`` file or a torch ``state_dict`` file, named either as supernas names them or
as Hugging Face GPT-2 / BERT checkpoints do (the tables below, read top to bottom; export writes
Hugging Face checkpoints by the same tables). A tensor is loaded when its shape equals the supernet
parameter's full shape; everything else is reported, not guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file

from supernas.core.errors import NotFoundError, SpecError


@dataclass(frozen=True)
class NamePair:
    """One module under both namings, so loading and exporting read the same table. ``{layer}`` stands
    for a block index; several ``ours`` are one Hugging Face module, concatenated along the outputs
    (GPT-2's fused q, k, v). ``transposed``: theirs stores the weight (in, out), as GPT-2's Conv1D does."""

    ours: tuple[str, ...]
    theirs: str
    transposed: bool = False

    @property
    def per_layer(self) -> bool:
        return "{layer}" in self.theirs

    @property
    def pattern(self) -> re.Pattern[str]:
        """Their tensor names: the module, then ``.weight`` or ``.bias``."""
        module = r"(?P<layer>\d+)".join(re.escape(part) for part in self.theirs.split("{layer}"))
        return re.compile(module + r"\.(?P<kind>weight|bias)")

    def ours_names(self, layer: int | str | None, kind: str) -> list[str]:
        """Our tensor names for ``kind`` (weight or bias) of block ``layer`` (None: a model-wide module)."""
        return [f"{module.format(layer=layer)}.{kind}" for module in self.ours]

    def theirs_name(self, layer: int | None, kind: str) -> str:
        return f"{self.theirs.format(layer=layer)}.{kind}"

    def split(self, theirs: torch.Tensor) -> list[torch.Tensor]:
        """Their tensor in our (out, in) layout, one part per module of ``ours``."""
        tensor = theirs.t() if self.transposed and theirs.dim() == 2 else theirs
        return list(tensor.chunk(len(self.ours)))

    def join(self, ours: list[torch.Tensor]) -> torch.Tensor:
        """Our tensors as their one tensor: the inverse of ``split``."""
        tensor = torch.cat(ours)
        return tensor.t() if self.transposed and tensor.dim() == 2 else tensor


def _block(*names: str) -> tuple[str, ...]:
    return tuple(f"blocks.{{layer}}.{name}" for name in names)


GPT2_NAMES: tuple[NamePair, ...] = (
    NamePair(("wte",), "wte"),
    NamePair(("wpe",), "wpe"),
    NamePair(_block("ln1"), "h.{layer}.ln_1"),
    NamePair(_block("attn.q", "attn.k", "attn.v"), "h.{layer}.attn.c_attn", transposed=True),
    NamePair(_block("attn.o"), "h.{layer}.attn.c_proj", transposed=True),
    NamePair(_block("ln2"), "h.{layer}.ln_2"),
    NamePair(_block("ffn.experts.0.fc1"), "h.{layer}.mlp.c_fc", transposed=True),
    NamePair(_block("ffn.experts.0.fc2"), "h.{layer}.mlp.c_proj", transposed=True),
    NamePair(("final_norm",), "ln_f"),
)
BERT_NAMES: tuple[NamePair, ...] = (
    NamePair(("wte",), "embeddings.word_embeddings"),
    NamePair(("wpe",), "embeddings.position_embeddings"),
    NamePair(("wtt",), "embeddings.token_type_embeddings"),
    NamePair(("emb_norm",), "embeddings.LayerNorm"),
    NamePair(_block("attn.q"), "encoder.layer.{layer}.attention.self.query"),
    NamePair(_block("attn.k"), "encoder.layer.{layer}.attention.self.key"),
    NamePair(_block("attn.v"), "encoder.layer.{layer}.attention.self.value"),
    NamePair(_block("attn.o"), "encoder.layer.{layer}.attention.output.dense"),
    NamePair(_block("ln1"), "encoder.layer.{layer}.attention.output.LayerNorm"),
    NamePair(_block("ffn.experts.0.fc1"), "encoder.layer.{layer}.intermediate.dense"),
    NamePair(_block("ffn.experts.0.fc2"), "encoder.layer.{layer}.output.dense"),
    NamePair(_block("ln2"), "encoder.layer.{layer}.output.LayerNorm"),
)
FOREIGN_PREFIXES = ("transformer.", "bert.", "model.", "0.auto_model.")


@dataclass
class LoadReport:
    loaded: list[str] = field(default_factory=list)
    shape_mismatch: list[str] = field(default_factory=list)  # "name: file (a, b) vs supernet (c, d)"
    unexpected: list[str] = field(default_factory=list)  # names in the file with no supernet parameter
    missing: list[str] = field(default_factory=list)  # supernet parameters the file did not provide

    def summary(self) -> str:
        return (
            f"loaded {len(self.loaded)} tensors; {len(self.missing)} supernet tensors kept their values, "
            f"{len(self.shape_mismatch)} shape mismatches, {len(self.unexpected)} unused file tensors"
        )


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise NotFoundError(f"{path}: no such weight file")
    if path.suffix == ".safetensors":
        return load_file(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several unrelated types for a file that is not a checkpoint
        raise SpecError(f"{path}: not a safetensors or torch state_dict file ({type(e).__name__})") from None
    if not isinstance(state, dict):
        raise SpecError(f"{path}: expected a state_dict (a mapping of names to tensors)")
    return state


def _rename(name: str, tensor: torch.Tensor) -> dict[str, torch.Tensor]:
    """Supernet name(s) for one tensor of a file; a name not in the tables is kept as it is."""
    for prefix in FOREIGN_PREFIXES:
        name = name.removeprefix(prefix)
    for pair in GPT2_NAMES + BERT_NAMES:
        if found := pair.pattern.fullmatch(name):
            ours = pair.ours_names(found.groupdict().get("layer"), found["kind"])
            return dict(zip(ours, pair.split(tensor), strict=True))
    return {name: tensor}


def load_into(model: torch.nn.Module, path: str | Path) -> LoadReport:
    """Copy every tensor whose renamed shape matches the model's parameter; report the rest."""
    path = Path(path)
    ours = model.state_dict()
    report = LoadReport()
    with torch.no_grad():
        for raw, tensor in read_state_dict(path).items():
            for name, value in _rename(raw, tensor).items():
                if name not in ours:
                    report.unexpected.append(raw)
                elif ours[name].shape != value.shape:
                    report.shape_mismatch.append(
                        f"{name}: file {tuple(value.shape)} vs supernet {tuple(ours[name].shape)}"
                    )
                else:
                    ours[name].copy_(value)
                    report.loaded.append(name)
    report.missing = sorted(set(ours) - set(report.loaded))
    return report
