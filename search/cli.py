"""The ``supernas`` command line.

The one module that may reach every part of supernas. Every import of a heavy part happens inside the
command that needs it, so ``supernas --help`` stays instant. User mistakes (``SupernasError``) print one
line and exit 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(
    help="Neural architecture search for efficient transformers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
space_app = typer.Typer(help="Inspect one search space.", no_args_is_help=True)
app.add_typer(space_app, name="space")

SpaceArg = Annotated[str, typer.Argument(help="built-in space name or a spec file (.yaml/.json)")]


def _console():
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 120)


def _read_arch(spec, value: str):
    """An architecture from a file path, inline JSON, or '-' for standard input."""
    from supernas.spaces import parse_architecture
    from supernas.spaces.errors import NotFoundError

    if value == "-":
        return parse_architecture(spec, sys.stdin.readline(), "architecture on standard input")
    if value.lstrip().startswith("{"):
        return parse_architecture(spec, value, "--arch")
    path = Path(value)
    if not path.is_file():
        raise NotFoundError(f"--arch {value}: no such file")
    return parse_architecture(spec, path.read_text(), str(path))


@app.command("spaces")
def spaces_command() -> None:
    """Table of built-in spaces: task, elastic dimensions, number of subnets, largest size."""
    from rich.table import Table

    from supernas.spaces import builtin_names, get_space, largest
    from supernas.spaces.analytic import count_params
    from supernas.spaces.architecture import log10_subnets
    from supernas.spaces.describe import elastic_dimensions

    table = Table("space", "task", "elastic dims", "log10(#subnets)", "max params")
    for name in builtin_names():
        spec = get_space(name)
        global_dims, layer_dims = elastic_dimensions(spec)
        table.add_row(
            name, spec.task, f"{len(global_dims)} global + {len(layer_dims)} per layer", f"{log10_subnets(spec):.1f}",
            f"{count_params(spec, largest(spec)) / 1e6:.2f}M",
        )
    _console().print(table)


@space_app.command("show")
def space_show(space: SpaceArg, as_json: Annotated[bool, typer.Option("--json", help="the full spec as JSON")] = False) -> None:
    """Every dimension of a space and its choices."""
    from supernas.spaces import get_space
    from supernas.spaces.describe import describe

    spec = get_space(space)
    if as_json:
        print(json.dumps(spec.model_dump(mode="json"), indent=2))
    else:
        _console().print(describe(spec))


@app.command("sample")
def sample_command(
    space: SpaceArg,
    n: Annotated[int, typer.Option("-n", min=1, help="how many architectures")] = 1,
    seed: Annotated[int, typer.Option(help="same seed, same architectures")] = 0,
) -> None:
    """Random architectures as JSON lines."""
    from supernas.spaces import get_space, sample_many

    for arch in sample_many(get_space(space), n, seed):
        print(arch.to_json())


@app.command("metrics")
def metrics_command() -> None:
    """Every registered metric: name, direction, unit, cost class, options."""
    from rich.table import Column, Table

    from supernas.predictors.base import get_metric, metric_names

    table = Table("direction", "unit", "cost", "tasks", "options", "description")
    table.columns.insert(0, Column("name", no_wrap=True))
    for name in metric_names():
        m = get_metric(name)
        tasks = "all" if len(m.tasks) == 3 else ", ".join(m.tasks)
        options = ", ".join(f"{k}={v}" for k, v in m.options.items())
        table.add_row(name, m.direction, m.unit, m.cost.value, tasks, options, m.description)
    _console().print(table)


def _parse_options(pairs: list[str]) -> dict[str, object]:
    """KEY=VALUE pairs, values parsed as YAML scalars (numbers stay numbers)."""
    import yaml

    from supernas.spaces.errors import SpecError

    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SpecError(f"--option {pair!r}: expected KEY=VALUE")
        options[key] = yaml.safe_load(value)
    return options


@app.command("score")
def score_command(
    space: SpaceArg,
    arch: Annotated[str, typer.Option(help="architecture: JSON file, inline JSON, or - for stdin")],
    metrics: Annotated[str, typer.Option(help="comma-separated metric names (see `supernas metrics`)")] = "params,flops,hidden_cov",
    option: Annotated[list[str], typer.Option("--option", help="metric option KEY=VALUE, given to every metric that takes it")] = [],
    seed: Annotated[int, typer.Option(help="seed of the supernet initialisation and calibration batch")] = 0,
    supernet: Annotated[Optional[Path], typer.Option(help="saved supernet directory (default: seeded random init)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON object")] = False,
) -> None:
    """Score one architecture with any metrics."""
    from supernas.predictors.base import MetricContext, get_metric
    from supernas.spaces import Supernet, get_space

    spec = get_space(space)
    chosen = _read_arch(spec, arch)
    options = _parse_options(option)
    context = MetricContext(spec, seed=seed, supernet_factory=(lambda: Supernet.load(supernet)) if supernet else None)
    values = {}
    for name in [m.strip() for m in metrics.split(",") if m.strip()]:
        metric = get_metric(name)
        metric = get_metric(name, **{k: v for k, v in options.items() if k in metric.options})
        metric.check_applicable(spec)
        values[name] = (metric.evaluate(chosen, context), metric.unit)
    if as_json:
        print(json.dumps({"arch_id": chosen.arch_id, **{k: v for k, (v, _) in values.items()}}))
        return
    print(f"arch {chosen.arch_id} ({spec.name})")
    for name, (value, unit) in values.items():
        print(f"  {name:<24} {value:.6g} {unit}")


@app.command("calibrate")
def calibrate_command(
    space: SpaceArg,
    device: Annotated[str, typer.Option(help="cpu or cuda")] = "cpu",
    n: Annotated[int, typer.Option("-n", min=4, help="subnets to measure")] = 200,
    holdout: Annotated[float, typer.Option(min=0.05, max=0.95, help="share of the subnets held out for scoring")] = 0.3,
    batch_size: Annotated[int, typer.Option(min=1)] = 1,
    seq_len: Annotated[int, typer.Option(min=1)] = 64,
    threads: Annotated[Optional[int], typer.Option(min=1, help="CPU threads (default: torch's)")] = None,
    clock: Annotated[str, typer.Option(help="wall, or cpu (thread CPU time; steadier on a busy machine, needs --threads 1)")] = "wall",
    repeats: Annotated[int, typer.Option(min=1, help="timed runs per subnet (median kept)")] = 10,
    rounds: Annotated[int, typer.Option(min=1, help="passes over all subnets, spread in time against drift")] = 2,
    backend: Annotated[str, typer.Option(help="torch; triton (fused int4/int8 kernels; on CPU an interpreter, for checks only); "
                                              "or onnxruntime (each subnet exported to ONNX and run in ONNX Runtime, device cpu)")] = "torch",
    graph_optimization: Annotated[str, typer.Option(help="ONNX Runtime graph optimization level for --backend onnxruntime: "
                                                         "disable, basic, extended or all")] = "all",
    seed: int = 0,
) -> None:
    """Measure N subnets, fit the lookup-table and learned latency predictors, print their accuracy, save them."""
    from supernas.predictors.latency import calibrate, format_report
    from supernas.spaces import get_space

    report = calibrate(get_space(space), n, device=device, batch_size=batch_size, seq_len=seq_len, seed=seed,
                       holdout=holdout, threads=threads, clock=clock, repeats=repeats, rounds=rounds, backend=backend,
                       graph_optimization=graph_optimization)
    print(format_report(report))


DbOption = Annotated[Optional[str], typer.Option("--db", help="SQLAlchemy URL (default: SUPERNAS_DB, else SQLite in SUPERNAS_HOME)")]
JobArg = Annotated[str, typer.Argument(help="job id or name")]


def _job_key(job: str) -> int | str:
    return int(job) if job.isdigit() else job


def _job_metrics(job) -> list[str]:
    """The job's objectives, then its constraint-only metrics."""
    spec = job.spec
    objectives = [o["metric"] for o in spec["objectives"]]
    return objectives + list(dict.fromkeys(c["metric"] for c in spec.get("constraints", []) if c["metric"] not in objectives))


