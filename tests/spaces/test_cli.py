"""The foundation's commands, run as a user runs them (the installed console script)."""

import json

import pytest
import torch

from supernas.data.inputs import random_batch
from supernas.models.checkpoint import load_subnet
from supernas.spaces.architecture import Architecture
from supernas.spaces.spec import load_spec
from tests.helpers import supernas


def test_spaces_table_and_show():
    table = supernas("spaces")
    assert table.returncode == 0
    for name in ("gpt-tiny", "gpt2-small", "bert-mini", "vit-tiny", "124.44M"):
        assert name in table.stdout
    shown = supernas("space", "show", "gpt-tiny", "--json")
    assert json.loads(shown.stdout) == load_spec("gpt-tiny").model_dump(mode="json")


def test_sample_is_seeded_json_lines():
    first, again = (
        supernas("sample", "gpt-tiny", "-n", "3", "--seed", "0"),
        supernas("sample", "gpt-tiny", "-n", "3", "--seed", "0"),
    )
    lines = first.stdout.splitlines()
    assert first.returncode == 0 and lines == again.stdout.splitlines() and len(lines) == 3
    assert all(Architecture.from_json(line).space == "gpt-tiny" for line in lines)


def test_extract_writes_a_loadable_checkpoint(tmp_path):
    arch_line = supernas("sample", "gpt-tiny", "-n", "1", "--seed", "4").stdout
    (tmp_path / "arch.json").write_text(arch_line)
    done = supernas(
        "extract", "--space", "gpt-tiny", "--arch", str(tmp_path / "arch.json"), "-o", str(tmp_path / "out")
    )
    assert done.returncode == 0, done.stderr
    assert "random initialisation, seed 0" in done.stdout
    model = load_subnet(tmp_path / "out")
    assert model.arch == Architecture.from_json(arch_line)
    batch = random_batch(model.spec, 1, 8)
    assert model(batch.inputs).shape == (1, 8, 256)
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["weights"] == "random initialisation, seed 0"

    piped = supernas(
        "extract", "--space", "gpt-tiny", "--arch", "-", "-o", str(tmp_path / "piped"), stdin=arch_line
    )
    assert piped.returncode == 0
    assert torch.equal(load_subnet(tmp_path / "piped")(batch.inputs), model(batch.inputs))


@pytest.mark.parametrize(
    "args, needle",
    [
        (["space", "show", "gpt-huge"], "unknown space 'gpt-huge'"),
        (["sample", "missing.yaml"], "missing.yaml: no such file"),
        (["extract", "--space", "gpt-tiny", "--arch", '{"embed_dim": 65', "-o", "x"], "not valid JSON"),
        (
            ["extract", "--space", "gpt-tiny", "--arch", "nowhere.json", "-o", "x"],
            "--arch nowhere.json: no such file",
        ),
        (
            [
                "extract",
                "--space",
                "gpt-tiny",
                "--arch",
                '{"embed_dim": 64, "layers": [{"attention": "mha", "heads": 3, "ffn_dim": 128}]}',
                "-o",
                "x",
            ],
            "(allowed: 2, 3, 4)",
        ),
        (["extract", "--supernet", "no-such-dir", "--arch", "{}", "-o", "x"], "not a supernet directory"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, needle):
    done = supernas(*args)
    assert done.returncode == 2
    assert needle in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
