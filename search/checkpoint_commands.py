"""The checkpoint commands: ``extract``, ``verify`` and ``export`` (a stored trial, or an architecture)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from supernas.core.commandline import console, parse_metric_options
from supernas.search.commands import DbOption, JobArg, find_job, job_key, job_metrics
from supernas.spaces.architecture import read_arch
from supernas.training.commands import DistillDataOption

commands = typer.Typer()


@commands.command("extract")
def extract_command(
    output: Annotated[Path, typer.Option("-o", "--output", help="checkpoint directory to write")],
    job: Annotated[Optional[str], typer.Argument(help="job id or name (then TRIAL is required)")] = None,
    trial: Annotated[Optional[int], typer.Argument(help="trial number within the job")] = None,
    db: DbOption = None,
    space: Annotated[Optional[str], typer.Option(help="space name or spec file")] = None,
    arch: Annotated[
        Optional[str], typer.Option(help="architecture: JSON file, inline JSON, or - for stdin")
    ] = None,
    supernet: Annotated[
        Optional[Path], typer.Option(help="saved supernet directory (default: seeded random init)")
    ] = None,
    seed: Annotated[
        int, typer.Option(help="seed of the random initialisation when no --supernet is given")
    ] = 0,
) -> None:
    """Write a standalone subnet checkpoint (config.json + model.safetensors).

    Either JOB TRIAL (a trial of a stored job, with the job's supernet weights) or --space/--arch.
    """
    from supernas.core.errors import SpecError
    from supernas.models.checkpoint import extract, save_subnet
    from supernas.models.dense import parameter_count
    from supernas.models.supernet import Supernet
    from supernas.spaces.spec import load_spec

    if job is not None:
        if trial is None:
            raise SpecError("extract JOB needs TRIAL (a trial number; see `supernas show JOB`)")
        from supernas.models.checkpoint import read_subnet_config
        from supernas.search.store.store import open_store
        from supernas.search.trial_subnets import extract_trial

        _, chosen, config = read_subnet_config(
            extract_trial(open_store(db), job_key(job), trial, output, supernet)
        )
        print(
            f"wrote {output} (arch {chosen.arch_id}, {config['parameters']:,} parameters, "
            f"weights: {config['weights']})"
        )
        return
    if arch is None:
        raise SpecError("extract needs --arch (a JSON file, inline JSON or -)")
    if supernet is not None:
        net = Supernet.load(supernet)
        if space is not None and load_spec(space).name != net.spec.name:
            raise SpecError(f"--space {space} does not match the supernet's space '{net.spec.name}'")
    elif space is None:
        raise SpecError("extract needs --space (or --supernet DIR)")
    else:
        net = Supernet(load_spec(space), seed=seed)
    chosen = read_arch(net.spec, arch)
    model = extract(net, chosen)
    save_subnet(model, output)
    print(
        f"wrote {output} (arch {chosen.arch_id}, {parameter_count(model):,} parameters, "
        f"weights: {net.provenance})"
    )


@commands.command("distill")
def distill_command(
    job: JobArg,
    trial: Annotated[
        str,
        typer.Argument(
            help="trial number within the job, or best (the front trial best at the job's first objective)"
        ),
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="checkpoint directory to write")],
    steps: Annotated[
        int, typer.Option(min=1, help="total optimizer steps (a resumed run continues to this total)")
    ] = 300,
    data: DistillDataOption = None,
    lr: Annotated[
        float, typer.Option(min=0.0, help="peak AdamW learning rate (warm-up, then cosine)")
    ] = 1e-4,
    batch_size: Annotated[int, typer.Option(min=2, help="examples per step")] = 16,
    seed: Annotated[int, typer.Option(help="which batches")] = 0,
    resume: Annotated[bool, typer.Option(help="continue a stopped run in --output")] = False,
    threads: Annotated[int, typer.Option(min=1, help="CPU threads")] = 1,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
    db: DbOption = None,
    supernet: Annotated[
        Optional[Path], typer.Option(help="saved supernet directory, for a job whose spec names none")
    ] = None,
) -> None:
    """Distil one trial's subnet from the parent (hidden-state, pooled and similarity terms for encoders;
    logit KL and hidden states otherwise) into a checkpoint that verify, export and load_subnet take."""
    import torch

    from supernas.core.errors import SpecError
    from supernas.models.checkpoint import CONFIG
    from supernas.search.store.store import open_store
    from supernas.search.trial_subnets import distill_trial, trial_number

    if (output / CONFIG).is_file() and not resume:
        raise SpecError(
            f"-o {output} already holds a checkpoint: --resume continues its run, or choose another"
        )
    torch.set_num_threads(threads)
    store = open_store(db)
    number = trial_number(store, job_key(job), trial)
    result = distill_trial(
        store,
        job_key(job),
        number,
        output,
        data,
        supernet,
        steps=steps,
        lr=lr,
        batch_size=batch_size,
        seed=seed,
        resume=resume,
        progress=progress,
    )
    print(
        f"wrote {output} from trial {number} after {result.result.steps_done}/{steps} steps: "
        "held-out distillation loss "
        f"{result.heldout_before:.4f} -> {result.heldout_after:.4f}"
    )


@commands.command("verify")
def verify_command(
    job: JobArg,
    trials: Annotated[
        str,
        typer.Option(
            help="front (the Pareto front), all (every trial with values) or trial numbers such as 3,7"
        ),
    ] = "front",
    output: Annotated[
        Optional[Path],
        typer.Option(
            "-o",
            "--output",
            help="folder for the checkpoints, one trial-N inside per trial "
            "(default: SUPERNAS_HOME/checkpoints/job-J)",
        ),
    ] = None,
    db: DbOption = None,
    supernet: Annotated[
        Optional[Path], typer.Option(help="saved supernet directory, for a job whose spec names none")
    ] = None,
    runtime: Annotated[
        str,
        typer.Option(
            help="torch (the loaded checkpoint) | onnxruntime (also export model.onnx and measure quality "
            "and latency on it in ONNX Runtime)"
        ),
    ] = "torch",
    checkpoint: Annotated[
        Optional[Path],
        typer.Option(
            help="a checkpoint `supernas distill` wrote from a trial of JOB: measure it instead, stored as "
            "a distilled verification of that trial"
        ),
    ] = None,
    option: Annotated[
        Optional[list[str]],
        typer.Option(
            "--option",
            help="metric option KEY=VALUE replacing the job's, for every metric that takes it (skip=500: "
            "quality on held-out sentences the search never scored); such values are reported, not "
            "held to the searched ones",
        ),
    ] = None,
) -> None:
    """Extract the chosen trials, load each checkpoint back and re-measure every metric on it; store and
    print searched vs measured, and one summary line per metric. Exit 1 if a deterministic value differs."""
    from rich.table import Table

    from supernas.search.store.store import open_store
    from supernas.search.verify import (
        TOLERANCE,
        constraint_lines,
        parse_trials,
        signed_error,
        summarize,
        summary_line,
        verify_job,
    )

    which = parse_trials(trials)
    store = open_store(db)
    record = find_job(store, job)
    out = console()

    def show(v) -> None:
        table = Table(
            "metric",
            "searched",
            "measured",
            "error",
            "how",
            title=f"trial {v.trial_number}: {v.checkpoint}",
            title_justify="left",
        )
        for value in v.values.values():
            how = value.method if value.note is None else f"{value.method}: {value.note}"
            if value.spread is not None:
                how += f" (runs spread {100 * value.spread:.0f}%)"
            measured = "-" if value.measured is None else f"{value.measured:.6g}"
            searched = "-" if value.searched is None else f"{value.searched:.6g}"
            table.add_row(value.metric, searched, measured, signed_error(value), how)
        out.print(table)

    records = verify_job(
        store,
        record.id,
        which,
        output,
        supernet,
        on_trial=show,
        runtime=runtime,
        checkpoint=checkpoint,
        options=parse_metric_options(option or []),
    )
    summaries = summarize(records, job_metrics(record))
    print(
        f"summary over {len(records)} trial{'s' if len(records) != 1 else ''} of job {record.id} "
        "(relative error |measured - searched| / |searched|):"
    )
    for summary in summaries:
        print(f"  {summary_line(summary)}")
    for line in constraint_lines(records, record.spec.get("constraints", [])):
        print(f"  {line}")
    broken = [s for s in summaries if s.mismatches]
    if checkpoint is not None:
        print("  distilled weights: 'searched' is the subnet before distillation, so values differ by design")
    elif broken:
        names = ", ".join(f"{s.metric} ({s.mismatches})" for s in broken)
        print(
            f"error: deterministic values differ from the searched ones by more than {TOLERANCE:g}: {names}",
            file=sys.stderr,
        )
        raise SystemExit(1)


@commands.command("export")
def export_command(
    output: Annotated[Path, typer.Option("-o", "--output", help="new (or empty) directory to write")],
    job: Annotated[Optional[str], typer.Argument(help="job id or name (then TRIAL is required)")] = None,
    trial: Annotated[Optional[int], typer.Argument(help="trial number within the job")] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="onnx (ONNX Runtime and others) | hf (Hugging Face transformers) | sentence-transformers "
            "(text encoders) | supernas",
        ),
    ] = "onnx",
    checkpoint: Annotated[
        Optional[Path],
        typer.Option(help="an extracted subnet checkpoint directory to export instead of JOB TRIAL"),
    ] = None,
    db: DbOption = None,
    supernet: Annotated[
        Optional[Path], typer.Option(help="saved supernet directory, for a job whose spec names none")
    ] = None,
) -> None:
    """Export a subnet for deployment, then load it in that format's runtime and compare outputs.

    Either JOB TRIAL (a trial of a stored job) or --checkpoint DIR (from `supernas extract`).
    """
    from supernas.core.errors import SpecError
    from supernas.export.exporters import check_format, check_output_directory, export_checkpoint

    check_format(fmt)
    check_output_directory(output)
    if checkpoint is not None:
        if job is not None:
            raise SpecError("export takes JOB TRIAL or --checkpoint DIR, not both")
        result = export_checkpoint(checkpoint, output, fmt)
    elif job is None or trial is None:
        raise SpecError("export needs JOB TRIAL (see `supernas show JOB`) or --checkpoint DIR")
    else:
        from supernas.search.store.store import open_store
        from supernas.search.trial_subnets import export_trial

        result = export_trial(open_store(db), job_key(job), trial, output, fmt, supernet)
    files = ", ".join(sorted(f.name for f in result.directory.iterdir()))
    print(f"wrote {result.directory} ({fmt}: {files}; {result.bytes / 1e6:.2f} MB)")
    print(result.check)
