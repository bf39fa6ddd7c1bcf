"""The ``supernas`` command line: the one package that sees every layer.

Each layer contributes its own commands (``supernas.<layer>.commands``, a ``typer.Typer`` named ``commands``);
this package only composes them, so no layer imports a layer above it. Every mistake a user can make on
the command line, a bad option as much as a bad file, prints one ``error:`` line and exits 2.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

from supernas.dashboard.commands import commands as dashboard_commands
from supernas.data.commands import commands as data_commands
from supernas.models.commands import commands as model_commands
from supernas.predictors.commands import commands as predictor_commands
from supernas.search.checkpoint_commands import commands as checkpoint_commands
from supernas.search.commands import commands as job_commands
from supernas.search.puzzle.commands import commands as block_commands
from supernas.spaces.commands import commands as space_commands
from supernas.training.commands import commands as training_commands
from supernas.workers.commands import commands as worker_commands

app = typer.Typer(
    help="Neural architecture search for efficient transformers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # plain help: flags read --progress/--no-progress, not a <bool> they do not take
)
for layer_commands in (
    space_commands,
    model_commands,
    training_commands,
    worker_commands,
    data_commands,
    predictor_commands,
    job_commands,
    block_commands,
    checkpoint_commands,
    dashboard_commands,
):
    app.add_typer(layer_commands)


def _installed_version() -> str:
    try:
        return version("supernas")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _print_version(value: bool) -> None:
    if value:
        print(f"supernas {_installed_version()}")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="print the installed version and exit"
        ),
    ] = False,
) -> None:
    """Neural architecture search for efficient transformers."""


def main() -> None:
    from supernas.core.errors import SupernasError

    try:
        code = app(prog_name="supernas", standalone_mode=False)
    except typer.Abort:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    except typer.TyperException as e:  # click's errors as typer vendors them: bad options, missing arguments
        if type(e).__name__ == "NoArgsIsHelpError":  # `supernas` (or a group) alone: its help
            e.show()
            raise SystemExit(e.exit_code) from None
        context = getattr(e, "ctx", None)
        hint = f" (see `{context.command_path} --help`)" if context is not None else ""
        print(f"error: {e.format_message()}{hint}", file=sys.stderr)
        raise SystemExit(getattr(e, "exit_code", 2)) from None
    except SupernasError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    raise SystemExit(code if isinstance(code, int) else 0)
