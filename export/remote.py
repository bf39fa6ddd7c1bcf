"""Export any subnet as a transformers model with its own modeling code (``trust_remote_code``).

For subnets no standard GPT-2/BERT/ViT config expresses (per-layer widths, GQA, windows, linear attention,
no-op blocks, MoE, integer weights, activation rounding), as NVIDIA ships its NAS results (DeciLM,
Nemotron-NAS): ``config.json`` holds the per-layer architecture and an ``auto_map`` to
``configuration_supernas.py`` and ``modeling_supernas.py``, which import only torch and transformers and
are copied here from ``remote_code/``. ``model.safetensors`` holds the subnet checkpoint's own tensors
(supernas names under ``model.``, the head beside it), integer weights included: the modeling code
dequantizes them as supernas does, so the loaded model computes what the search scored.
"""

from __future__ import annotations

import json
import shutil
from importlib.metadata import version
from pathlib import Path

from supernas.core.weightfiles import save_weights
from supernas.export.huggingface import hf_unsupported_reason, save_hf
from supernas.models.checkpoint import quantization_summary
from supernas.models.model import Transformer

REMOTE_CODE = Path(__file__).parent / "remote_code"
CODE_FILES = ("configuration_supernas.py", "modeling_supernas.py")
HEADS = ("lm_head.", "classifier.")
# task -> (class of the model with its head, the Auto class that loads it)
TASK_CLASSES = {
    "causal_lm": ("SupernasForCausalLM", "AutoModelForCausalLM"),
    "encoder_classification": ("SupernasForSequenceClassification", "AutoModelForSequenceClassification"),
    "speech": ("SupernasForSequenceClassification", "AutoModelForAudioClassification"),
    "vision": ("SupernasForImageClassification", "AutoModelForImageClassification"),
}


def cache_reproduces(model: Transformer) -> bool:
    """Whether generating with a KV cache computes what the full sequence computes: only when no layer
    rounds activations. A per-tensor scale makes every token's output depend on every token, and any
    rounding is discontinuous, so a cached step's other summation order (1e-7) can move a rounded value a
    whole step; such models are written with ``use_cache`` false and generate() recomputes the sequence."""
    return all(layer.act_bits == 32 for layer in model.arch.layers)


def remote_config(model: Transformer) -> dict:
    """config.json: the global settings and one entry per layer (see configuration_supernas.py)."""
    spec, arch = model.spec, model.arch
    head, auto = TASK_CLASSES[spec.task]
    blocks = {row["layer"]: row["weight_group_size"] for row in quantization_summary(spec, arch)}
    layers = []
    for i, layer in enumerate(arch.layers):
        fields = layer.model_dump(mode="json", include={"attention", "heads", "kv_heads", "window"})
        layers.append(
            fields
            | {
                "ffn_dim": layer.ffn_dim,
                "experts": layer.experts,
                "top_k": layer.top_k,
                "weight_bits": layer.weight_bits,
                "act_bits": layer.act_bits,
                "weight_group_size": blocks[i],
            }
        )
    audio = spec.audio
    return {
        "model_type": "supernas",
        "architectures": [head],
        "auto_map": {
            "AutoConfig": "configuration_supernas.SupernasConfig",
            "AutoModel": "modeling_supernas.SupernasModel",
            auto: f"modeling_supernas.{head}",
        },
        "task": spec.task,
        "hidden_size": arch.embed_dim,
        "head_dim": spec.head_dim,
        "layers": layers,
        "vocab_size": spec.vocab_size if spec.task in ("causal_lm", "encoder_classification") else 0,
        "type_vocab_size": spec.type_vocab_size,
        "max_position_embeddings": spec.seq_len if spec.task != "speech" else 0,
        "norm": spec.norm,
        "layer_norm_eps": spec.norm_eps,
        "hidden_act": spec.activation,
        "bias": spec.bias,
        "causal": spec.causal,
        "num_classes": spec.num_classes if spec.task != "causal_lm" else 0,
        "image_size": spec.image_size if spec.task == "vision" else 0,
        "patch_size": spec.patch_size if spec.task == "vision" else 0,
        "num_channels": spec.in_channels if spec.task == "vision" else 3,
        "conv_layers": [list(c) for c in audio.conv_layers] if audio else [],
        "pos_conv_kernel": audio.pos_conv_kernel if audio else 0,
        "tied_head": spec.task == "causal_lm" and spec.tie_embeddings,
        "use_cache": spec.task == "causal_lm" and cache_reproduces(model),
        "dtype": "float32",
    }


def save_remote(model: Transformer, directory: str | Path) -> Path:
    """Write config.json, the two code files and model.safetensors into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = remote_config(model) | {
        "supernas": {
            "format": "supernas-hf-remote-code",
            "supernas_version": version("supernas"),
            "arch_id": model.arch.arch_id,
            "architecture": model.arch.model_dump(mode="json"),
            "space": model.spec.model_dump(mode="json"),
            "weights": getattr(model, "provenance", "unknown"),
            "quantization": quantization_summary(model.spec, model.arch),
        }
    }
    tensors = {
        (name if name.startswith(HEADS) else f"model.{name}"): tensor.contiguous().clone()
        for name, tensor in model.state_dict().items()
    }
    save_weights(tensors, directory / "model.safetensors", metadata={"format": "pt"})
    for name in CODE_FILES:
        shutil.copyfile(REMOTE_CODE / name, directory / name)
    (directory / "config.json").write_text(json.dumps(config, indent=2))
    return directory


def save_transformers(model: Transformer, directory: str | Path) -> Path:
    """The subnet as a transformers model: a standard class where one expresses it, else remote code."""
    if hf_unsupported_reason(model.spec, model.arch) is None:
        return save_hf(model, directory)
    return save_remote(model, directory)