def _front_table(store, job, limit: int | None = None):
    from rich.table import Column, Table

    from supernas.spaces import Architecture

    from supernas.search.verify import TOLERANCE

    metrics = _job_metrics(job)
    verified = {v.trial_number: v for v in store.verifications(job.id)}
    objectives = [o["metric"] for o in job.spec["objectives"]]
    extra = [Column("verified", no_wrap=True)] if verified else []  # one column, the objectives in order: the table stays narrow
    caption = (f"verified: {' / '.join(objectives)} re-measured on the trial's checkpoint ('=': equal to the searched value "
               f"within {TOLERANCE:g}; '-': not verified; see `supernas verify`)") if verified else None
    table = Table("trial", "arch_id", *metrics, *extra, "depth", "embed", title=f"Pareto front of job {job.id} ({job.name})",
                  caption=caption)
    front = sorted(store.front(job.id), key=lambda t: t.values[metrics[0]])
    for t in front[:limit]:
        arch = Architecture.from_json(t.arch_json)
        checked = [] if not verified else [
            "-" if t.number not in verified else " / ".join(_measured(verified[t.number], m) for m in objectives)
        ]
        table.add_row(str(t.number), t.arch_id, *(f"{t.values[m]:.5g}" for m in metrics), *checked, str(arch.depth), str(arch.embed_dim))
    return table


