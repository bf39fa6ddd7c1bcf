"""Verification: a job's promises checked on the checkpoints a user would load.

For each chosen trial, :func:`verify_job` extracts the subnet from the job's supernet, writes the
checkpoint, loads it back with ``load_subnet`` and re-measures on it every metric the job evaluated
(objectives and constraints; how each metric is re-measured: :mod:`supernas.predictors.verification`).
The measured values are stored beside the searched ones (``supernas_verifications``), never over
them; verifying a trial again appends a new verification, and readers show the newest.

The workers evaluate with one torch thread (``workers/evaluator.py``), so a latency metric without a
``threads`` option ran on one thread; verification runs with the same setting, on the calibration
batch, seed and task data of the job spec, with what the job's supernet keeps beside its weights
(held-out text or data, its parent).
"""

from __future__ import annotations

import math
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from supernas.core.errors import SpecError, SupernasError, allowed
from supernas.core.paths import supernas_home
from supernas.models.checkpoint import CONFIG, WEIGHTS, extract, read_subnet_config, save_subnet
from supernas.search.runner import stored_spec
from supernas.search.store.records import JobRecord, TrialRecord, VerificationRecord, VerifiedValue
from supernas.search.store.store import Store
from supernas.search.trial_subnets import check_extractable, job_supernet
from supernas.spaces.architecture import parse_architecture

WORKER_THREADS = 1  # the Evaluator's torch threads (workers/evaluator.py)
TOLERANCE = 1e-5  # relative: a deterministic metric re-measured on the checkpoint equals the searched value
TRIALS_HELP = "front (the Pareto front), all (every trial with values) or trial numbers such as 3,7,12"


def noise_band(value: VerifiedValue) -> float | None:
    """The relative error within which a re-measured value agrees with the searched one: TOLERANCE for
    a deterministic metric, the spread of its timing runs ((p90 - p10) / median) for a timed one; None
    for a timed value stored without a spread."""
    return TOLERANCE if value.deterministic else value.spread


def within_noise(value: VerifiedValue) -> bool | None:
    """Whether the re-measured value agrees with the searched one within :func:`noise_band` (None when
    either is missing)."""
    band = noise_band(value)
    return None if value.error is None or band is None else value.error <= band


def parse_trials(value: str) -> str | list[int]:
    """``front``, ``all`` or a list of trial numbers from a ``--trials`` value; a clear error otherwise."""
    value = value.strip()
    if value in ("front", "all"):
        return value
    parts = [p.strip() for p in value.split(",")]
    if not value or not all(p.isdigit() for p in parts):
        raise SpecError(f"--trials {value!r}: expected {TRIALS_HELP}")
    return list(dict.fromkeys(int(p) for p in parts))


def choose_trials(store: Store, record: JobRecord, which: str | Sequence[int]) -> list[TrialRecord]:
    """The trials ``which`` names, each with stored values; a failed or unfinished named trial is an error."""
    if which == "front":
        trials = store.front(record.id)
        if not trials:
            raise SpecError(f"job {record.id} has no trials on its Pareto front yet (no complete trial)")
        return trials
    if which == "all":
        trials = store.trials(record.id, states=["complete", "infeasible"])
        if not trials:
            raise SpecError(f"job {record.id} has no complete or infeasible trials yet")
        return trials
    chosen = []
    for number in which:
        trial = store.get_trial(record.id, int(number))
        check_extractable(record, trial)
        if trial.values is None:
            raise SpecError(
                f"trial {trial.number} of job {record.id} is {trial.state}: it has no values to verify yet"
            )
        chosen.append(trial)
    return sorted(chosen, key=lambda t: t.number)


def default_checkpoint_root(job_id: int) -> Path:
    """Where checkpoints go without ``-o``: the same folder the dashboard's Extract uses."""
    return supernas_home() / "checkpoints" / f"job-{job_id}"


def check_checkpoint_directory(directory: Path, arch_id: str) -> None:
    """A directory of ``-o`` must be new, empty, or this trial's checkpoint from an earlier verification."""
    if not directory.exists() or (directory.is_dir() and not any(directory.iterdir())):
        return
    if directory.is_dir() and (directory / CONFIG).is_file():
        try:
            _, arch, _ = read_subnet_config(directory)
        except SupernasError:
            arch = None
        if arch is not None and arch.arch_id == arch_id:
            return
    raise SpecError(
        f"{directory} exists and is not a checkpoint of arch {arch_id}: choose another -o directory"
    )


def machine() -> dict:
    """Where the verification measured: host, hardware, threads, torch version."""
    from supernas.predictors.latency.workload import device_fingerprint

    return {"host": socket.gethostname(), **device_fingerprint("cpu", WORKER_THREADS)}


