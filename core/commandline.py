"""What every layer's commands share: the console, the SPACE argument and ``--option`` pairs.

Each layer contributes its commands in its own ``commands`` module; ``supernas.cli`` composes them. Every
import of a heavy part happens inside the command that needs it, so ``supernas --help`` stays instant.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

SpaceArg = Annotated[str, typer.Argument(help="built-in space name or a spec file (.yaml/.json)")]


def parse_metric_options(pairs: list[str]) -> dict[str, object]:
    """``--option KEY=VALUE`` pairs, values parsed as YAML scalars (numbers stay numbers)."""
    import yaml

    from supernas.core.errors import SpecError

    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SpecError(f"--option {pair!r}: expected KEY=VALUE")
        options[key] = yaml.safe_load(value)
    return options


def console():
    """A rich console; 120 columns when the output is not a terminal, so logs do not wrap at 80."""
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 120)