def _measured(verification, metric: str) -> str:
    """A verified value for a table cell: '=' when it equals the searched one (within the tolerance),
    '?' when the metric could not be re-measured."""
    from supernas.search.verify import TOLERANCE

    if metric not in verification.values:
        return "-"
    value = verification.values[metric]
    if value.measured is None:
        return "?"
    return "=" if value.error is not None and value.error <= TOLERANCE else f"{value.measured:.5g}"


def _verified_values(verification) -> dict[str, float | None] | None:
    return None if verification is None else {m: v.measured for m, v in verification.values.items()}


@app.command("run")
def run_command(
    job_file: Annotated[Path, typer.Argument(help="job spec (YAML or JSON)")],
    workers: Annotated[Optional[int], typer.Option(min=1, help="Ray workers (default: the spec's)")] = None,
    db: DbOption = None,
    ray_address: Annotated[Optional[str], typer.Option(help="join an existing Ray cluster ('auto' or host:port)")] = None,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
) -> None:
    """Run a search job to its budget; prints the job id."""
    from supernas.search.jobspec import load_job_spec
    from supernas.search.runner import create_job, spec_with_workers
    from supernas.search.store import open_store

    spec = spec_with_workers(load_job_spec(job_file), workers)
    store = open_store(db)
    job_id = create_job(store, spec)
    print(f"job {job_id} ({spec.name}): {spec.strategy.name} on {spec.space}, {spec.workers} workers, store {store.url_display}")
    _execute(store, job_id, spec, ray_address, progress)


@app.command("resume")
def resume_command(
    job: JobArg,
    workers: Annotated[Optional[int], typer.Option(min=1, help="Ray workers (default: the spec's)")] = None,
    db: DbOption = None,
    ray_address: Annotated[Optional[str], typer.Option(help="join an existing Ray cluster ('auto' or host:port)")] = None,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
) -> None:
    """Continue a stopped or crashed job: finished trials are kept, nothing is evaluated twice."""
    from supernas.search.runner import spec_with_workers, stored_spec
    from supernas.search.store import open_store

    store = open_store(db)
    record = store.get_job(_job_key(job))
    spec = spec_with_workers(stored_spec(store, record.id), workers)
    print(f"resuming job {record.id} ({record.name}) at {record.n_complete + record.n_infeasible + record.n_failed} evaluated trials")
    _execute(store, record.id, spec, ray_address, progress)


def _execute(store, job_id: int, spec, ray_address: str | None, progress: bool) -> None:
    from supernas.search.runner import execute

    try:
        execute(store, job_id, spec, spec.workers, ray_address, progress)
    except KeyboardInterrupt:
        print(f"stopped job {job_id}; finished trials are stored. Continue with: supernas resume {job_id}", file=sys.stderr)
        raise SystemExit(130) from None
    job = store.get_job(job_id)
    hv = "-" if job.hypervolume is None else f"{job.hypervolume:.6g}"
    _console().print(_front_table(store, job, limit=20))
    print(f"job {job_id} {job.status}: {job.n_complete} complete, {job.n_infeasible} infeasible, {job.n_failed} failed; hypervolume {hv}")


@app.command("jobs")
def jobs_command(db: DbOption = None) -> None:
    """Every job: id, name, space, status, trials done/budget, hypervolume."""
    from rich.table import Table

    from supernas.search.store import open_store

    table = Table("id", "name", "space", "status", "trials", "front", "hypervolume", "created")
    store = open_store(db)
    for job in store.list_jobs():
        done = job.n_complete + job.n_infeasible + job.n_failed
        hv = "-" if job.hypervolume is None else f"{job.hypervolume:.5g}"
        table.add_row(str(job.id), job.name, job.space, job.status, f"{done}/{job.budget_trials or '-'}",
                      str(store.count_trials(job.id, ["complete"]) and len(store.front(job.id))), hv, f"{job.created_at:%Y-%m-%d %H:%M}")
    _console().print(table)


