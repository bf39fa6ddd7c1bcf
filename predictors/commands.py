"""The predictor commands: ``metrics``, ``score``, ``calibrate``, ``train`` (which reports held-out
losses with the one-shot predictors) and ``proxies-report``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from supernas.core.commandline import SpaceArg, console, parse_metric_options
from supernas.spaces.architecture import read_arch

commands = typer.Typer()


@commands.command("metrics")
def metrics_command(
    plugin: Annotated[
        Optional[list[str]],
        typer.Option(help="also a plugin's metrics (module name or .py file; repeatable)"),
    ] = None,
) -> None:
    """Every registered metric: name, direction, unit, cost class, options, and where it comes from
    (built in, an installed plugin's entry point, or --plugin)."""
    from rich.table import Column, Table

    from supernas.predictors.base import REGISTRY
    from supernas.predictors.catalogue import get_metric, metric_names
    from supernas.predictors.plugins import is_file_plugin, load_plugins

    load_plugins([str(Path(p).resolve()) if is_file_plugin(p) else p for p in plugin or []])
    origins = {name: _origin(REGISTRY[name].__module__) for name in metric_names()}
    table = Table("direction", "unit", "cost", "tasks", "options")
    table.columns.insert(0, Column("name", no_wrap=True))
    table.columns.append(Column("from", no_wrap=True, min_width=max(map(len, origins.values()))))
    table.columns.append(Column("description"))
    for name, origin in origins.items():
        m = get_metric(name)
        tasks = "all" if len(m.tasks) == 3 else ", ".join(m.tasks)
        options = ", ".join(f"{k}={v}" for k, v in m.options.items())
        table.add_row(name, m.direction, m.unit, m.cost.value, tasks, options, origin, m.description)
    console().print(table)


def _origin(module: str) -> str:
    """Where a metric comes from: built in, or the plugin module that registered it."""
    return "built-in" if module.startswith("supernas.") else module


@commands.command("score")
def score_command(
    space: SpaceArg,
    arch: Annotated[str, typer.Option(help="architecture: JSON file, inline JSON, or - for stdin")],
    metrics: Annotated[
        str, typer.Option(help="comma-separated metric names (see `supernas metrics`)")
    ] = "params,flops,hidden_cov",
    option: Annotated[
        Optional[list[str]],
        typer.Option("--option", help="metric option KEY=VALUE, given to every metric that takes it"),
    ] = None,
    seed: Annotated[int, typer.Option(help="seed of the supernet initialisation and calibration batch")] = 0,
    supernet: Annotated[
        Optional[Path], typer.Option(help="saved supernet directory (default: seeded random init)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON object")] = False,
) -> None:
    """Score one architecture with any metrics.

    Timed metrics (latency_ms) follow the machine's load: on a busy machine wall times of one subnet
    swing several-fold. For steady figures time on one thread with the thread's CPU clock:
    --option threads=1 --option clock=cpu.
    """
    from supernas.models.supernet import Supernet
    from supernas.predictors.base import MetricContext
    from supernas.predictors.catalogue import get_metric
    from supernas.spaces.spec import load_spec

    spec = load_spec(space)
    chosen = read_arch(spec, arch)
    options = parse_metric_options(option or [])
    context = MetricContext(
        spec, seed=seed, supernet_factory=(lambda: Supernet.load(supernet)) if supernet else None
    )
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


@commands.command("calibrate")
def calibrate_command(
    space: SpaceArg,
    device: Annotated[str, typer.Option(help="cpu or cuda")] = "cpu",
    n: Annotated[int, typer.Option("-n", min=4, help="subnets to measure")] = 200,
    holdout: Annotated[
        float, typer.Option(min=0.05, max=0.95, help="share of the subnets held out for scoring")
    ] = 0.3,
    batch_size: Annotated[int, typer.Option(min=1, help="sequences per timed forward pass")] = 1,
    seq_len: Annotated[
        int, typer.Option(min=1, help="tokens per sequence (vision: ignored, the image size is fixed)")
    ] = 64,
    threads: Annotated[Optional[int], typer.Option(min=1, help="CPU threads (default: torch's)")] = None,
    clock: Annotated[
        str,
        typer.Option(help="wall, or cpu (thread CPU time; steadier on a busy machine, needs --threads 1)"),
    ] = "wall",
    repeats: Annotated[int, typer.Option(min=1, help="timed runs per subnet at least (median kept)")] = 10,
    max_repeats: Annotated[
        Optional[int],
        typer.Option(
            min=1, help="timed runs per subnet at most, while the median is unsteady (default 3 x repeats)"
        ),
    ] = None,
    rounds: Annotated[
        int,
        typer.Option(
            min=2, help="passes over all subnets, spread in time against drift; two measure the noise"
        ),
    ] = 2,
    accuracy: Annotated[
        float,
        typer.Option(
            min=0.001, max=0.99, help="relative error asked for: warns when the machine's noise is over half"
        ),
    ] = 0.10,
    backend: Annotated[
        str,
        typer.Option(
            help="torch; triton (fused int4/int8 kernels; on CPU an interpreter, for checks only); "
            "or onnxruntime (each subnet exported to ONNX and run in ONNX Runtime, device cpu)"
        ),
    ] = "torch",
    graph_optimization: Annotated[
        str,
        typer.Option(
            help="ONNX Runtime graph optimization level for --backend onnxruntime: "
            "disable, basic, extended or all"
        ),
    ] = "all",
    seed: Annotated[
        int, typer.Option(help="which subnets are sampled and held out, and the random weights they run with")
    ] = 0,
) -> None:
    """Measure N subnets, fit the lookup-table and learned latency predictors, print their accuracy,
    save them."""
    from supernas.predictors.latency.calibration import calibrate
    from supernas.predictors.latency.report import format_report
    from supernas.spaces.spec import load_spec

    report = calibrate(
        load_spec(space),
        n,
        device=device,
        batch_size=batch_size,
        seq_len=seq_len,
        seed=seed,
        holdout=holdout,
        threads=threads,
        clock=clock,
        repeats=repeats,
        rounds=rounds,
        backend=backend,
        graph_optimization=graph_optimization,
        max_repeats=max_repeats,
        accuracy=accuracy,
    )
    print(format_report(report))
    print(
        f"saved the predictors and this report in {Path(report.files[0]).parent} "
        f"(key {report.fingerprint_hash}); metric latency_predicted_ms uses them on this machine"
    )


@commands.command("train")
def train_command(
    space: SpaceArg,
    output: Annotated[
        Path, typer.Option("-o", "--output", help="supernet directory to write (checkpoints go there too)")
    ],
    data: Annotated[
        Optional[str],
        typer.Option(
            help="byte-level LMs: a text file, read as bytes (default: the Python stdlib sources); "
            "classifiers: digits, or a .jsonl/.csv (text, label) or .npz (images, labels) file; "
            "speech: a directory with manifest.csv (supernas data keywords)"
        ),
    ] = None,
    steps: Annotated[
        int, typer.Option(min=1, help="total optimizer steps (a resumed run continues to this total)")
    ] = 2000,
    lr: Annotated[
        float, typer.Option(min=0.0, help="peak AdamW learning rate (warm-up, then cosine)")
    ] = 3e-3,
    batch_size: Annotated[int, typer.Option(min=1, help="sequences (or examples) per optimizer step")] = 16,
    seq_len: Annotated[int, typer.Option(min=1, help="bytes per training sequence (byte-level LMs)")] = 64,
    sandwich_k: Annotated[
        int, typer.Option(min=0, help="random subnets per step besides the largest and smallest")
    ] = 2,
    distill: Annotated[
        bool,
        typer.Option(
            help="in-place distillation from the largest subnet "
            "(off: on short runs it trains worse, see README)"
        ),
    ] = False,
    checkpoint_every: Annotated[int, typer.Option(min=1, help="steps between checkpoints")] = 200,
    resume: Annotated[bool, typer.Option(help="continue from the checkpoint in --output")] = False,
    seed: Annotated[int, typer.Option(help="initialisation, batches and sampled subnets")] = 0,
    threads: Annotated[
        int,
        typer.Option(
            min=1, help="CPU threads; tiny models train fastest on one, above all on a busy machine"
        ),
    ] = 1,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
) -> None:
    """Train a supernet (sandwich rule, optional in-place distillation): a byte-level LM on text, a classifier
    on labeled data; prints held-out losses (and accuracies) at the end."""
    import torch

    from supernas.data.task import load_data
    from supernas.data.text import heldout_windows
    from supernas.data.types import TaskData
    from supernas.models.supernet import Supernet
    from supernas.predictors.oneshot import heldout_accuracy, heldout_loss
    from supernas.spaces.architecture import largest, smallest
    from supernas.spaces.spec import load_spec
    from supernas.training.sandwich import train_supernet

    torch.set_num_threads(threads)
    spec = load_spec(space)
    text = load_data(data, spec)  # every mistake in the data is one line here, before anything is written
    net = Supernet(spec, seed=seed)
    train_supernet(
        net,
        text,
        steps,
        lr=lr,
        batch_size=batch_size,
        seq_len=seq_len,
        sandwich_k=sandwich_k,
        distill=distill,
        checkpoint_dir=output,
        resume=resume,
        progress=progress,
        seed=seed,
        checkpoint_every=checkpoint_every,
    )
    print(f"wrote {output} ({net.provenance})")
    if isinstance(text, TaskData):
        heldout = net.heldout.batches
        for name, arch in (("largest", largest(spec)), ("smallest", smallest(spec))):
            print(
                f"held-out accuracy, {name} subnet: {heldout_accuracy(net, arch, heldout):.4f} "
                f"(loss {heldout_loss(net, arch, heldout):.4f} nats/example, "
                f"{len(text.heldout):,} held-out examples)"
            )
        return
    heldout = heldout_windows(text.heldout, seq_len, batch_size, n_batches=16)
    for name, arch in (("largest", largest(spec)), ("smallest", smallest(spec))):
        print(f"held-out loss, {name} subnet: {heldout_loss(net, arch, heldout):.4f} nats/byte")


@commands.command("proxies-report")
def proxies_report_command(
    space: SpaceArg,
    supernet: Annotated[Path, typer.Option(help="trained supernet directory (see `supernas train`)")],
    n: Annotated[int, typer.Option("-n", min=3, help="random subnets to score")] = 60,
    seed: Annotated[
        int, typer.Option(help="which subnets, the proxies' batch and the fine-tuning batches")
    ] = 0,
    data: Annotated[
        Optional[Path],
        typer.Option(help="the text the supernet was trained on (default: the Python stdlib sources)"),
    ] = None,
    finetune_steps: Annotated[
        int,
        typer.Option(
            min=0,
            help="standalone fine-tuning steps per subnet before the second val_loss (0: one-shot only)",
        ),
    ] = 30,
    finetune_lr: Annotated[
        float, typer.Option(min=0.0, help="peak AdamW learning rate of the fine-tuning")
    ] = 1e-3,
    threads: Annotated[int, typer.Option(min=1, help="CPU threads")] = 1,
    progress: Annotated[bool, typer.Option(help="show a progress bar while fine-tuning")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON object")] = False,
) -> None:
    """Spearman and Kendall tau of every zero-cost proxy, #params (the baseline) and their cross-validated
    combination against one-shot val_loss and val_loss after short standalone fine-tuning."""
    import dataclasses

    import torch

    from supernas.core.errors import SpecError
    from supernas.models.supernet import Supernet
    from supernas.predictors.correlation import Finetuning, format_agreement, rank_agreement, training_text
    from supernas.spaces.spec import load_spec

    torch.set_num_threads(threads)
    net = Supernet.load(supernet)
    if load_spec(space).name != net.spec.name:
        raise SpecError(f"space {space} does not match the supernet's space '{net.spec.name}'")
    tuning = Finetuning(finetune_steps, finetune_lr) if finetune_steps else None
    rows, _ = rank_agreement(
        net, n, seed, text=training_text(net, data), finetuning=tuning, progress=progress
    )
    if as_json:
        print(
            json.dumps(
                {
                    "space": net.spec.name,
                    "n": n,
                    "seed": seed,
                    "weights": net.provenance,
                    "finetuning": dataclasses.asdict(tuning) if tuning else None,
                    "rows": [dataclasses.asdict(r) for r in rows],
                }
            )
        )
    else:
        print(f"{net.spec.name}: {net.provenance}")
        print(format_agreement(rows, n, tuning))
