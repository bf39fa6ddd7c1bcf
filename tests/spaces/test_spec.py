from pathlib import Path

import pytest

from supernas.core.errors import NotFoundError, SpecError
from supernas.spaces.analytic import count_params
from supernas.spaces.architecture import largest
from supernas.spaces.spec import builtin_names, load_spec

GOOD = """
name: mine
task: causal_lm
vocab_size: 100
max_seq_len: 16
head_dim: 8
depth: [1, 2]
embed_dim: [16, 32]
layer:
  attention: [mha, gqa]
  heads: [2, 4]
  kv_heads: [1, 2]
  ffn_dim: [32, 64]
"""


def test_builtin_spaces_load():
    assert builtin_names() == [
        "bert-mini",
        "gpt-tiny",
        "gpt2-small",
        "hubert-base",
        "speech-tiny",
        "vit-tiny",
    ]
    for name in builtin_names():
        assert load_spec(name).name == name


def test_published_sizes_of_largest_subnets():
    # GPT-2 124M (tied embeddings) and MiniLM-L6 (BertModel without pooler: 22,565,376) plus a 2-class head.
    assert count_params(load_spec("gpt2-small"), largest(load_spec("gpt2-small"))) == 124_439_808
    assert count_params(load_spec("bert-mini"), largest(load_spec("bert-mini"))) == 22_565_376 + 384 * 2 + 2


def test_spec_file_anywhere_a_name_is_accepted(tmp_path: Path):
    path = tmp_path / "mine.yaml"
    path.write_text(GOOD)
    spec = load_spec(str(path))
    assert spec.name == "mine" and spec.layer.kv_heads == [1, 2]


@pytest.mark.parametrize(
    "edit, message",
    [
        (("heads: [2, 4]", "heads: [0, 4]"), "field 'layer.heads'"),
        (("task: causal_lm", "task: video"), "field 'task' = 'video'"),
        (("kv_heads: [1, 2]", "kv_heads: [3]"), "no valid (heads, kv_heads) pair"),
        (
            ("ffn_dim: [32, 64]", "ffn_dim: [32, 64]\n  weight_bits: [3]"),
            "weight_bits [3] not supported, allowed: 4, 8, 16, 32",
        ),
        (("depth: [1, 2]", "depht: [1, 2]"), "unknown field 'depht'"),
        (("vocab_size: 100\n", ""), "needs vocab_size"),
    ],
)
def test_invalid_spec_names_field(tmp_path: Path, edit, message):
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD.replace(*edit))
    with pytest.raises(SpecError) as err:
        load_spec(str(path))
    assert message in str(err.value) and str(path) in str(err.value)
    assert "\n" not in str(err.value)


def test_yaml_syntax_error_and_missing_file(tmp_path: Path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec(str(path))
    with pytest.raises(NotFoundError, match="no such file"):
        load_spec(str(tmp_path / "absent.yaml"))
    with pytest.raises(NotFoundError, match="unknown space 'gpt-huge'"):
        load_spec("gpt-huge")
