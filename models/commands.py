"""The model commands: ``from-pretrained`` builds a supernet from a dense pretrained model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from supernas.core.commandline import SpaceArg

commands = typer.Typer()


@commands.command("from-pretrained")
def from_pretrained_command(
    space: SpaceArg,
    weights: Annotated[
        Path,
        typer.Option(
            help="dense checkpoint (.safetensors or torch state_dict; supernas, GPT-2 or BERT names), "
            "or minilm: the MiniLM-L6 package's weights"
        ),
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="supernet directory to write")],
    reorder: Annotated[
        bool, typer.Option(help="sort heads and FFN neurons by importance so first-k subnets keep the best")
    ] = True,
    data: Annotated[
        Optional[str],
        typer.Option(
            help="data whose held-out split is kept with the supernet for one-shot metrics: a file "
            "or built-in name (default for WordPiece encoders such as bert-mini: stdlib-prose)"
        ),
    ] = None,
) -> None:
    """Build a supernet whose largest subnet is a pretrained model (e.g. MiniLM-L6 into bert-mini)."""
    from supernas.data.task import load_data, pretrained_default_data
    from supernas.models.importance import from_pretrained
    from supernas.models.parent import save_parent
    from supernas.spaces.spec import load_spec

    spec = load_spec(space)
    heldout = (
        load_data(data, spec) if data is not None else pretrained_default_data(spec)
    )  # one line and nothing written if bad
    if str(weights) == "minilm" and not weights.exists():
        from supernas.data.tokenizer import minilm_dir

        weights = minilm_dir() / "model.safetensors"
    net, report = from_pretrained(spec, weights, reorder=reorder)
    if heldout is not None:
        net.keep_heldout(heldout)
    net.save(output)
    save_parent(net, output)  # what fidelity is measured against, also after `supernas adapt`
    print(report.summary())
    for label, names in (
        ("kept their values", report.missing),
        ("shape mismatches", report.shape_mismatch),
        ("unused", report.unexpected),
    ):
        if names:
            print(f"  {label}: {', '.join(names[:8])}{' ...' if len(names) > 8 else ''}")
    if heldout is not None:
        print(f"held-out data kept with it: {heldout.source}")
    print(f"wrote {output} ({net.provenance})")
