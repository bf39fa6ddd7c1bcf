"""Exporters: a subnet as a directory that another runtime loads, checked by running that runtime.

Formats:

- ``supernas``: ``config.json`` + ``model.safetensors`` (:func:`supernas.models.checkpoint.save_subnet`).
- ``onnx``: ``model.onnx`` (opset 21, integer weights kept as INT8/INT4 with DequantizeLinear; see
  :mod:`supernas.export.onnx`), checked with ONNX Runtime against the torch subnet.
- ``hf``: a transformers directory: GPT-2, BERT or ViT where a standard config expresses the subnet
  (:mod:`supernas.export.huggingface`), else per-layer config + remote code (:mod:`supernas.export.remote`);
  checked with transformers when it is installed.
- ``sentence-transformers``: a text encoder as a sentence-transformers folder
  (:mod:`supernas.export.sentence`), checked with sentence-transformers when it is installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from supernas.core.errors import SpecError, allowed
from supernas.export.sentence import save_sentence_transformers, sentence_transformers_unsupported_reason
from supernas.models.checkpoint import load_subnet, save_subnet
from supernas.models.model import Transformer
from supernas.spaces.architecture import Architecture
from supernas.spaces.spec import SpaceSpec

FORMATS = ("supernas", "onnx", "hf", "sentence-transformers")
# task -> the transformers Auto class that loads a model with its head
AUTO_CLASSES = {
    "causal_lm": "AutoModelForCausalLM",
    "encoder_classification": "AutoModel",
    "vision": "AutoModelForImageClassification",
    "speech": "AutoModelForAudioClassification",
}


@dataclass(frozen=True)
class ExportResult:
    directory: Path
    format: str
    bytes: int  # size of the written files
    check: str  # how the runtime check went, one line


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise SpecError(f"unknown export format '{fmt}' ({allowed(FORMATS)})")
    return fmt


def format_refusals(spec: SpaceSpec, arch: Architecture) -> dict[str, str | None]:
    """Every format, in FORMATS order: None where it applies to the subnet ``(spec, arch)``, else the one
    line saying why not. export_subnet (so the CLI), the REST API and the dashboard's Extract all ask
    this, so they cannot disagree about a subnet. Only sentence-transformers depends on the subnet today:
    hf falls back to remote code and ONNX expresses every subnet."""
    refusals = dict.fromkeys(FORMATS)
    refusals["sentence-transformers"] = sentence_transformers_unsupported_reason(spec)
    return refusals


def check_applies(spec: SpaceSpec, arch: Architecture, fmt: str) -> None:
    """Refuse an unknown format, or one that does not apply to the subnet, in one line."""
    if reason := format_refusals(spec, arch)[check_format(fmt)]:
        raise SpecError(reason)


def check_output_directory(directory: Path) -> Path:
    """Refuse to mix an export into files already there."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise SpecError(f"output directory {directory} exists and is not empty; choose a new one or empty it")
    return directory


def activation_quantized_layers(model: Transformer) -> list[int]:
    return [i for i, layer in enumerate(model.arch.layers) if layer.act_bits < 32]


def onnx_check(model: Transformer, onnx_file: Path) -> str:
    """Run the file in ONNX Runtime on example inputs and compare with the torch subnet."""
    from supernas.export.onnx import example_inputs, runtime_session, torch_outputs

    inputs = example_inputs(model.spec, batch=2, seq=min(16, model.spec.seq_len))
    ours = torch_outputs(model, inputs)
    theirs = runtime_session(onnx_file).run(None, inputs)
    diff = max(float(np.abs(a - b).max()) for a, b in zip(theirs, ours))
    line = f"ONNX Runtime ran it: max |difference| to the torch subnet {diff:.2e}"
    fake_quant = activation_quantized_layers(model)
    if fake_quant:  # a 1e-7 difference in accumulation order can move a value across a rounding step
        line += (
            f" (layers {fake_quant} round activations to 8 or 16 bits, so values near a rounding step may "
            "differ)"
        )
    return line


