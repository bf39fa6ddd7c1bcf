"""Export an extracted subnet as a standard Hugging Face ``transformers`` checkpoint (GPT-2, BERT or ViT).

Only subnets a *standard* config can express exactly are written here, so the exported model computes what
the subnet computes: GPT-2 (``GPT2LMHeadModel``) for pre-norm causal LMs, BERT (``BertModel``) for
post-norm encoders, ViT (``ViTForImageClassification``) for vision. Everything else (elastic attention
kinds, MoE, integer weights, activation fake-quant, per-layer widths) has no config field: ``save_hf``
refuses it with one line, and ``export_subnet`` writes it with remote code instead (:mod:`.remote`).

This module only writes files (``config.json``, ``model.safetensors`` in transformers' own tensor names);
it never imports ``transformers``, which is an optional dependency.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

import torch

from supernas.core.errors import SpecError
from supernas.core.weightfiles import save_weights
from supernas.models.dense import QuantLinear
from supernas.models.model import Transformer
from supernas.models.pretrained import BERT_NAMES, GPT2_NAMES, NamePair
from supernas.spaces.architecture import Architecture
from supernas.spaces.spec import AttentionType, SpaceSpec

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
CLASSIFIER_WEIGHTS = "classifier.safetensors"
REMOTE_HINT = "; --format hf writes it with its own modeling code instead (trust_remote_code)"
# supernas activation -> transformers ACT2FN name (gelu_new is GPT-2's tanh approximation)
HF_ACTIVATIONS = {"gelu_tanh": "gelu_new", "gelu": "gelu", "relu": "relu"}
FAMILIES = {
    "causal_lm": ("Hugging Face GPT-2", "pre"),
    "encoder_classification": ("Hugging Face BERT", "post"),
    "vision": ("Hugging Face ViT", "pre"),
}
# our vision module -> ViT's module (the names of ViT checkpoints on the Hub, which transformers 4 and 5 load)
VIT_LAYER_NAMES = {
    "ln1": "layernorm_before",
    "attn.q": "attention.attention.query",
    "attn.k": "attention.attention.key",
    "attn.v": "attention.attention.value",
    "attn.o": "attention.output.dense",
    "ln2": "layernorm_after",
    "ffn.experts.0.fc1": "intermediate.dense",
    "ffn.experts.0.fc2": "output.dense",
}


def _first_difference(spec: SpaceSpec, arch: Architecture) -> str | None:
    """The first global setting or layer a standard GPT-2/BERT config cannot express, or None."""
    if spec.task not in FAMILIES:
        return (
            f"task '{spec.task}': Hugging Face export covers GPT-2 (causal_lm), "
            "BERT (encoder_classification) and ViT (vision) only"
        )
    family, norm = FAMILIES[spec.task]
    if spec.norm != norm:
        return f"norm '{spec.norm}' ({family} is {norm}-norm only)"
    if spec.activation not in HF_ACTIVATIONS:
        return f"activation '{spec.activation}' (no {family} hidden activation computes it)"
    first = arch.layers[0]
    for i, layer in enumerate(arch.layers):
        at = f"layer {i}"
        if not layer.has_attention or not layer.has_ffn:
            return (
                f"{at}: a no-op {'attention' if not layer.has_attention else 'FFN'} block "
                f"({family} layers always have both)"
            )
        if layer.attention is AttentionType.linear:
            return f"{at}: attention 'linear' ({family} has softmax attention only)"
        if layer.attention is AttentionType.gqa:
            return (
                f"{at}: attention 'gqa' with {layer.kv_heads} key/value heads "
                f"({family} has one per query head)"
            )
        if layer.attention is AttentionType.sliding_window:
            return (
                f"{at}: attention 'sliding_window' (window {layer.window}; "
                f"{family} attends to the whole sequence)"
            )
        if layer.experts > 1:
            return f"{at}: {layer.experts} experts, top-{layer.top_k} ({family} has dense FFNs only)"
        if layer.weight_bits not in (16, 32):
            return (
                f"{at}: {layer.weight_bits}-bit weights "
                f"({family} stores float weights; 16/32-bit layers only)"
            )
        if layer.act_bits != 32:
            return f"{at}: {layer.act_bits}-bit activation fake-quant (not expressible in a {family} config)"
        if layer.heads * spec.head_dim != arch.embed_dim:
            return (
                f"{at}: heads {layer.heads} x head_dim {spec.head_dim} = {layer.heads * spec.head_dim} "
                f"!= embed_dim {arch.embed_dim} ({family} derives head_dim = hidden size / heads)"
            )
        for field in ("heads", "ffn_dim"):
            if getattr(layer, field) != getattr(first, field):
                return (
                    f"{at}: {field} {getattr(layer, field)} differs from layer 0's {getattr(first, field)} "
                    f"({family} config has one {field} for every layer)"
                )
    return None


def hf_unsupported_reason(spec: SpaceSpec, arch: Architecture) -> str | None:
    """None when a standard transformers config can express this subnet exactly; else ONE line naming the
    first layer (or global setting) that differs and why, ending with the remote-code hint (:mod:`.remote`
    exports such subnets)."""
    why = _first_difference(spec, arch)
    return None if why is None else why + REMOTE_HINT


def _weight(linear: QuantLinear) -> torch.Tensor:
    """fp32 weight (out, in); 16-bit layers give their fp16 values, which fp32 holds exactly."""
    return linear.dense_weight().detach().float()


def _bias(linear: QuantLinear) -> torch.Tensor:
    """The bias, or zeros for a bias-free space (GPT-2 and BERT always add one: zeros preserve the
    function)."""
    return linear.bias.detach().float() if linear.bias is not None else torch.zeros(linear.out_features)


def _tensors(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A module's weight (and bias) as float tensors in our (out, in) layout."""
    if isinstance(module, QuantLinear):
        return {"weight": _weight(module), "bias": _bias(module)}
    return {name: p.detach() for name, p in module.named_parameters(recurse=False)}


