"""``supernas blocks``: builds a supernet's block library once, stores it, reuses it; user mistakes are
one line."""

from __future__ import annotations

import os
import subprocess

import pytest

from supernas.models.supernet import Supernet
from supernas.spaces.spec import parse_spec

SPACE = {
    "name": "gpt-blocks-cli",
    "task": "causal_lm",
    "vocab_size": 256,
    "max_seq_len": 32,
    "head_dim": 8,
    "depth": [2, 3],
    "embed_dim": [32],
    "layer": {
        "attention": ["mha", "none"],
        "heads": [2, 4],
        "ffn_dim": [0, 32],
        "weight_bits": [8, 32],
        "act_bits": [32],
    },
}


def supernas(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(["supernas", *args], capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(scope="module")
def supernet_dir(tmp_path_factory):
    return Supernet(parse_spec(SPACE, "test"), seed=1).save(tmp_path_factory.mktemp("blocks") / "net")


def test_blocks_builds_stores_and_reuses(supernet_dir, tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'blocks.db'}"
    first = supernas("blocks", str(supernet_dir), "--latency", "none", "--batches", "1", "--db", url)
    assert first.returncode == 0, first.stderr
    # 1 (largest) + 3 layers x (attention: mha h2, none; ffn: none; quant: w8a32) + depth 2
    assert "block library built from 14 subnets and stored" in first.stdout.splitlines()[0]
    rows = [line for line in first.stdout.splitlines() if line.strip().startswith("│ attention")]
    assert [r.split("│")[2].strip() for r in rows] == ["mha h2", "mha h4", "none"]
    mha4 = rows[1].split("│")[3:6]
    assert [c.strip() for c in mha4] == ["0", "0", "0"]  # the largest subnet's own choice costs nothing
    from supernas.cli import main

    monkeypatch.setattr(
        "sys.argv",
        ["supernas", "blocks", str(supernet_dir), "--latency", "none", "--batches", "1", "--db", url],
    )
    with pytest.raises(SystemExit) as done:  # again, in this process
        main()
    assert done.value.code == 0
    again = capsys.readouterr().out
    assert "block library reused from the store" in again.splitlines()[0]
    assert again.split("\n", 1)[1] == first.stdout.split("\n", 1)[1]  # the same table, not measured again


@pytest.mark.parametrize(
    "args, message",
    [
        (["nowhere"], "nowhere: not a supernet directory"),
        (["{net}", "--latency", "fast"], "--latency 'fast' is not a latency metric"),
        (["{net}", "--score", "bleu"], "--score 'bleu'"),
        (
            ["{net}", "--latency", "latency_predicted_ms"],
            "no latency predictor calibrated for space 'gpt-blocks-cli'",
        ),
    ],
)
def test_blocks_mistakes_are_one_line(supernet_dir, tmp_path, args, message, monkeypatch, capsys):
    from supernas.cli import main

    argv = [
        "supernas",
        "blocks",
        *[a.format(net=supernet_dir) for a in args],
        "--db",
        f"sqlite:///{tmp_path / 'b.db'}",
    ]
    monkeypatch.setattr("sys.argv", argv)
    with pytest.raises(SystemExit) as done:
        main()
    err = capsys.readouterr().err
    assert done.value.code == 2 and err.count("\n") == 1 and message in err, err