@app.command("show")
def show_command(job: JobArg, db: DbOption = None) -> None:
    """A job's spec, progress and Pareto front."""
    import yaml

    from supernas.search.store import open_store

    store = open_store(db)
    record = store.get_job(_job_key(job))
    done = record.n_complete + record.n_infeasible + record.n_failed
    hv = "-" if record.hypervolume is None else f"{record.hypervolume:.6g}"
    print(f"job {record.id} ({record.name}) - {record.status}")
    print(f"trials: {done}/{record.budget_trials or '-'} evaluated ({record.n_complete} complete, {record.n_infeasible} infeasible, "
          f"{record.n_failed} failed, {record.n_running} running, {record.n_queued} queued); hypervolume {hv}")
    if record.error:
        print(f"error: {record.error}")
    print("spec:")
    print("  " + yaml.safe_dump(record.spec, sort_keys=False).replace("\n", "\n  ").rstrip())
    _console().print(_front_table(store, record))
    _print_verification_summary(store, record)


def _print_verification_summary(store, record) -> None:
    """One line per metric over the verified front trials (or a hint when none is verified)."""
    from supernas.search.verify import summarize, summary_line

    front = {t.number for t in store.front(record.id)}
    verified = [v for v in store.verifications(record.id) if v.trial_number in front]
    if not front:
        return
    if not verified:
        print(f"not verified: `supernas verify {record.id}` re-measures the front on extracted checkpoints")
        return
    print(f"verified on checkpoints: {len(verified)} of {len(front)} front trials (relative error |measured - searched| / |searched|)")
    for summary in summarize(verified, _job_metrics(record)):
        print(f"  {summary_line(summary)}")


@app.command("pareto")
def pareto_command(
    job: JobArg,
    fmt: Annotated[str, typer.Option("--format", help="csv, json or table")] = "table",
    db: DbOption = None,
) -> None:
    """A job's Pareto front with each point's metrics and architecture."""
    import csv

    from supernas.search.store import open_store
    from supernas.spaces.errors import SpecError

    if fmt not in ("csv", "json", "table"):
        raise SpecError(f"--format {fmt!r} is not supported (allowed: csv, json, table)")
    store = open_store(db)
    record = store.get_job(_job_key(job))
    front = store.front(record.id)
    if fmt == "table":
        _console().print(_front_table(store, record))
        return
    verified = {v.trial_number: v for v in store.verifications(record.id)}
    rows = [{"trial": t.number, "arch_id": t.arch_id, **t.values, "verified": _verified_values(verified.get(t.number)),
             "architecture": json.loads(t.arch_json)} for t in front]
    if fmt == "json":
        print(json.dumps(rows, indent=2))
        return
    metrics = sorted({k for t in front for k in t.values})
    checked = [f"{m} (verified)" for m in metrics]
    writer = csv.DictWriter(sys.stdout, fieldnames=["trial", "arch_id", *metrics, *checked, "architecture"])
    writer.writeheader()
    for row in rows:
        measured = row.pop("verified") or {}
        cells = {f"{m} (verified)": "" if measured.get(m) is None else measured[m] for m in metrics}
        writer.writerow({**row, **cells, "architecture": json.dumps(row["architecture"], separators=(",", ":"))})