def verify_job(
    store: Store,
    job: int | str,
    which: str | Sequence[int] = "front",
    out_dir: str | Path | None = None,
    supernet: str | Path | None = None,
    on_trial: Callable[[VerificationRecord], None] | None = None,
    replace: bool = False,
    runtime: str = "torch",
    checkpoint: str | Path | None = None,
    options: dict[str, object] | None = None,
) -> list[VerificationRecord]:
    """Verify the chosen trials of a job (``front``, ``all`` or trial numbers); returns the stored
    verifications in trial order. Checkpoints go to ``out_dir/trial-N`` (default: under
    ``SUPERNAS_HOME/checkpoints/job-J``); a caller's ``out_dir`` must not hold anything else there unless
    ``replace`` (supernas's own folders, as the default one). ``supernet`` is used only for a job whose
    spec names none. ``runtime`` ``onnxruntime`` also exports each checkpoint to ``model.onnx`` and
    measures quality and latency on that file in ONNX Runtime
    (:class:`~supernas.predictors.verification.CheckpointMeasurer`). ``checkpoint``, a checkpoint
    ``supernas distill`` wrote from one of the job's trials, is measured instead of that trial's extracted
    subnet and stored as a distilled verification of it. ``options`` replace the job's options of every
    metric that takes them (``skip=500``: fidelity on held-out sentences the search never scored); a value
    so re-measured is not the searched measurement, so it is reported, not held to the searched one."""
    from supernas.data.inputs import random_batch
    from supernas.predictors.latency.timing import fixed_threads
    from supernas.predictors.verification import CheckpointMeasurer, check_runtime

    check_runtime(runtime)
    record = store.get_job(job)
    spec = stored_spec(store, record.id)
    distilled = None if checkpoint is None else distilled_trial(checkpoint, record.id)
    trials = choose_trials(store, record, which if distilled is None else [distilled])
    root = Path(out_dir) if out_dir is not None else default_checkpoint_root(record.id)
    if (
        out_dir is not None and not replace and distilled is None
    ):  # the default folder is supernas's own: an earlier copy is replaced
        for trial in trials:
            check_checkpoint_directory(root / f"trial-{trial.number}", trial.arch_id)
    uses = spec.metric_uses()
    changes = option_changes(uses, options or {}, record.name)
    where = machine()
    done = []
    with fixed_threads(WORKER_THREADS):
        net = job_supernet(record, supernet).eval()
        batch = random_batch(net.spec, spec.batch.batch_size, spec.batch.seq_len, spec.seed)
        for trial in trials:
            arch = parse_architecture(net.spec, trial.arch_json, f"trial {trial.number} of job {record.id}")
            if distilled is None:
                directory = save_subnet(extract(net, arch), root / f"trial-{trial.number}")
                store.record_checkpoint(record.id, trial.id, str(directory.resolve()))
            else:
                directory = Path(checkpoint)
            measurer = CheckpointMeasurer(
                directory, batch=batch, seed=spec.seed, beside=net, data=spec.data, runtime=runtime
            )
            values = []
            for name, searched_options in uses.items():
                changed = changes[name]
                r = measurer.measure(name, {**searched_options, **changed})
                searched = (trial.values or {}).get(name)
                deterministic, note = r.deterministic, r.note
                if changed:
                    deterministic = False
                    note = "; ".join(
                        filter(None, [note, "with " + ", ".join(f"{k}={v}" for k, v in changed.items())])
                    )
                values.append(VerifiedValue(name, searched, r.value, r.method, deterministic, r.spread, note))
            stored = store.record_verification(
                record.id,
                trial.id,
                str(directory.resolve()),
                (directory / WEIGHTS).stat().st_size,
                where,
                values,
                weights="extracted" if distilled is None else "distilled",
            )
            done.append(stored)
            if on_trial is not None:
                on_trial(stored)
    return done


def option_changes(
    uses: dict[str, dict], options: dict[str, object], job: str
) -> dict[str, dict[str, object]]:
    """Per metric of the job, the ``options`` it takes whose value differs from the job's; an option no
    metric takes is an error."""
    from supernas.predictors.catalogue import get_metric

    takes = {name: get_metric(name).options for name in uses}
    for key in options:
        if not any(key in known for known in takes.values()):
            offered = sorted({k for known in takes.values() for k in known})
            raise SpecError(f"--option {key}: no metric of job '{job}' takes it ({allowed(offered)})")
    return {
        name: {
            k: v for k, v in options.items() if k in takes[name] and v != {**takes[name], **searched}.get(k)
        }
        for name, searched in uses.items()
    }


def distilled_trial(checkpoint: str | Path, job_id: int) -> int:
    """The trial number a distilled checkpoint of job ``job_id`` was distilled from."""
    _, _, config = read_subnet_config(checkpoint)
    origin = config.get("distilled") or {}
    if origin.get("job") != job_id:
        raise SpecError(
            f"--checkpoint {checkpoint}: not distilled from a trial of job {job_id} "
            "(see `supernas distill JOB TRIAL`)"
        )
    return int(origin["trial"])


# ---------------------------------------------------------------------------------------------- summaries


