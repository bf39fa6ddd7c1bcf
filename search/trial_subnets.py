"""The subnets of stored trials: the one place that knows which weights a job's subnets come from, and
where their extracted or exported checkpoints are recorded."""

from __future__ import annotations

from pathlib import Path

from supernas.core.errors import SpecError
from supernas.export.exporters import ExportResult, check_format, check_output_directory, export_subnet
from supernas.models.checkpoint import extract, save_subnet
from supernas.models.model import Transformer
from supernas.models.supernet import Supernet
from supernas.search.store.records import JobRecord, TrialRecord
from supernas.spaces.architecture import parse_architecture
from supernas.spaces.spec import load_spec


def job_supernet(record: JobRecord, supernet: str | Path | None = None) -> Supernet:
    """The weights the job's metrics saw: the job spec's ``supernet`` directory, else ``supernet`` (a
    caller's choice, used only when the spec names none), else the supernet's random initialisation
    seeded with the job's seed."""
    weights = record.spec.get("supernet") or supernet
    if weights:
        return Supernet.load(weights)
    return Supernet(load_spec(record.spec["space"]), seed=record.spec.get("seed", 0))


def check_extractable(record: JobRecord, trial: TrialRecord) -> None:
    """A failed trial is refused: whatever made it fail is still there."""
    if trial.state == "failed":
        raise SpecError(
            f"trial {trial.number} of job {record.id} failed ({trial.error or 'no error recorded'}); "
            "choose another trial"
        )


def trial_subnet(
    store, job: int | str, trial_number: int, supernet: str | Path | None = None
) -> tuple[int, int, Transformer]:
    """(job id, trial id, the trial's extracted subnet) with the weights the job's metrics saw (see
    :func:`job_supernet`). ``job`` is an id or a name. A failed trial is refused."""
    record = store.get_job(job)
    trial = store.get_trial(record.id, trial_number)
    check_extractable(record, trial)
    net = job_supernet(record, supernet)
    arch = parse_architecture(net.spec, trial.arch_json, f"trial {trial.number} of job {record.id}")
    return record.id, trial.id, extract(net, arch)


def extract_trial(
    store, job: int | str, trial_number: int, out_dir: str | Path, supernet: str | Path | None = None
) -> Path:
    """Write the subnet checkpoint of a job's trial to ``out_dir`` and record it in the store."""
    job_id, trial_id, model = trial_subnet(store, job, trial_number, supernet)
    out = save_subnet(model, out_dir)
    store.record_checkpoint(job_id, trial_id, str(out.resolve()))
    return out


def trial_number(store, job: int | str, which: str) -> int:
    """A trial number as given, or ``best``: the front trial (complete, within every constraint) with the
    best value of the job's first objective, the lowest number among ties."""
    if which != "best":
        try:
            return int(which)
        except ValueError:
            raise SpecError(f"TRIAL '{which}' is not a trial number or 'best'") from None
    from supernas.search.jobspec import JobSpec, objective_directions

    record = store.get_job(job)
    metric, direction = objective_directions(JobSpec.model_validate(record.spec))[0]
    front = [t for t in store.front(record.id) if t.values and metric in t.values]
    if not front:
        raise SpecError(f"job {record.id} has no complete trial within its constraints yet: no 'best' trial")
    sign = -1 if direction == "maximize" else 1
    return min(front, key=lambda t: (sign * t.values[metric], t.number)).number


def distill_trial(
    store,
    job: int | str,
    trial_number: int,
    out_dir: str | Path,
    data: str | None = None,
    supernet: str | Path | None = None,
    **settings,
):
    """Distil a job's trial from the parent of the job's supernet into the checkpoint ``out_dir``
    (:func:`supernas.training.distill.distill_subnet`, ``settings`` its options); recorded like a
    checkpoint."""
    from supernas.training.distill import distill_subnet
    from supernas.training.examples import distillation_data

    record = store.get_job(job)
    trial = store.get_trial(record.id, trial_number)
    check_extractable(record, trial)
    net = job_supernet(record, supernet)
    arch = parse_architecture(net.spec, trial.arch_json, f"trial {trial.number} of job {record.id}")
    examples = distillation_data(net.spec, data)
    origin = {"job": record.id, "trial": trial.number}
    result = distill_subnet(net, arch, examples, output=out_dir, origin=origin, **settings)
    store.record_checkpoint(record.id, trial.id, str(Path(out_dir).resolve()))
    return result


def export_trial(
    store,
    job: int | str,
    trial_number: int,
    out_dir: str | Path,
    fmt: str,
    supernet: str | Path | None = None,
) -> ExportResult:
    """Export a job's trial in ``fmt`` (see :mod:`supernas.export.exporters`) to a new ``out_dir``;
    recorded like a checkpoint."""
    check_format(fmt)
    check_output_directory(Path(out_dir))  # before the supernet is built
    job_id, trial_id, model = trial_subnet(store, job, trial_number, supernet)
    result = export_subnet(model, out_dir, fmt)
    store.record_checkpoint(job_id, trial_id, str(result.directory.resolve()))
    return result
