"""``distill-blocks``: Puzzle's blockwise local distillation of every block a space offers, on Ray
workers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from supernas.training.commands import DistillDataOption

commands = typer.Typer()


@commands.command("distill-blocks")
def distill_blocks_command(
    supernet: Annotated[
        Path, typer.Argument(help="supernet directory whose blocks to train (see `supernas from-pretrained`)")
    ],
    output: Annotated[
        Path,
        typer.Option(
            "-o", "--output", help="supernet directory to write: the same weights plus the trained blocks"
        ),
    ],
    data: DistillDataOption = None,
    steps: Annotated[int, typer.Option(min=1, help="optimizer steps per block")] = 100,
    lr: Annotated[
        float, typer.Option(min=0.0, help="peak AdamW learning rate (warm-up, then cosine)")
    ] = 1e-3,
    batch_size: Annotated[int, typer.Option(min=1, help="examples per step")] = 16,
    seed: Annotated[int, typer.Option(help="which batches")] = 0,
    workers: Annotated[int, typer.Option(min=1, help="Ray workers, one block each at a time")] = 2,
    ray_address: Annotated[
        Optional[str], typer.Option(help="join an existing Ray cluster ('auto' or host:port)")
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="continue a stopped run in --output, reusing the blocks it finished")
    ] = False,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
) -> None:
    """Train each (layer, attention or FFN choice) of SUPERNET alone to imitate the parent's layer on the
    parent's activations (NVIDIA Puzzle's BLD); `blocks`, `run`, `extract` and `export` on the output then
    use the trained blocks."""
    from supernas.workers.blockwise import distill_blocks
    from supernas.workers.cluster import disconnect

    try:
        run = distill_blocks(
            supernet,
            output,
            data,
            steps,
            lr,
            batch_size,
            seed,
            workers=workers,
            address=ray_address,
            resume=resume,
            progress=progress,
        )
    finally:
        disconnect()
    records = run.blocks.records.values()
    gained = [r["heldout_loss_slice"] / max(r["heldout_loss_trained"], 1e-12) for r in records]
    print(
        f"wrote {output}: {len(run.blocks)} trained blocks ({run.trained} trained now, {run.reused} reused); "
        f"held-out imitation loss {min(gained):.1f}x to {max(gained):.1f}x lower than the slices'"
        if gained
        else f"wrote {output}: the space offers no block to train besides the parent's own"
    )
