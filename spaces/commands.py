"""The search-space commands: ``spaces``, ``space show`` and ``sample``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from supernas.core.commandline import SpaceArg, console

commands = typer.Typer()
space_app = typer.Typer(help="Inspect one search space.", no_args_is_help=True)
commands.add_typer(space_app, name="space")


@commands.command("spaces")
def spaces_command() -> None:
    """Table of built-in spaces: task, elastic dimensions, number of subnets, largest size."""
    from rich.table import Table

    from supernas.spaces.analytic import count_params
    from supernas.spaces.architecture import largest, log10_subnets
    from supernas.spaces.describe import elastic_dimensions
    from supernas.spaces.spec import builtin_names, load_spec

    table = Table("space", "task", "elastic dims", "log10(#subnets)", "max params")
    for name in builtin_names():
        spec = load_spec(name)
        global_dims, layer_dims = elastic_dimensions(spec)
        table.add_row(
            name,
            spec.task,
            f"{len(global_dims)} global + {len(layer_dims)} per layer",
            f"{log10_subnets(spec):.1f}",
            f"{count_params(spec, largest(spec)) / 1e6:.2f}M",
        )
    console().print(table)


@space_app.command("show")
def space_show(
    space: SpaceArg, as_json: Annotated[bool, typer.Option("--json", help="the full spec as JSON")] = False
) -> None:
    """Every dimension of a space and its choices."""
    from supernas.spaces.describe import describe
    from supernas.spaces.spec import load_spec

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
    from supernas.spaces.architecture import sample_many
    from supernas.spaces.spec import load_spec

    for arch in sample_many(load_spec(space), n, seed):
        print(arch.to_json())
