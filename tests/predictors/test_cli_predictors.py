"""The predictors' commands as a user runs them."""

from __future__ import annotations

import json

import pytest
import torch

from supernas.predictors.catalogue import metric_names
from supernas.spaces.analytic import count_params
from supernas.spaces.architecture import sample_many
from supernas.spaces.spec import load_spec
from tests.helpers import supernas

ABSENT_GPU = f"cuda:{torch.cuda.device_count()}"  # one past the last GPU: absent on every machine


def test_metrics_lists_every_registered_metric(tmp_path):
    done = supernas("metrics", home=tmp_path)
    assert done.returncode == 0
    for name in metric_names():
        assert name in done.stdout


def test_score_matches_the_library(tmp_path):
    arch = sample_many(load_spec("gpt-tiny"), 1, seed=2)[0]
    (tmp_path / "arch.json").write_text(arch.to_json())
    done = supernas(
        "score",
        "gpt-tiny",
        "--arch",
        str(tmp_path / "arch.json"),
        "--metrics",
        "params,hidden_cov",
        "--json",
        home=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    values = json.loads(done.stdout)
    assert values["arch_id"] == arch.arch_id and values["params"] == count_params(load_spec("gpt-tiny"), arch)
    again = json.loads(
        supernas(
            "score", "gpt-tiny", "--arch", arch.to_json(), "--metrics", "hidden_cov", "--json", home=tmp_path
        ).stdout
    )
    assert again["hidden_cov"] == values["hidden_cov"]  # deterministic for the same seed


def test_calibrate_then_predicted_latency(tmp_path):
    done = supernas("calibrate", "gpt-tiny", "-n", "10", "--repeats", "2", "--threads", "1", home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "MAPE" in done.stdout and "Spearman" in done.stdout
    arch = sample_many(load_spec("gpt-tiny"), 1, seed=3)[0]
    scored = supernas(
        "score",
        "gpt-tiny",
        "--arch",
        arch.to_json(),
        "--metrics",
        "latency_predicted_ms",
        "--option",
        "threads=1",
        "--json",
        home=tmp_path,
    )
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout)["latency_predicted_ms"] > 0


@pytest.mark.parametrize(
    "args, needle",
    [
        (["score", "gpt-tiny", "--arch", "{}", "--metrics", "nope"], "unknown metric 'nope'"),
        (["score", "bert-mini", "--arch", "-", "--metrics", "decoder_params"], None),
        (["score", "gpt-tiny", "--arch", "{}", "--metrics", "latency_predicted_ms"], None),
        (
            ["calibrate", "gpt-tiny", "--device", ABSENT_GPU, "-n", "8"],
            f"device '{ABSENT_GPU}' is not available on this machine",
        ),
        (["calibrate", "gpt-tiny", "--device", "tpu", "-n", "8"], "tpu"),
        (
            ["calibrate", "gpt-tiny", "--repeats", "5", "--max-repeats", "2"],
            "max_repeats 2 must be >= repeats 5",
        ),
        (
            ["calibrate", "gpt-tiny", "--backend", "cuda-graphs", "-n", "8"],
            "unknown backend 'cuda-graphs' (allowed: torch, triton, onnxruntime)",
        ),
        (
            ["calibrate", "gpt-tiny", "--backend", "onnxruntime", "--graph-optimization", "max", "-n", "8"],
            "unknown ONNX Runtime graph optimization 'max' (allowed: disable, basic, extended, all)",
        ),
        (
            ["calibrate", "gpt-tiny", "--backend", "onnxruntime", "--device", "cuda", "-n", "8"],
            "backend onnxruntime runs on device cpu only",
        ),
    ],
)
def test_bad_input_is_one_line(tmp_path, args, needle):
    arch = sample_many(load_spec(args[1]), 1, seed=0)[0].to_json()
    args = [arch if a in ("{}", "-") else a for a in args]
    done = supernas(*args, home=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    if needle:
        assert needle in done.stderr
