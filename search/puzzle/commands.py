"""``supernas blocks``: build (or reuse from the store) a supernet's block library and print it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from supernas.core.commandline import console
from supernas.search.commands import DbOption

commands = typer.Typer()


@commands.command("blocks")
def blocks_command(
    supernet: Annotated[
        Path, typer.Argument(help="saved supernet directory (`supernas train`, `from-pretrained`)")
    ],
    data: Annotated[
        Optional[str],
        typer.Option(
            help="task data whose held-out split scores the blocks (default: what the supernet keeps)"
        ),
    ] = None,
    latency: Annotated[
        str,
        typer.Option(
            help="latency_predicted_ms (the calibrated lookup table), latency_ms "
            "(the table calibrated for it, else one profiled now) or none"
        ),
    ] = "latency_predicted_ms",
    batch_size: Annotated[int, typer.Option(min=1, help="latency workload: batch size")] = 1,
    seq_len: Annotated[int, typer.Option(min=1, help="latency workload: tokens")] = 64,
    threads: Annotated[Optional[int], typer.Option(min=1, help="latency workload: CPU threads")] = None,
    clock: Annotated[str, typer.Option(help="latency workload: wall or cpu")] = "wall",
    device: Annotated[str, typer.Option(help="latency workload: cpu or cuda")] = "cpu",
    backend: Annotated[
        str, typer.Option(help="latency workload: torch or onnxruntime (the runtime the parts are timed in)")
    ] = "torch",
    batches: Annotated[int, typer.Option(min=1, help="held-out batches each block is scored on")] = 4,
    score: Annotated[
        Optional[str],
        typer.Option(
            help="quality column to print: kl, val_loss or embedding (default: the library's first)"
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Each (layer, block option)'s quality cost in SUPERNET (KL to the largest subnet and val_loss delta
    on held-out data, that block replaced alone), its latency part and parameters; stored and reused by
    `mip` jobs."""
    from rich.table import Table

    from supernas.core.errors import SpecError, allowed
    from supernas.models.supernet import read_supernet_config
    from supernas.search.puzzle.library import LATENCY_METRICS, obtain_library
    from supernas.search.store.store import open_store

    if latency != "none" and latency not in LATENCY_METRICS:
        raise SpecError(
            f"--latency '{latency}' is not a latency metric ({allowed([*LATENCY_METRICS, 'none'])})"
        )
    scores = ("kl", "val_loss", "embedding")
    if score is not None and score not in scores:
        raise SpecError(f"--score '{score}' ({allowed(scores)})")
    _, spec = read_supernet_config(supernet)
    workload = {
        "batch_size": batch_size,
        "seq_len": seq_len,
        "threads": threads,
        "clock": clock,
        "device": device,
        "backend": backend,
    }
    uses = {} if latency == "none" else {latency: workload}
    store = open_store(db)
    with console().status("scoring blocks"):
        library, reused = obtain_library(store, spec, str(supernet.resolve()), data, uses, batches)
    score = library.check_score(score)
    out = console()
    depth = max(library.depths)
    origin = (
        "block library reused from the store"
        if reused
        else f"block library built from {library.evaluations} subnets and stored"
    )
    out.print(f"{supernet} ({spec.name}, embed {library.embed_dim}): {origin}", soft_wrap=True)
    title = f"{score} per layer: each block replaced alone in the largest subnet"
    columns = [f"L{i}" for i in range(depth)]
    resources = [r for r in ("params", "latency_ms") if r in library.resources]
    table = Table("part", "option", *columns, *(f"{r} (q=0)" for r in resources), title=title)
    for part, index, label, costs in library.rows(score):
        cells = [f"{c:.4g}" for c in costs] + [""] * (depth - len(costs))
        parts = [
            f"{library.resources[r][part][index][0]:.4g}" if part in ("attention", "ffn") else ""
            for r in resources
        ]
        table.add_row(part, label, *cells, *parts)
    out.print(table)
    loss = f"largest subnet's held-out loss {library.reference_loss:.4f}; " if score != "embedding" else ""
    out.print(
        f"{loss}"
        "depth rows: the largest cut to that depth (one cost, in the L0 column); "
        "resources at the first quantization option (q=0)",
        soft_wrap=True,
    )
