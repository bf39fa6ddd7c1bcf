"""Checkpoints of stored trials: the one place that knows which weights a job's subnets come from."""

from __future__ import annotations

from pathlib import Path

from supernas.spaces import Supernet, extract, get_space, parse_architecture, save_subnet


def extract_trial(store, job: int | str, trial_number: int, out_dir: str | Path, supernet: str | Path | None = None) -> Path:
    """Write the subnet checkpoint of a job's trial to ``out_dir`` and record it in the store.

    The weights are those the job's metrics saw: its spec's ``supernet`` directory, else ``supernet``
    (a caller's choice, used only when the spec names none), else the supernet's random initialisation
    seeded with the job's seed. ``job`` is an id or a name.
    """
    record = store.get_job(job)
    trial = store.get_trial(record.id, trial_number)
    weights = record.spec.get("supernet") or supernet
    if weights:
        net = Supernet.load(weights)
    else:
        net = Supernet(get_space(record.spec["space"]), seed=record.spec.get("seed", 0))
    arch = parse_architecture(net.spec, trial.arch_json, f"trial {trial.number} of job {record.id}")
    out = save_subnet(extract(net, arch), out_dir)
    store.record_checkpoint(record.id, trial.id, str(out.resolve()))
    return out
