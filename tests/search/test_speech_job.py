"""A keyword-spotting search end to end: a speech supernet trained on the spoken keyword set, then a job on
held-out accuracy vs latency run by real Ray workers, each scoring the same unseen voices."""

from __future__ import annotations

import pytest

from supernas.data.task import load_task_data
from supernas.data.types import heldout_batches
from supernas.models.supernet import Supernet
from supernas.predictors.oneshot import heldout_accuracy
from supernas.search.store.store import open_store
from supernas.spaces.analytic import forward_macs
from supernas.spaces.architecture import Architecture
from supernas.spaces.spec import load_spec
from supernas.training.sandwich import train_supernet
from tests.barrier import PLUGIN, Gate, on_two_workers
from tests.helpers import supernas
from tests.search.jobs_helpers import write_job


@pytest.mark.timing
def test_val_accuracy_vs_latency_job_on_speech_runs_on_ray_workers(tmp_path, keyword_set):
    """Both workers score trials: the trials wait at a gate until each worker holds one."""
    spec = load_spec("speech-tiny")
    gate = Gate(tmp_path / "gate")
    data = load_task_data(keyword_set, spec)
    net = Supernet(spec, seed=0)
    train_supernet(net, data, steps=20, lr=5e-3, batch_size=16, sandwich_k=1, progress=False)
    net.save(tmp_path / "net")
    objectives = [
        {"metric": "val_accuracy"},
        {"metric": "latency_ms", "options": {"repeats": 3, "warmup": 1}},
        {"metric": "flops_per_second"},
    ]
    job_file = write_job(
        tmp_path,
        space="speech-tiny",
        supernet=str(tmp_path / "net"),
        data=str(keyword_set),
        objectives=objectives,
        constraints=[gate.constraint()],
        plugins=[str(PLUGIN)],
        strategy="random",
        budget={"trials": 4},
        workers=2,
        reference=[-1.0, 1.0e6, 1.0e15],  # worse than any subnet: no anchor is timed
    )
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    run = on_two_workers(gate, lambda: supernas("run", job_file, "--db", url, "--no-progress"))
    assert run.returncode == 0, run.stdout + run.stderr
    trials = open_store(url).trials(1)
    assert [t.state for t in trials] == ["complete"] * 4 and len({t.worker for t in trials}) == 2
    heldout = heldout_batches(data.heldout)  # the two unseen voices, as every worker read them
    for trial in trials:
        arch = Architecture.from_json(trial.arch_json)
        assert trial.values["val_accuracy"] == pytest.approx(heldout_accuracy(net, arch, heldout), abs=1e-6)
        assert trial.values["flops_per_second"] == 2 * forward_macs(
            spec, arch, spec.seq_len
        )  # clips of one second
        assert trial.values["latency_ms"] > 0
