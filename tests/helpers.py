"""Helpers shared by tests in several folders: the command line as a user runs it, a tiny byte-level
space and corpus for training runs, and safetensors header sizes."""

from __future__ import annotations

import os
import struct
import subprocess
from pathlib import Path

from supernas.predictors.base import MetricContext
from supernas.spaces.spec import load_spec, parse_spec

# A byte-level space small enough for several training runs in a test, still with every kind of choice
# that changes training (depth, width, heads, GQA, MoE, quantization).
TINY_BYTES = parse_spec(
    {
        "name": "tiny-bytes",
        "task": "causal_lm",
        "vocab_size": 256,
        "max_seq_len": 16,
        "head_dim": 4,
        "depth": [1, 2],
        "embed_dim": [8, 16],
        "layer": {
            "attention": ["mha", "gqa"],
            "heads": [2, 4],
            "kv_heads": [1],
            "ffn_dim": [16, 32],
            "experts": [1, 2],
            "top_k": [1],
            "weight_bits": [8, 32],
            "act_bits": [8, 32],
        },
    },
    "tiny-bytes",
)


def supernas(
    *args: str,
    home: Path | None = None,
    stdin: str | None = None,
    cwd: Path | str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess:
    """The installed ``supernas`` script in a new process, output captured as text. ``home`` sets
    SUPERNAS_HOME (the isolated_home fixture already sets it for the test's own process)."""
    environment = {**os.environ, **(env or {}), **({"SUPERNAS_HOME": str(home)} if home else {})}
    return subprocess.run(
        ["supernas", *args],
        capture_output=True,
        text=True,
        input=stdin,
        cwd=cwd,
        env=environment,
        timeout=timeout,
    )


def corpus_file(directory: Path, repeats: int = 1000) -> Path:
    """A small, very learnable corpus unlike Python source (a user's ``--data``)."""
    path = directory / "corpus.txt"
    path.write_text("the cat sat on the mat. " * repeats)
    return path


def header_bytes(path: Path) -> int:
    """Size of a safetensors file's header (length prefix included)."""
    (length,) = struct.unpack("<Q", path.read_bytes()[:8])
    return 8 + length


def run_main(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """The ``supernas`` entry point run in this process (the same code as the console script, without an
    interpreter start per call): exit code, stdout, stderr."""
    import sys

    import pytest

    from supernas.cli import main

    monkeypatch.setattr(sys, "argv", ["supernas", *args])
    with pytest.raises(SystemExit) as done:
        main()
    out = capsys.readouterr()
    return done.value.code, out.out, out.err


KEYWORD_SET = {
    "speakers": 8,
    "takes": 3,
    "seed": 0,
}  # the tests' spoken keyword set: 288 clips, 6 training and 2 held-out voices


def speech_on_short_clips(name: str, seconds: float):
    """A built-in speech space on shorter clips (windows cut to fit): the same modules, fewer frames to
    compute."""
    from supernas.spaces.spec import load_spec

    data = load_spec(name).model_dump(mode="json")
    data["audio"]["max_seconds"] = seconds
    data["layer"]["windows"] = [2, 4]
    return parse_spec(data, name)


def assert_active_weights_are_extracted(supernet, archs, batch) -> None:
    """Per architecture, the supernet's active weights and their gradients are exactly the extracted
    subnet's: what a weight-sharing proxy scores is what the deployed model holds."""
    import torch

    from supernas.models.checkpoint import extract
    from supernas.models.dense import parameter_count
    from supernas.predictors.proxies import weight_grads

    for arch in archs:
        with supernet.active(arch):
            pairs = weight_grads(supernet, batch)
        dense = weight_grads(extract(supernet, arch), batch)
        assert sum(w.numel() for w, _ in pairs) == parameter_count(extract(supernet, arch))
        for (w, g), (dw, dg) in zip(pairs, dense, strict=True):
            assert torch.equal(w, dw)
            torch.testing.assert_close(g, dg, rtol=1e-4, atol=1e-9)


def bert_mini_with_full_precision():
    """bert-mini with full precision among the choices, so the full-size subnet is the parent itself."""
    spec = load_spec("bert-mini")
    return spec.model_copy(
        update={"layer": spec.layer.model_copy(update={"weight_bits": [8, 16, 32], "act_bits": [16, 32]})}
    )


def supernet_context(supernet):
    """A metric context whose supernet is ``supernet`` itself."""
    return MetricContext(supernet.spec, supernet_factory=lambda: supernet)
