"""What Extract offers and zips for a text encoder, whose sentence-transformers folder has module
subfolders (the shared server's job is a causal LM, for which that format does not apply)."""

from __future__ import annotations

import zipfile

import torch
from sentence_transformers import SentenceTransformer

from supernas.dashboard.api.trials import zip_folder
from supernas.dashboard.convert import formats_out
from supernas.export.sentence import save_sentence_transformers
from supernas.models.checkpoint import extract
from supernas.models.supernet import Supernet
from supernas.spaces.architecture import smallest
from supernas.spaces.spec import load_spec

SENTENCES = ["A subnet found by supernas.", "It loads where its users work."]


def embed(directory) -> torch.Tensor:
    loaded = SentenceTransformer(str(directory), device="cpu", trust_remote_code=True)
    return loaded.encode(SENTENCES, convert_to_tensor=True)


def test_an_encoders_formats_all_apply_and_its_sentence_transformers_zip_loads(tmp_path):
    space = load_spec("bert-mini")
    arch = smallest(space)
    assert [(f.format, f.available, f.reason) for f in formats_out(space, arch)] == [
        ("supernas", True, None),
        ("onnx", True, None),
        ("hf", True, None),
        ("sentence-transformers", True, None),
    ]
    folder = save_sentence_transformers(extract(Supernet(space, seed=0), arch), tmp_path / "export")
    archive = zip_folder(folder, "sentence-transformers")
    with zipfile.ZipFile(archive) as z:
        assert "1_Pooling/config.json" in z.namelist() and "2_Normalize/" in z.namelist()
        z.extractall(tmp_path / "unzipped")
    archive.unlink()
    assert torch.equal(embed(tmp_path / "unzipped"), embed(folder))