@app.command("extract")
def extract_command(
    output: Annotated[Path, typer.Option("-o", "--output", help="checkpoint directory to write")],
    job: Annotated[Optional[str], typer.Argument(help="job id or name (then TRIAL is required)")] = None,
    trial: Annotated[Optional[int], typer.Argument(help="trial number within the job")] = None,
    db: DbOption = None,
    space: Annotated[Optional[str], typer.Option(help="space name or spec file")] = None,
    arch: Annotated[Optional[str], typer.Option(help="architecture: JSON file, inline JSON, or - for stdin")] = None,
    supernet: Annotated[Optional[Path], typer.Option(help="saved supernet directory (default: seeded random init)")] = None,
    seed: Annotated[int, typer.Option(help="seed of the random initialisation when no --supernet is given")] = 0,
) -> None:
    """Write a standalone subnet checkpoint (config.json + model.safetensors).

    Either JOB TRIAL (a trial of a stored job, with the job's supernet weights) or --space/--arch.
    """
    from supernas.spaces import Supernet, extract, get_space, parameter_count, save_subnet
    from supernas.spaces.errors import SpecError

    if job is not None:
        if trial is None:
            raise SpecError("extract JOB needs TRIAL (a trial number; see `supernas show JOB`)")
        from supernas.search.checkpoints import extract_trial
        from supernas.search.store import open_store
        from supernas.spaces.checkpoint import read_subnet_config

        _, chosen, config = read_subnet_config(extract_trial(open_store(db), _job_key(job), trial, output, supernet))
        print(f"wrote {output} (arch {chosen.arch_id}, {config['parameters']:,} parameters, weights: {config['weights']})")
        return
    if arch is None:
        raise SpecError("extract needs --arch (a JSON file, inline JSON or -)")
    if supernet is not None:
        net = Supernet.load(supernet)
        if space is not None and get_space(space).name != net.spec.name:
            raise SpecError(f"--space {space} does not match the supernet's space '{net.spec.name}'")
    elif space is None:
        raise SpecError("extract needs --space (or --supernet DIR)")
    else:
        net = Supernet(get_space(space), seed=seed)
    chosen = _read_arch(net.spec, arch)
    model = extract(net, chosen)
    save_subnet(model, output)
    print(f"wrote {output} (arch {chosen.arch_id}, {parameter_count(model):,} parameters, weights: {net.provenance})")


@app.command("verify")
def verify_command(
    job: JobArg,
    trials: Annotated[str, typer.Option(help="front (the Pareto front), all (every trial with values) or trial numbers such as 3,7")] = "front",
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="folder for the checkpoints, one trial-N inside per trial "
                                                                          "(default: SUPERNAS_HOME/checkpoints/job-J)")] = None,
    db: DbOption = None,
    supernet: Annotated[Optional[Path], typer.Option(help="saved supernet directory, for a job whose spec names none")] = None,
) -> None:
    """Extract the chosen trials, load each checkpoint back and re-measure every metric on it; store and
    print searched vs measured, and one summary line per metric. Exit 1 if a deterministic value differs."""
    from rich.table import Table

    from supernas.search.store import open_store
    from supernas.search.verify import TOLERANCE, constraint_lines, parse_trials, signed_error, summarize, summary_line, verify_job

    which = parse_trials(trials)
    store = open_store(db)
    record = store.get_job(_job_key(job))
    console = _console()

    def show(v) -> None:
        table = Table("metric", "searched", "measured", "error", "how", title=f"trial {v.trial_number}: {v.checkpoint}",
                      title_justify="left")
        for value in v.values.values():
            how = value.method if value.note is None else f"{value.method}: {value.note}"
            if value.spread is not None:
                how += f" (runs spread {100 * value.spread:.0f}%)"
            measured = "-" if value.measured is None else f"{value.measured:.6g}"
            searched = "-" if value.searched is None else f"{value.searched:.6g}"
            table.add_row(value.metric, searched, measured, signed_error(value), how)
        console.print(table)

    records = verify_job(store, record.id, which, output, supernet, on_trial=show)
    summaries = summarize(records, _job_metrics(record))
    print(f"summary over {len(records)} trial{'s' if len(records) != 1 else ''} of job {record.id} "
          "(relative error |measured - searched| / |searched|):")
    for summary in summaries:
        print(f"  {summary_line(summary)}")
    for line in constraint_lines(records, record.spec.get("constraints", [])):
        print(f"  {line}")
    broken = [s for s in summaries if s.mismatches]
    if broken:
        names = ", ".join(f"{s.metric} ({s.mismatches})" for s in broken)
        print(f"error: deterministic values differ from the searched ones by more than {TOLERANCE:g}: {names}", file=sys.stderr)
        raise SystemExit(1)


