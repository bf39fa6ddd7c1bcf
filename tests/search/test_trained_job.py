"""A search job on trained weights (``supernet: DIR``) through the real CLI, controller, Ray workers and
store: its val_loss values are the trained supernet's on the held-out part of its own corpus, and
``extract JOB TRIAL`` writes that supernet's subnet."""

from __future__ import annotations

import json
import subprocess

import pytest
import torch

from supernas.core.errors import SpecError
from supernas.data.text import heldout_windows, text_file
from supernas.models.checkpoint import load_subnet
from supernas.models.supernet import Supernet
from supernas.predictors.oneshot import heldout_loss
from supernas.search.jobspec import load_job_spec
from supernas.search.store.store import open_store
from supernas.spaces.architecture import Architecture
from supernas.training.sandwich import train_supernet
from tests.helpers import TINY_BYTES, corpus_file, supernas
from tests.search.jobs_helpers import write_job

VAL_LOSS = {"batches": 2, "batch_size": 4, "seq_len": 16}


@pytest.fixture
def trained(tmp_path):
    """A tiny-bytes spec file and a supernet trained a few steps on a corpus, saved as ``tmp_path/net``."""
    spec_file = tmp_path / "tiny.json"
    spec_file.write_text(json.dumps(TINY_BYTES.model_dump(mode="json")))
    text = text_file(corpus_file(tmp_path))
    train_supernet(
        Supernet(TINY_BYTES, seed=0),
        text,
        steps=4,
        lr=1e-2,
        batch_size=2,
        seq_len=16,
        checkpoint_dir=tmp_path / "net",
        progress=False,
    )
    return spec_file, text


def test_job_on_a_trained_supernet_evaluates_and_extracts_its_weights(tmp_path, trained):
    spec_file, text = trained
    objectives = [{"metric": "val_loss", "options": VAL_LOSS}, {"metric": "params"}]
    job_file = write_job(
        tmp_path,
        space=str(spec_file),
        supernet="net",
        objectives=objectives,
        constraints=[],
        strategy="random",
        budget={"trials": 4},
        workers=1,
    )
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    run = subprocess.run(
        ["supernas", "run", job_file, "--db", url, "--no-progress"],
        cwd=tmp_path,  # "net" is relative to here
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    store = open_store(url)
    assert store.get_job(1).spec["supernet"] == str(
        (tmp_path / "net").resolve()
    )  # workers and extract see the same path

    net, untrained = (
        Supernet.load(tmp_path / "net"),
        Supernet(TINY_BYTES, seed=0),
    )  # the job's weights; the default ones
    heldout = heldout_windows(
        text.heldout, seq_len=16, batch_size=4, n_batches=2
    )  # the corpus's tail, not the stdlib
    trials = store.trials(1)
    assert [t.state for t in trials] == ["complete"] * 4
    for trial in trials:
        arch = Architecture.from_json(trial.arch_json)
        assert trial.values["val_loss"] == pytest.approx(heldout_loss(net, arch, heldout), abs=1e-6)
        assert abs(trial.values["val_loss"] - heldout_loss(untrained, arch, heldout)) > 1e-3

    trial = trials[-1]
    done = supernas("extract", "1", str(trial.number), "-o", str(tmp_path / "subnet"), "--db", url)
    assert done.returncode == 0, done.stderr
    assert "trained 4/4 steps on corpus.txt" in done.stdout
    model, arch = load_subnet(tmp_path / "subnet"), Architecture.from_json(trial.arch_json)
    with torch.no_grad(), net.active(arch):
        assert torch.equal(model(heldout[0].inputs), net(heldout[0].inputs))
    assert heldout_loss(net, arch, heldout) != heldout_loss(untrained, arch, heldout)


def test_job_supernet_must_exist_and_match_the_space(tmp_path, trained):
    missing = write_job(tmp_path, supernet=str(tmp_path / "nowhere"))
    with pytest.raises(SpecError, match=r"job.yaml: field 'supernet': .*nowhere: not a supernet directory"):
        load_job_spec(missing)
    other_space = write_job(
        tmp_path, supernet=str(tmp_path / "net")
    )  # a tiny-bytes supernet for a gpt-tiny job
    with pytest.raises(SpecError, match="its space 'tiny-bytes' is not the job's space 'gpt-tiny'"):
        load_job_spec(other_space)
    done = supernas("run", other_space, "--db", f"sqlite:///{tmp_path / 'jobs.db'}")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "field 'supernet'" in done.stderr
