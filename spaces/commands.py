"""The search-space commands: ``spaces``, ``space show``, ``sample``, ``from-pretrained`` and ``adapt``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from supernas.core.commandline import SpaceArg, console

commands = typer.Typer()
space_app = typer.Typer(help="Inspect one search space.", no_args_is_help=True)
commands.add_typer(space_app, name="space")


@commands.command("spaces")
def spaces_command() -> None:
    """Table of built-in spaces: task, elastic dimensions, number of subnets, largest size."""
    from rich.table import Table

    from supernas.spaces.spec import builtin_names, load_spec
    from supernas.spaces.architecture import largest
    from supernas.spaces.analytic import count_params
    from supernas.spaces.architecture import log10_subnets
    from supernas.spaces.describe import elastic_dimensions

    table = Table("space", "task", "elastic dims", "log10(#subnets)", "max params")
    for name in builtin_names():
        spec = load_spec(name)
        global_dims, layer_dims = elastic_dimensions(spec)
        table.add_row(
            name, spec.task, f"{len(global_dims)} global + {len(layer_dims)} per layer", f"{log10_subnets(spec):.1f}",
            f"{count_params(spec, largest(spec)) / 1e6:.2f}M",
        )
    console().print(table)


@space_app.command("show")
def space_show(space: SpaceArg, as_json: Annotated[bool, typer.Option("--json", help="the full spec as JSON")] = False) -> None:
    """Every dimension of a space and its choices."""
    from supernas.spaces.spec import load_spec
    from supernas.spaces.describe import describe

    spec = load_spec(space)
    if as_json:
        print(json.dumps(spec.model_dump(mode="json"), indent=2))
    else:
        console().print(describe(spec))


@commands.command("sample")
def sample_command(
    space: SpaceArg,
    n: Annotated[int, typer.Option("-n", min=1, help="how many architectures")] = 1,
    seed: Annotated[int, typer.Option(help="same seed, same architectures")] = 0,
) -> None:
    """Random architectures as JSON lines."""
    from supernas.spaces.spec import load_spec
    from supernas.spaces.architecture import sample_many

    for arch in sample_many(load_spec(space), n, seed):
        print(arch.to_json())


@commands.command("from-pretrained")
def from_pretrained_command(
    space: SpaceArg,
    weights: Annotated[Path, typer.Option(help="dense checkpoint (.safetensors or torch state_dict; supernas, GPT-2 or BERT names), or minilm: the MiniLM-L6 package's weights")],
    output: Annotated[Path, typer.Option("-o", "--output", help="supernet directory to write")],
    reorder: Annotated[bool, typer.Option(help="sort heads and FFN neurons by importance so first-k subnets keep the best")] = True,
    data: Annotated[Optional[str], typer.Option(help="data whose held-out split is kept with the supernet for one-shot metrics: a file "
                                                    "or built-in name (default for WordPiece encoders such as bert-mini: stdlib-prose)")] = None,
) -> None:
    """Build a supernet whose largest subnet is a pretrained model (e.g. MiniLM-L6 into bert-mini)."""
    from supernas.spaces.spec import load_spec
    from supernas.models.importance import from_pretrained
    from supernas.models.parent import save_parent
    from supernas.data.task import load_data, pretrained_default_data

    spec = load_spec(space)
    heldout = load_data(data, spec) if data is not None else pretrained_default_data(spec)  # one line and nothing written if bad
    if str(weights) == "minilm" and not weights.exists():
        from supernas.data.tokenizer import minilm_dir

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


@commands.command("adapt")
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

    from supernas.models.supernet import Supernet
    from supernas.training.adapt import adapt_supernet, adaptation_texts

    torch.set_num_threads(threads)
    net = Supernet.load(supernet)
    texts = adaptation_texts(net.spec, data)
    result = adapt_supernet(net, texts, steps, output, lr=lr, batch_size=batch_size, sandwich_k=sandwich_k,
                            seed=seed, resume=resume, progress=progress)
    print(f"wrote {output} after {result.steps_done}/{steps} steps ({net.provenance})")