def _renamed(model: Transformer, depth: int, names: tuple[NamePair, ...]) -> dict[str, torch.Tensor]:
    """The model's tensors under Hugging Face names, by the tables that load their checkpoints; a module
    the model lacks (BERT token types in a space without them) is left to the caller."""
    modules = dict(model.named_modules())
    tensors: dict[str, torch.Tensor] = {}
    for pair in names:
        for layer in range(depth) if pair.per_layer else [None]:
            ours = [module.format(layer=layer) for module in pair.ours]
            if not all(name in modules for name in ours):
                continue
            parts = [_tensors(modules[name]) for name in ours]
            for kind in parts[0]:
                tensors[pair.theirs_name(layer, kind)] = pair.join([part[kind] for part in parts])
    return tensors


def _gpt2(model: Transformer, spec: SpaceSpec, arch: Architecture) -> tuple[dict[str, torch.Tensor], dict]:
    """GPT2LMHeadModel tensors (Conv1D weights are (in, out): transposed; c_attn = concat(q, k, v))."""
    tensors = {f"transformer.{k}": v for k, v in _renamed(model, arch.depth, GPT2_NAMES).items()}
    if not spec.tie_embeddings:  # tied: transformers ties lm_head to wte itself (and expects no tensor)
        tensors["lm_head.weight"] = _weight(model.lm_head)
    layer = arch.layers[0]
    config = {
        "model_type": "gpt2",
        "architectures": ["GPT2LMHeadModel"],
        "vocab_size": spec.vocab_size,
        "n_positions": spec.seq_len,
        "n_embd": arch.embed_dim,
        "n_layer": arch.depth,
        "n_head": layer.heads,
        "n_inner": layer.ffn_dim,
        "activation_function": HF_ACTIVATIONS[spec.activation],
        "layer_norm_epsilon": spec.norm_eps,
        "resid_pdrop": 0.0,
        "embd_pdrop": 0.0,
        "attn_pdrop": 0.0,
        "summary_first_dropout": 0.0,
        "scale_attn_weights": True,
        "scale_attn_by_inverse_layer_idx": False,
        "reorder_and_upcast_attn": False,
        "tie_word_embeddings": spec.tie_embeddings,
        "bos_token_id": None,
        "eos_token_id": None,  # the space does not name a tokenizer
    }
    return tensors, config


def _encoder_config(spec: SpaceSpec, arch: Architecture) -> dict:
    """The config fields BERT and ViT share: one width, heads and FFN for every layer, no dropout."""
    layer = arch.layers[0]
    return {
        "hidden_size": arch.embed_dim,
        "num_hidden_layers": arch.depth,
        "num_attention_heads": layer.heads,
        "intermediate_size": layer.ffn_dim,
        "hidden_act": HF_ACTIVATIONS[spec.activation],
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
    }