def transformers_outputs(
    model: Transformer, loaded, inputs: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, ...]:
    """(ours, theirs) on ``inputs``: logits, or for an encoder the final hidden states (a standard BERT
    export has no head)."""
    spec = model.spec
    with torch.no_grad():
        if spec.task == "encoder_classification":
            padding = inputs["attention_mask"].bool()
            ours = model.encode(inputs["input_ids"], padding, inputs["token_type_ids"])
            return ours, loaded(**inputs).last_hidden_state
        return model(next(iter(inputs.values()))), loaded(**inputs).logits


def hf_check(model: Transformer, directory: Path) -> str:
    """Load the directory with transformers (when installed) and compare with the torch subnet."""
    try:
        import transformers
    except ImportError:
        return "not checked: transformers is not installed (pip install transformers)"
    from supernas.export.onnx import example_inputs

    transformers.logging.disable_progress_bar()  # one bar per load; the export prints its own line
    auto = getattr(transformers, AUTO_CLASSES[model.spec.task])
    loaded = auto.from_pretrained(directory, trust_remote_code=True).eval()
    inputs = {k: torch.from_numpy(v) for k, v in example_inputs(model.spec, batch=2, seq=16).items()}
    ours, theirs = transformers_outputs(model, loaded, inputs)
    return (
        f"transformers loaded it ({type(loaded).__name__}): max |difference| to the torch subnet "
        f"{float((theirs - ours).abs().max()):.2e}"
    )


def sentence_transformers_check(model: Transformer, directory: Path) -> str:
    """Encode two sentences with sentence-transformers (when installed) and compare with the subnet's
    unit-normalised mean-pooled final states."""
    try:
        import transformers
        from sentence_transformers import SentenceTransformer
    except ImportError:
        return "not checked: sentence-transformers is not installed (pip install sentence-transformers)"
    from supernas.data.tokenizer import wordpiece_encode
    from supernas.models.ops import mean_pool

    sentences = ["A subnet found by supernas.", "It loads where its users work."]
    transformers.logging.disable_progress_bar()  # installed with sentence-transformers
    loaded = SentenceTransformer(str(directory), device="cpu", trust_remote_code=True)
    theirs = loaded.encode(sentences, convert_to_tensor=True)
    ids, mask = wordpiece_encode(sentences, loaded.max_seq_length)
    with torch.no_grad():
        ours = F.normalize(mean_pool(model.encode(ids, mask), mask), dim=-1)
    return (
        "sentence-transformers loaded it: max |difference| to the subnet's embeddings "
        f"{float((theirs - ours).abs().max()):.2e}"
    )


def export_subnet(model: Transformer, directory: str | Path, fmt: str) -> ExportResult:
    """Write ``model`` (an extracted or loaded subnet) to a new ``directory`` in format ``fmt``."""
    check_applies(model.spec, model.arch, fmt)  # before anything is written
    directory = check_output_directory(Path(directory))
    if fmt == "hf":
        from supernas.export.remote import save_transformers

        save_transformers(model, directory)
        check = hf_check(model, directory)
    elif fmt == "sentence-transformers":
        save_sentence_transformers(model, directory)
        check = sentence_transformers_check(model, directory)
    elif fmt == "onnx":
        from supernas.export.onnx import ONNX_FILE, to_onnx

        data = to_onnx(model)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / ONNX_FILE).write_bytes(data)
        check = onnx_check(model, directory / ONNX_FILE)
    else:
        save_subnet(model, directory)
        check = "load_subnet reads it"
    size = sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())
    return ExportResult(directory, fmt, size, check)


def export_checkpoint(checkpoint: str | Path, directory: str | Path, fmt: str) -> ExportResult:
    """Export an already extracted subnet checkpoint directory."""
    check_format(fmt)
    return export_subnet(load_subnet(checkpoint), directory, fmt)
