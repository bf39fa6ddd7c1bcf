"""The job commands: ``run``, ``resume``, ``jobs``, ``show`` and ``pareto``, and the front table they
print."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from supernas.core.commandline import console

commands = typer.Typer()

DbOption = Annotated[
    Optional[str],
    typer.Option("--db", help="SQLAlchemy URL (default: SUPERNAS_DB, else SQLite in SUPERNAS_HOME)"),
]
JobArg = Annotated[str, typer.Argument(help="job id or name")]


def job_key(job: str) -> int | str:
    return int(job) if job.isdigit() else job


def find_job(store, job: str):
    """The job ``job`` names (an id, or a name: the newest job of that name, with a note on stderr
    when older jobs share it)."""
    key = job_key(job)
    record = store.get_job(key)
    if isinstance(key, str):
        older = [j.id for j in store.list_jobs() if j.name == key and j.id != record.id]
        if older:
            print(
                f"note: {len(older) + 1} jobs are named '{key}'; using the newest, job {record.id} "
                f"(the others: {', '.join(map(str, older))}; pass an id to choose)",
                file=sys.stderr,
            )
    return record


def directions(job) -> dict[str, str]:
    """Each objective's direction, the metric's own where the spec leaves it out."""
    from supernas.predictors.catalogue import get_metric

    return {
        o["metric"]: o.get("direction") or get_metric(o["metric"], **o.get("options", {})).direction
        for o in job.spec["objectives"]
    }


def _heading(metric: str, directions: dict[str, str]) -> str:
    """A metric's column heading: an arrow says which way is better (constraint-only metrics have none)."""
    arrow = {"minimize": " ↓", "maximize": " ↑"}.get(directions.get(metric, ""), "")
    return metric + arrow


def front_in_table_order(store, job) -> list:
    """The job's front sorted by its first objective: the order of the table, the CSV and the JSON."""
    first = job_metrics(job)[0]
    return sorted(store.front(job.id), key=lambda t: (t.values[first], t.number))


def job_metrics(job) -> list[str]:
    """The job's objectives, then its constraint-only metrics."""
    spec = job.spec
    objectives = [o["metric"] for o in spec["objectives"]]
    return objectives + list(
        dict.fromkeys(c["metric"] for c in spec.get("constraints", []) if c["metric"] not in objectives)
    )


def _front_table(store, job, limit: int | None = None):
    from rich.table import Column, Table

    from supernas.search.verify import TOLERANCE
    from supernas.spaces.architecture import Architecture

    metrics = job_metrics(job)
    verified = {v.trial_number: v for v in store.verifications(job.id)}
    objectives = [o["metric"] for o in job.spec["objectives"]]
    extra = (
        [Column("verified", no_wrap=True)] if verified else []
    )  # one column, the objectives in order: the table stays narrow
    caption = (
        (
            f"verified: {' / '.join(objectives)} re-measured on the trial's checkpoint "
            f"('=': equal to the searched value within {TOLERANCE:g}; "
            "'-': not verified; see `supernas verify`)"
        )
        if verified
        else None
    )
    better = directions(job)
    table = Table(
        "trial",
        "arch_id",
        *(_heading(m, better) for m in metrics),
        *extra,
        "depth",
        "embed",
        title=f"Pareto front of job {job.id} ({job.name}); ↓ lower is better, ↑ higher",
        caption=caption,
    )
    front = front_in_table_order(store, job)
    for t in front[:limit]:
        arch = Architecture.from_json(t.arch_json)
        checked = (
            []
            if not verified
            else [
                "-"
                if t.number not in verified
                else " / ".join(_measured(verified[t.number], m) for m in objectives)
            ]
        )
        table.add_row(
            str(t.number),
            t.arch_id,
            *(f"{t.values[m]:.5g}" for m in metrics),
            *checked,
            str(arch.depth),
            str(arch.embed_dim),
        )
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


@commands.command("run")
def run_command(
    job_file: Annotated[Path, typer.Argument(help="job spec (YAML or JSON)")],
    workers: Annotated[Optional[int], typer.Option(min=1, help="Ray workers (default: the spec's)")] = None,
    db: DbOption = None,
    ray_address: Annotated[
        Optional[str], typer.Option(help="join an existing Ray cluster ('auto' or host:port)")
    ] = None,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
) -> None:
    """Run a search job to its budget; prints the job id."""
    from supernas.search.jobspec import load_job_spec
    from supernas.search.runner import create_job, spec_with_workers
    from supernas.search.store.store import open_store

    spec = spec_with_workers(load_job_spec(job_file), workers)
    store = open_store(db)
    job_id = create_job(store, spec)
    print(
        f"job {job_id} ({spec.name}): {spec.strategy.name} on {spec.space}, {spec.workers} workers, "
        f"store {store.url_display}"
    )
    _execute(store, job_id, spec, ray_address, progress)


@commands.command("resume")
def resume_command(
    job: JobArg,
    workers: Annotated[Optional[int], typer.Option(min=1, help="Ray workers (default: the spec's)")] = None,
    db: DbOption = None,
    ray_address: Annotated[
        Optional[str], typer.Option(help="join an existing Ray cluster ('auto' or host:port)")
    ] = None,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
) -> None:
    """Continue a stopped or crashed job: finished trials are kept, nothing is evaluated twice."""
    from supernas.search.runner import spec_with_workers, stored_spec
    from supernas.search.store.store import open_store

    store = open_store(db)
    record = find_job(store, job)
    spec = spec_with_workers(stored_spec(store, record.id), workers)
    done = record.n_complete + record.n_infeasible + record.n_failed
    if (
        spec.budget.trials is not None and done >= spec.budget.trials
    ):  # nothing left: no Ray start for nothing
        print(
            f"job {record.id} ({record.name}) has evaluated its budget of {spec.budget.trials} trials; "
            f"nothing to resume (`supernas show {record.id}` shows its front)"
        )
        return
    print(f"resuming job {record.id} ({record.name}) at {done} evaluated trials")
    _execute(store, record.id, spec, ray_address, progress)


