"""The training commands: ``adapt`` fine-tunes a pretrained supernet so its small subnets recover the
parent."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

commands = typer.Typer()

DistillDataOption = Annotated[
    Optional[str],
    typer.Option(
        "--data",
        help="what to distil on: a text file (one example per line, or JSONL/CSV with a text column), "
        "stdlib-prose or digits (default: stdlib-prose for encoders, digits for vision, the standard "
        "library's source for byte-level LMs)",
    ),
]


@commands.command("adapt")
def adapt_command(
    supernet: Annotated[
        Path, typer.Argument(help="pretrained encoder supernet directory (see `supernas from-pretrained`)")
    ],
    output: Annotated[
        Path,
        typer.Option("-o", "--output", help="adapted supernet directory to write (checkpoints go there too)"),
    ],
    data: Annotated[
        Optional[str],
        typer.Option(
            help="text to adapt on: a file (one example per line, or JSONL/CSV with a text column) "
            "or stdlib-prose"
        ),
    ] = None,
    steps: Annotated[
        int, typer.Option(min=1, help="total optimizer steps (a resumed run continues to this total)")
    ] = 200,
    lr: Annotated[
        float, typer.Option(min=0.0, help="peak AdamW learning rate (warm-up, then cosine)")
    ] = 1e-4,
    batch_size: Annotated[int, typer.Option(min=2, help="sentences per step")] = 32,
    sandwich_k: Annotated[
        int, typer.Option(min=0, help="random subnets per step besides the largest and smallest")
    ] = 2,
    seed: Annotated[int, typer.Option(help="which batches and random subnets")] = 0,
    resume: Annotated[bool, typer.Option(help="continue a stopped run in --output")] = False,
    threads: Annotated[int, typer.Option(min=1, help="CPU threads")] = 1,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
) -> None:
    """Adapt a pretrained supernet so small subnets recover the parent's embeddings
    (sandwich distillation)."""
    import torch

    from supernas.models.supernet import Supernet
    from supernas.training.adapt import adapt_supernet, adaptation_texts

    torch.set_num_threads(threads)
    net = Supernet.load(supernet)
    texts = adaptation_texts(net.spec, data)
    result = adapt_supernet(
        net,
        texts,
        steps,
        output,
        lr=lr,
        batch_size=batch_size,
        sandwich_k=sandwich_k,
        seed=seed,
        resume=resume,
        progress=progress,
    )
    print(f"wrote {output} after {result.steps_done}/{steps} steps ({net.provenance})")
