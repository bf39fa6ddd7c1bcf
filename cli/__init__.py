"""The ``supernas`` command line: the one package that sees every layer.

Each layer contributes its own commands (``supernas.<layer>.commands``, a ``typer.Typer`` named ``commands``);
this package only composes them, so no layer imports a layer above it. User mistakes (``SupernasError``)
print one line and exit 2.
"""

from __future__ import annotations

import sys

import typer

from supernas.dashboard.commands import commands as dashboard_commands
from supernas.predictors.commands import commands as predictor_commands
from supernas.search.block_commands import commands as block_commands
from supernas.search.checkpoint_commands import commands as checkpoint_commands
from supernas.search.commands import commands as job_commands
from supernas.spaces.commands import commands as space_commands
from supernas.spaces.data_commands import commands as data_commands

app = typer.Typer(
    help="Neural architecture search for efficient transformers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
for layer_commands in (space_commands, data_commands, predictor_commands, job_commands, block_commands, checkpoint_commands,
                       dashboard_commands):
    app.add_typer(layer_commands)


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