def _execute(store, job_id: int, spec, ray_address: str | None, progress: bool) -> None:
    from supernas.search.runner import execute
    from supernas.workers.cluster import disconnect

    try:
        execute(store, job_id, spec, spec.workers, ray_address, progress)
    except KeyboardInterrupt:
        print(
            f"stopped job {job_id}; finished trials are stored. Continue with: supernas resume {job_id}",
            file=sys.stderr,
        )
        raise SystemExit(130) from None
    job = store.get_job(job_id)
    hv = "-" if job.hypervolume is None else f"{job.hypervolume:.6g}"
    console().print(_front_table(store, job, limit=20))
    print(
        f"job {job_id} {job.status}: {job.n_complete} complete, {job.n_infeasible} infeasible, "
        f"{job.n_failed} failed; hypervolume {hv}",
        flush=True,
    )
    print("stopping Ray...", file=sys.stderr, flush=True)
    disconnect()


@commands.command("jobs")
def jobs_command(
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON list, one object per job")] = False,
) -> None:
    """Every job: id, name, space, status, trials done/budget, hypervolume."""
    from rich.table import Table

    from supernas.search.store.store import open_store

    table = Table("id", "name", "space", "status", "trials", "front", "hypervolume", "created")
    store = open_store(db)
    rows = []
    for job in store.list_jobs():
        done = job.n_complete + job.n_infeasible + job.n_failed
        front = store.count_trials(job.id, ["complete"]) and len(store.front(job.id))
        rows.append(
            {
                "id": job.id,
                "name": job.name,
                "space": job.space,
                "status": job.status,
                "evaluated": done,
                "budget_trials": job.budget_trials,
                "front": front,
                "hypervolume": job.hypervolume,
                "created_at": job.created_at.isoformat(),
            }
        )
        hv = "-" if job.hypervolume is None else f"{job.hypervolume:.5g}"
        table.add_row(
            str(job.id),
            job.name,
            job.space,
            job.status,
            f"{done}/{job.budget_trials or '-'}",
            str(front),
            hv,
            f"{job.created_at:%Y-%m-%d %H:%M}",
        )
    if as_json:
        print(json.dumps(rows, indent=2))
    else:
        console().print(table)


@commands.command("show")
def show_command(job: JobArg, db: DbOption = None) -> None:
    """A job's spec, progress and Pareto front."""
    import yaml

    from supernas.search.store.store import open_store

    store = open_store(db)
    record = find_job(store, job)
    done = record.n_complete + record.n_infeasible + record.n_failed
    hv = "-" if record.hypervolume is None else f"{record.hypervolume:.6g}"
    better = directions(record)
    shown = {
        **record.spec,
        "objectives": [{**o, "direction": better[o["metric"]]} for o in record.spec["objectives"]],
    }
    print(f"job {record.id} ({record.name}) - {record.status}")
    print(
        f"trials: {done}/{record.budget_trials or '-'} evaluated ({record.n_complete} complete, "
        f"{record.n_infeasible} infeasible, {record.n_failed} failed, {record.n_running} running, "
        f"{record.n_queued} queued); hypervolume {hv}"
    )
    if record.error:
        print(f"error: {record.error}")
    print("spec:")
    print("  " + yaml.safe_dump(shown, sort_keys=False, allow_unicode=True).replace("\n", "\n  ").rstrip())
    console().print(_front_table(store, record))
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
    print(
        f"verified on checkpoints: {len(verified)} of {len(front)} front trials "
        "(relative error |measured - searched| / |searched|)"
    )
    for summary in summarize(verified, job_metrics(record)):
        print(f"  {summary_line(summary)}")


@commands.command("pareto")
def pareto_command(
    job: JobArg,
    fmt: Annotated[str, typer.Option("--format", help="csv, json or table")] = "table",
    as_json: Annotated[bool, typer.Option("--json", help="the same as --format json")] = False,
    db: DbOption = None,
) -> None:
    """A job's Pareto front with each point's metrics and architecture, sorted by the first objective."""
    import csv

    from supernas.core.errors import SpecError
    from supernas.search.store.store import open_store

    if fmt not in ("csv", "json", "table"):
        raise SpecError(f"--format {fmt!r} is not supported (allowed: csv, json, table)")
    fmt = "json" if as_json else fmt
    store = open_store(db)
    record = find_job(store, job)
    front = front_in_table_order(store, record)
    if fmt == "table":
        console().print(_front_table(store, record))
        return
    verified = {v.trial_number: v for v in store.verifications(record.id)}
    rows = [
        {
            "trial": t.number,
            "arch_id": t.arch_id,
            **t.values,
            "verified": _verified_values(verified.get(t.number)),
            "architecture": json.loads(t.arch_json),
        }
        for t in front
    ]
    if fmt == "json":
        print(json.dumps(rows, indent=2))
        return
    metrics = list(dict.fromkeys([*job_metrics(record), *sorted({k for t in front for k in t.values})]))
    checked = [f"{m} (verified)" for m in metrics]
    writer = csv.DictWriter(sys.stdout, fieldnames=["trial", "arch_id", *metrics, *checked, "architecture"])
    writer.writeheader()
    for row in rows:
        measured = row.pop("verified") or {}
        cells = {f"{m} (verified)": "" if measured.get(m) is None else measured[m] for m in metrics}
        writer.writerow(
            {**row, **cells, "architecture": json.dumps(row["architecture"], separators=(",", ":"))}
        )