@app.command("export")
def export_command(
    output: Annotated[Path, typer.Option("-o", "--output", help="new (or empty) directory to write")],
    job: Annotated[Optional[str], typer.Argument(help="job id or name (then TRIAL is required)")] = None,
    trial: Annotated[Optional[int], typer.Argument(help="trial number within the job")] = None,
    fmt: Annotated[str, typer.Option("--format", help="onnx (ONNX Runtime and others) | hf (Hugging Face transformers) | supernas")] = "onnx",
    checkpoint: Annotated[Optional[Path], typer.Option(help="an extracted subnet checkpoint directory to export instead of JOB TRIAL")] = None,
    db: DbOption = None,
    supernet: Annotated[Optional[Path], typer.Option(help="saved supernet directory, for a job whose spec names none")] = None,
) -> None:
    """Export a subnet for deployment, then load it in that format's runtime and compare outputs.

    Either JOB TRIAL (a trial of a stored job) or --checkpoint DIR (from `supernas extract`).
    """
    from supernas.spaces.errors import SpecError
    from supernas.spaces.export import check_format, check_output_directory, export_checkpoint

    check_format(fmt)
    check_output_directory(output)
    if checkpoint is not None:
        if job is not None:
            raise SpecError("export takes JOB TRIAL or --checkpoint DIR, not both")
        result = export_checkpoint(checkpoint, output, fmt)
    elif job is None or trial is None:
        raise SpecError("export needs JOB TRIAL (see `supernas show JOB`) or --checkpoint DIR")
    else:
        from supernas.search.checkpoints import export_trial
        from supernas.search.store import open_store

        result = export_trial(open_store(db), _job_key(job), trial, output, fmt, supernet)
    files = ", ".join(sorted(f.name for f in result.directory.iterdir()))
    print(f"wrote {result.directory} ({fmt}: {files}; {result.bytes / 1e6:.2f} MB)")
    print(result.check)


@app.command("train")
def train_command(
    space: SpaceArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="supernet directory to write (checkpoints go there too)")],
    data: Annotated[Optional[str], typer.Option(help="byte-level LMs: a text file, read as bytes (default: the Python stdlib sources); "
                                                    "classifiers: digits, or a .jsonl/.csv (text, label) or .npz (images, labels) file")] = None,
    steps: Annotated[int, typer.Option(min=1, help="total optimizer steps (a resumed run continues to this total)")] = 2000,
    lr: Annotated[float, typer.Option(min=0.0, help="peak AdamW learning rate (warm-up, then cosine)")] = 3e-3,
    batch_size: Annotated[int, typer.Option(min=1)] = 16,
    seq_len: Annotated[int, typer.Option(min=1)] = 64,
    sandwich_k: Annotated[int, typer.Option(min=0, help="random subnets per step besides the largest and smallest")] = 2,
    distill: Annotated[bool, typer.Option(help="in-place distillation from the largest subnet (off: on short runs it trains worse, see README)")] = False,
    checkpoint_every: Annotated[int, typer.Option(min=1, help="steps between checkpoints")] = 200,
    resume: Annotated[bool, typer.Option(help="continue from the checkpoint in --output")] = False,
    seed: Annotated[int, typer.Option(help="initialisation, batches and sampled subnets")] = 0,
    threads: Annotated[int, typer.Option(min=1, help="CPU threads; tiny models train fastest on one, above all on a busy machine")] = 1,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
) -> None:
    """Train a supernet (sandwich rule, optional in-place distillation): a byte-level LM on text, a classifier
    on labeled data; prints held-out losses (and accuracies) at the end."""
    import torch

    from supernas.predictors.oneshot import heldout_accuracy, heldout_loss
    from supernas.spaces import Supernet, get_space, largest, smallest
    from supernas.spaces.data import heldout_batches
    from supernas.spaces.taskdata import TaskData, load_data
    from supernas.spaces.training import train_supernet

    torch.set_num_threads(threads)
    spec = get_space(space)
    text = load_data(data, spec)  # every mistake in the data is one line here, before anything is written
    net = Supernet(spec, seed=seed)
    train_supernet(net, text, steps, lr=lr, batch_size=batch_size, seq_len=seq_len, sandwich_k=sandwich_k, distill=distill,
                   checkpoint_dir=output, resume=resume, progress=progress, seed=seed, checkpoint_every=checkpoint_every)
    print(f"wrote {output} ({net.provenance})")
    if isinstance(text, TaskData):
        heldout = net.heldout_batches
        for name, arch in (("largest", largest(spec)), ("smallest", smallest(spec))):
            print(f"held-out accuracy, {name} subnet: {heldout_accuracy(net, arch, heldout):.4f} "
                  f"(loss {heldout_loss(net, arch, heldout):.4f} nats/example, {len(text.heldout):,} held-out examples)")
        return
    heldout = heldout_batches(text.heldout, seq_len, batch_size, n_batches=16)
    for name, arch in (("largest", largest(spec)), ("smallest", smallest(spec))):
        print(f"held-out loss, {name} subnet: {heldout_loss(net, arch, heldout):.4f} nats/byte")


