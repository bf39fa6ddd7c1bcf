"""Loading dense pretrained weights into a supernet's largest configuration.

Accepts a ``.safetensors`` file or a torch ``state_dict`` file, named either as supernas names them or
as Hugging Face GPT-2 / BERT checkpoints do (the tables below, read top to bottom). A tensor is loaded
when its shape equals the supernet parameter's full shape; everything else is reported, not guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file

from supernas.core.errors import NotFoundError, SpecError

# (foreign name pattern, supernas name template, stored transposed). GPT-2 uses Conv1D layers, whose
# weights are stored (in, out); its fused c_attn is split into q, k, v.
GPT2_NAMES: list[tuple[str, str, bool]] = [
    (r"wte\.weight", "wte.weight", False),
    (r"wpe\.weight", "wpe.weight", False),
    (r"h\.(\d+)\.ln_1\.(weight|bias)", r"blocks.\1.ln1.\2", False),
    (r"h\.(\d+)\.ln_2\.(weight|bias)", r"blocks.\1.ln2.\2", False),
    (r"h\.(\d+)\.attn\.c_proj\.(weight|bias)", r"blocks.\1.attn.o.\2", True),
    (r"h\.(\d+)\.mlp\.c_fc\.(weight|bias)", r"blocks.\1.ffn.experts.0.fc1.\2", True),
    (r"h\.(\d+)\.mlp\.c_proj\.(weight|bias)", r"blocks.\1.ffn.experts.0.fc2.\2", True),
    (r"ln_f\.(weight|bias)", r"final_norm.\1", False),
]
GPT2_FUSED_QKV = re.compile(r"h\.(\d+)\.attn\.c_attn\.(weight|bias)")

BERT_NAMES: list[tuple[str, str, bool]] = [
    (r"embeddings\.word_embeddings\.weight", "wte.weight", False),
    (r"embeddings\.position_embeddings\.weight", "wpe.weight", False),
    (r"embeddings\.token_type_embeddings\.weight", "wtt.weight", False),
    (r"embeddings\.LayerNorm\.(weight|bias)", r"emb_norm.\1", False),
    (r"encoder\.layer\.(\d+)\.attention\.self\.query\.(weight|bias)", r"blocks.\1.attn.q.\2", False),
    (r"encoder\.layer\.(\d+)\.attention\.self\.key\.(weight|bias)", r"blocks.\1.attn.k.\2", False),
    (r"encoder\.layer\.(\d+)\.attention\.self\.value\.(weight|bias)", r"blocks.\1.attn.v.\2", False),
    (r"encoder\.layer\.(\d+)\.attention\.output\.dense\.(weight|bias)", r"blocks.\1.attn.o.\2", False),
    (r"encoder\.layer\.(\d+)\.attention\.output\.LayerNorm\.(weight|bias)", r"blocks.\1.ln1.\2", False),
    (r"encoder\.layer\.(\d+)\.intermediate\.dense\.(weight|bias)", r"blocks.\1.ffn.experts.0.fc1.\2", False),
    (r"encoder\.layer\.(\d+)\.output\.dense\.(weight|bias)", r"blocks.\1.ffn.experts.0.fc2.\2", False),
    (r"encoder\.layer\.(\d+)\.output\.LayerNorm\.(weight|bias)", r"blocks.\1.ln2.\2", False),
]
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
    if fused := GPT2_FUSED_QKV.fullmatch(name):
        layer, kind = fused.groups()
        parts = tensor.chunk(3, dim=-1)  # Conv1D: weight (in, 3*out), bias (3*out,)
        return {f"blocks.{layer}.attn.{proj}.{kind}": part.t() if kind == "weight" else part for proj, part in zip("qkv", parts)}
    for pattern, template, transposed in GPT2_NAMES + BERT_NAMES:
        if re.fullmatch(pattern, name):
            target = re.sub(pattern, template, name)
            return {target: tensor.t() if transposed and tensor.dim() == 2 else tensor}
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
                    report.shape_mismatch.append(f"{name}: file {tuple(value.shape)} vs supernet {tuple(ours[name].shape)}")
                else:
                    ours[name].copy_(value)
                    report.loaded.append(name)
    report.missing = sorted(set(ours) - set(report.loaded))
    return report
