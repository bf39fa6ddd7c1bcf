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


@app.command("extract")
def extract_command(
    output: Annotated[Path, typer.Option("-o", "--output", help="checkpoint directory to write")],
    space: Annotated[Optional[str], typer.Option(help="space name or spec file")] = None,
    arch: Annotated[Optional[str], typer.Option(help="architecture: JSON file, inline JSON, or - for stdin")] = None,
    supernet: Annotated[Optional[Path], typer.Option(help="saved supernet directory (default: seeded random init)")] = None,
    seed: Annotated[int, typer.Option(help="seed of the random initialisation when no --supernet is given")] = 0,
) -> None:
    """Write a standalone subnet checkpoint (config.json + model.safetensors)."""
    from supernas.spaces import Supernet, extract, get_space, parameter_count, save_subnet
    from supernas.spaces.errors import SpecError

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