TokenOption = Annotated[Optional[str], typer.Option(envvar="SUPERNAS_TOKEN", show_envvar=True,
                                                    help="bearer token for submit/cancel/resume/extract")]


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="address to listen on; beyond loopback only with a token")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    db: DbOption = None,
    token: TokenOption = None,
    workers: Annotated[Optional[int], typer.Option(min=1, help="Ray workers per job (default: each spec's)")] = None,
) -> None:
    """Web dashboard and REST API (OpenAPI at /docs); runs submitted jobs one at a time."""
    from supernas.dashboard import Settings, create_app
    from supernas.dashboard.app import listen, serve
    from supernas.dashboard.security import check_exposure

    check_exposure(host, token)
    listener = listen(host, port)
    app = create_app(Settings(db_url=db, token=token or None, workers=workers))
    shown = f"[{host}]" if ":" in host else host
    auth = "token required to change things" if token else "no token: loopback only"
    print(f"supernas dashboard on http://{shown}:{port} (store {app.state.store.url_display}; {auth})", flush=True)
    serve(app, listener)


@app.command("submit")
def submit_command(
    job_file: Annotated[Path, typer.Argument(help="job spec (YAML or JSON)")],
    server: Annotated[str, typer.Option(help="URL of a `supernas serve`")] = "http://127.0.0.1:8000",
    token: TokenOption = None,
) -> None:
    """Queue a job on a server; prints the job's id and page."""
    import urllib.error
    import urllib.request

    from supernas.spaces.errors import NotFoundError, SupernasError

    if not job_file.is_file():
        raise NotFoundError(f"{job_file}: no such file")
    headers = {"Content-Type": "application/json" if job_file.suffix == ".json" else "application/x-yaml"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    base = server.rstrip("/")
    request = urllib.request.Request(f"{base}/api/jobs", data=job_file.read_bytes(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            job = json.load(response)
    except urllib.error.HTTPError as e:
        detail = e.read().decode(errors="replace")
        try:
            detail = json.loads(detail)["detail"]
        except (ValueError, KeyError, TypeError):
            pass
        raise SupernasError(f"{server} refused the job ({e.code}): {detail}") from None
    except (urllib.error.URLError, OSError) as e:
        raise SupernasError(f"cannot reach {server}: {getattr(e, 'reason', e)}") from None
    print(f"job {job['id']} ({job['name']}) {job['status']}: {base}/jobs/{job['id']}")


@app.command("from-pretrained")
def from_pretrained_command(
    space: SpaceArg,
    weights: Annotated[Path, typer.Option(help="dense checkpoint (.safetensors or torch state_dict; supernas, GPT-2 or BERT names), or minilm: the MiniLM-L6 package's weights")],
    output: Annotated[Path, typer.Option("-o", "--output", help="supernet directory to write")],
    reorder: Annotated[bool, typer.Option(help="sort heads and FFN neurons by importance so first-k subnets keep the best")] = True,
    data: Annotated[Optional[str], typer.Option(help="data whose held-out split is kept with the supernet for one-shot metrics: a file "
                                                    "or built-in name (default for WordPiece encoders such as bert-mini: stdlib-prose)")] = None,
) -> None:
    """Build a supernet whose largest subnet is a pretrained model (e.g. MiniLM-L6 into bert-mini)."""
    from supernas.spaces import get_space
    from supernas.spaces.importance import from_pretrained
    from supernas.spaces.parent import save_parent
    from supernas.spaces.taskdata import load_data, pretrained_default_data

    spec = get_space(space)
    heldout = load_data(data, spec) if data is not None else pretrained_default_data(spec)  # one line and nothing written if bad
    if str(weights) == "minilm" and not weights.exists():
        from supernas.spaces.tokenizer import minilm_dir

        weights = minilm_dir() / "model.safetensors"
    net, report = from_pretrained(spec, weights, reorder=reorder)
    if heldout is not None:
        net.keep_heldout(heldout)
    net.save(output)
    save_parent(net, output)  # what fidelity is measured against, also after `supernas adapt`
    print(report.summary())
    for label, names in (("kept their values", report.missing), ("shape mismatches", report.shape_mismatch), ("unused", report.unexpected)):
        if names:
            print(f"  {label}: {', '.join(names[:8])}{' ...' if len(names) > 8 else ''}")
    if heldout is not None:
        print(f"held-out data kept with it: {heldout.source}")
    print(f"wrote {output} ({net.provenance})")


@app.command("adapt")
def adapt_command(
    supernet: Annotated[Path, typer.Argument(help="pretrained encoder supernet directory (see `supernas from-pretrained`)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="adapted supernet directory to write (checkpoints go there too)")],
    data: Annotated[Optional[str], typer.Option(help="text to adapt on: a file (one example per line, or JSONL/CSV with a text column) or stdlib-prose")] = None,
    steps: Annotated[int, typer.Option(min=1, help="total optimizer steps (a resumed run continues to this total)")] = 200,
    lr: Annotated[float, typer.Option(min=0.0, help="peak AdamW learning rate (warm-up, then cosine)")] = 1e-4,
    batch_size: Annotated[int, typer.Option(min=2, help="sentences per step")] = 32,
    sandwich_k: Annotated[int, typer.Option(min=0, help="random subnets per step besides the largest and smallest")] = 2,
    seed: Annotated[int, typer.Option(help="which batches and random subnets")] = 0,
    resume: Annotated[bool, typer.Option(help="continue a stopped run in --output")] = False,
    threads: Annotated[int, typer.Option(min=1, help="CPU threads")] = 1,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
) -> None:
    """Adapt a pretrained supernet so small subnets recover the parent's embeddings (sandwich distillation)."""
    import torch

    from supernas.spaces import Supernet
    from supernas.spaces.adapt import adapt_supernet, adaptation_texts

    torch.set_num_threads(threads)
    net = Supernet.load(supernet)
    texts = adaptation_texts(net.spec, data)
    result = adapt_supernet(net, texts, steps, output, lr=lr, batch_size=batch_size, sandwich_k=sandwich_k,
                            seed=seed, resume=resume, progress=progress)
    print(f"wrote {output} after {result.steps_done}/{steps} steps ({net.provenance})")


@app.command("proxies-report")
def proxies_report_command(
    space: SpaceArg,
    supernet: Annotated[Path, typer.Option(help="trained supernet directory (see `supernas train`)")],
    n: Annotated[int, typer.Option("-n", min=3, help="random subnets to score")] = 60,
    seed: Annotated[int, typer.Option(help="which subnets, the proxies' batch and the fine-tuning batches")] = 0,
    data: Annotated[Optional[Path], typer.Option(help="the text the supernet was trained on (default: the Python stdlib sources)")] = None,
    finetune_steps: Annotated[int, typer.Option(min=0, help="standalone fine-tuning steps per subnet before the second val_loss (0: one-shot only)")] = 30,
    finetune_lr: Annotated[float, typer.Option(min=0.0, help="peak AdamW learning rate of the fine-tuning")] = 1e-3,
    threads: Annotated[int, typer.Option(min=1, help="CPU threads")] = 1,
    progress: Annotated[bool, typer.Option(help="show a progress bar while fine-tuning")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON object")] = False,
) -> None:
    """Spearman and Kendall tau of every zero-cost proxy, #params (the baseline) and their cross-validated
    combination against one-shot val_loss and val_loss after short standalone fine-tuning."""
    import dataclasses

    import torch

    from supernas.predictors.correlation import Finetuning, format_agreement, rank_agreement, training_text
    from supernas.spaces import Supernet, get_space
    from supernas.spaces.errors import SpecError

    torch.set_num_threads(threads)
    net = Supernet.load(supernet)
    if get_space(space).name != net.spec.name:
        raise SpecError(f"space {space} does not match the supernet's space '{net.spec.name}'")
    tuning = Finetuning(finetune_steps, finetune_lr) if finetune_steps else None
    rows, _ = rank_agreement(net, n, seed, text=training_text(net, data), finetuning=tuning, progress=progress)
    if as_json:
        print(json.dumps({"space": net.spec.name, "n": n, "seed": seed, "weights": net.provenance,
                          "finetuning": dataclasses.asdict(tuning) if tuning else None,
                          "rows": [dataclasses.asdict(r) for r in rows]}))
    else:
        print(f"{net.spec.name}: {net.provenance}")
        print(format_agreement(rows, n, tuning))


def main() -> None:
    from supernas.spaces.errors import SupernasError

    try:
        app()
    except SupernasError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None