@dataclass(frozen=True)
class MetricSummary:
    """One metric over several verified trials: mean and worst relative error, and what was not
    re-measured."""

    metric: str
    deterministic: bool
    verified: int  # trials with a re-measured value
    skipped: int  # trials where it could not be re-measured
    mean_error: float | None
    worst_error: float | None
    worst_trial: int | None
    mismatches: int  # deterministic values off by more than TOLERANCE
    spread: float | None  # timed metrics: the median spread of the runs
    note: str | None  # why it was not re-measured (the first reason)
    within_noise: int = 0  # re-measured values within their noise band (:func:`within_noise`)
    within_10: int = 0  # re-measured values within ±10 % of the searched one


def summarize(
    records: Sequence[VerificationRecord], metrics: Sequence[str] | None = None
) -> list[MetricSummary]:
    """Per metric (``metrics`` order, else first-seen order), over the newest verification of each trial."""
    names = (
        list(metrics) if metrics is not None else list(dict.fromkeys(m for r in records for m in r.values))
    )
    out = []
    for name in names:
        pairs = [(r.trial_number, r.values[name]) for r in records if name in r.values]
        measured = [(n, v) for n, v in pairs if v.error is not None]
        errors = [v.error for _, v in measured]
        worst = max(measured, key=lambda nv: nv[1].error, default=None)
        spreads = sorted(v.spread for _, v in measured if v.spread is not None)
        deterministic = any(v.deterministic for _, v in pairs)
        out.append(
            MetricSummary(
                metric=name,
                deterministic=deterministic,
                verified=len(measured),
                skipped=len(pairs) - len(measured),
                mean_error=sum(errors) / len(errors) if errors else None,
                worst_error=None if worst is None else worst[1].error,
                worst_trial=None if worst is None else worst[0],
                mismatches=sum(1 for _, v in measured if v.deterministic and not v.error <= TOLERANCE),
                spread=spreads[len(spreads) // 2] if spreads else None,
                note=next((v.note for _, v in pairs if v.note), None),
                within_noise=sum(1 for _, v in measured if within_noise(v)),
                within_10=sum(1 for _, v in measured if v.error <= 0.10),
            )
        )
    return out


def format_error(error: float | None, signed: float | None = None) -> str:
    """A relative error for people: 0, 3.1e-08, or 4.2% (signed when ``signed`` gives the direction)."""
    if error is None:
        return "-"
    if not math.isfinite(error):
        return "inf"
    sign = "" if signed is None or error == 0 else ("+" if signed >= 0 else "-")
    if error == 0:
        return "0"
    if error < 1e-3:
        return f"{sign}{error:.1e}"
    return f"{sign}{100 * error:.1f}%"


def signed_error(value: VerifiedValue) -> str:
    """``value``'s relative error with its sign (measured above or below searched)."""
    if value.error is None:
        return "-"
    return format_error(value.error, value.measured - value.searched)


def summary_line(s: MetricSummary) -> str:
    """One line per metric: mean and worst relative error, and what that means for this kind of metric."""
    if s.verified == 0:
        return f"{s.metric}: not re-measured ({s.note})" if s.note else f"{s.metric}: not re-measured"
    line = (
        f"{s.metric}: mean error {format_error(s.mean_error)}, worst {format_error(s.worst_error)} "
        f"(trial {s.worst_trial}) over {s.verified} trial{'s' if s.verified != 1 else ''}"
    )
    if s.deterministic:
        line += f"; {'all equal' if not s.mismatches else f'{s.mismatches} DIFFER'} within {TOLERANCE:g}"
    elif s.spread is not None:
        line += (
            f"; timing runs spread {100 * s.spread:.0f}% (p10-p90 / median): {s.within_noise} of "
            f"{s.verified} within their noise, {s.within_10} within ±10%"
        )
    if s.skipped:
        line += f"; not re-measured on {s.skipped} ({s.note})"
    return line


def constraint_lines(records: Sequence[VerificationRecord], constraints: Sequence[dict]) -> list[str]:
    """Per constraint of the job: of the verified trials that satisfied it when searched, how many still
    do with the measured value (a predicted latency can keep a constraint the measured one breaks)."""

    def within(c: dict, value: float) -> bool:
        return not (
            (c.get("max") is not None and value > c["max"]) or (c.get("min") is not None and value < c["min"])
        )

    lines = []
    for c in constraints:
        bounds = " and ".join(f"{key} {c[key]:g}" for key in ("min", "max") if c.get(key) is not None)
        promised = [
            (r.trial_number, v.measured)
            for r in records
            if (v := r.values.get(c["metric"])) is not None
            and v.measured is not None
            and v.searched is not None
            and within(c, v.searched)
        ]
        broken = [n for n, measured in promised if not within(c, measured)]
        line = (
            f"constraint {c['metric']} {bounds}: kept as measured by {len(promised) - len(broken)} "
            f"of the {len(promised)} trials that kept it when searched"
        )
        lines.append(
            line
            + (
                f" (broken by trial{'s' if len(broken) > 1 else ''} {', '.join(map(str, broken))})"
                if broken
                else ""
            )
        )
    return lines
