"""What every layer's commands share: the console, the SPACE argument and reading an architecture.

Each layer contributes its commands in its own ``commands`` module; ``supernas.cli`` composes them. Every
import of a heavy part happens inside the command that needs it, so ``supernas --help`` stays instant.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

SpaceArg = Annotated[str, typer.Argument(help="built-in space name or a spec file (.yaml/.json)")]


def console():
    """A rich console; 120 columns when the output is not a terminal, so logs do not wrap at 80."""
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 120)


def read_arch(spec, value: str):
    """An architecture from a file path, inline JSON, or '-' for standard input."""
    from supernas.spaces.architecture import parse_architecture
    from supernas.core.errors import NotFoundError

    if value == "-":
        return parse_architecture(spec, sys.stdin.readline(), "architecture on standard input")
    if value.lstrip().startswith("{"):
        return parse_architecture(spec, value, "--arch")
    path = Path(value)
    if not path.is_file():
        raise NotFoundError(f"--arch {value}: no such file")
    return parse_architecture(spec, path.read_text(), str(path))