def _bert(model: Transformer, spec: SpaceSpec, arch: Architecture) -> tuple[dict[str, torch.Tensor], dict]:
    """BertModel tensors; the pooler is written as zeros (not part of the subnet, see config 'supernas')."""
    e = arch.embed_dim
    t = _renamed(model, arch.depth, BERT_NAMES)
    # a space without segment embeddings: one all-zero token type row adds nothing
    types = t.setdefault("embeddings.token_type_embeddings.weight", torch.zeros(1, e))
    t |= {"pooler.dense.weight": torch.zeros(e, e), "pooler.dense.bias": torch.zeros(e)}
    config = {
        "model_type": "bert",
        "architectures": ["BertModel"],
        "vocab_size": spec.vocab_size,
        **_encoder_config(spec, arch),
        "max_position_embeddings": spec.seq_len,
        "type_vocab_size": types.shape[0],
        "layer_norm_eps": spec.norm_eps,
        "classifier_dropout": None,
    }
    return t, config


def _vit(model: Transformer, spec: SpaceSpec, arch: Architecture) -> tuple[dict[str, torch.Tensor], dict]:
    """ViTForImageClassification tensors: the patch linear is ViT's patch convolution (weights (e, C, p, p),
    the order ``ops.patchify`` flattens a patch in); the class token and positions are our cls and wpe."""
    e, p = arch.embed_dim, spec.patch_size
    tensors = {
        "vit.embeddings.cls_token": model.cls.weight.detach()[None],
        "vit.embeddings.position_embeddings": model.wpe.weight.detach()[None],
        "vit.embeddings.patch_embeddings.projection.weight": _weight(model.patch).view(e, -1, p, p),
        "vit.embeddings.patch_embeddings.projection.bias": _bias(model.patch),
        "vit.layernorm.weight": model.final_norm.weight.detach(),
        "vit.layernorm.bias": model.final_norm.bias.detach(),
        "classifier.weight": _weight(model.classifier),
        "classifier.bias": _bias(model.classifier),
    }
    for i, block in enumerate(model.blocks):
        for ours, theirs in VIT_LAYER_NAMES.items():
            for kind, tensor in _tensors(block.get_submodule(ours)).items():
                tensors[f"vit.encoder.layer.{i}.{theirs}.{kind}"] = tensor
    config = {
        "model_type": "vit",
        "architectures": ["ViTForImageClassification"],
        **_encoder_config(spec, arch),
        "layer_norm_eps": spec.norm_eps,
        "image_size": spec.image_size,
        "patch_size": p,
        "num_channels": spec.in_channels,
        "qkv_bias": True,  # a bias-free space writes zeros
        "num_labels": spec.num_classes,
    }
    return tensors, config


def save_hf(model: Transformer, directory: str | Path) -> Path:
    """Write config.json + model.safetensors that transformers.AutoModel.from_pretrained(directory) (and
    AutoModelForCausalLM for GPT-2, AutoModelForImageClassification for ViT) loads offline; BERT also
    gets classifier.safetensors (our head).
    Raise SpecError(hf_unsupported_reason(...)) when not expressible. Returns the directory."""
    spec, arch = model.spec, model.arch
    if reason := hf_unsupported_reason(spec, arch):
        raise SpecError(reason)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    export = {"causal_lm": _gpt2, "encoder_classification": _bert, "vision": _vit}[spec.task]
    tensors, config = export(model, spec, arch)
    about = {
        "format": "supernas-hf-export",
        "supernas_version": version("supernas"),
        "arch_id": arch.arch_id,
        "architecture": arch.model_dump(mode="json"),
        "space": spec.model_dump(mode="json"),
        "weights": getattr(model, "provenance", "unknown"),
        "precision": "float32; 16-bit layers hold their float16 values exactly",
    }
    if spec.task == "encoder_classification":
        classifier = model.classifier
        save_weights(
            {
                "classifier.weight": _weight(classifier).contiguous(),
                "classifier.bias": _bias(classifier).contiguous(),
            },
            directory / CLASSIFIER_WEIGHTS,
            metadata={"format": "pt"},
        )
        about["pooler"] = (
            "not part of the subnet: pooler.dense is all zeros so BertModel loads completely; "
            "ignore pooler_output"
        )
        about["classifier"] = {
            "file": CLASSIFIER_WEIGHTS,
            "tensors": ["classifier.weight", "classifier.bias"],
            "computes": "logits = classifier(mean of last_hidden_state over tokens with attention_mask 1)",
            "num_classes": spec.num_classes,
        }
    config |= {"dtype": "float32", "supernas": about}
    save_weights(
        {k: v.contiguous().clone() for k, v in tensors.items()},
        directory / WEIGHTS,
        metadata={"format": "pt"},
    )
    (directory / CONFIG).write_text(json.dumps(config, indent=2))
    return directory
