"""Every ``supernas ...`` command in the README and docs/ names a real command and only its real options,
and every Python example compiles and imports what exists.

The docs are read as instructions and copied into terminals; a renamed command or option must fail here,
not in a user's shell.
"""

from __future__ import annotations

import ast
import importlib
import re
import shlex
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import typer

ROOT = Path(__file__).resolve().parent.parent
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_TAGS = {"", "bash", "sh", "shell", "console", "zsh"}
ALWAYS_ALLOWED = {"--help", "--version"}
SEPARATORS = {"|", "||", "&&", ";", "&"}
REDIRECTS = {">", ">>", "<", ">&", "<<", "&>"}
FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+-]*)")
ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def shell_lines(markdown: str) -> list[tuple[int, str]]:
    """(first line number, logical line) for each line of the shell code blocks, continuations joined.

    In ``console`` blocks only ``$ `` prompt lines are commands; the rest is output.
    """
    found: list[tuple[int, str]] = []
    marker: str | None = None  # the open fence, ``` or ~~~
    shell = console = False
    pending: tuple[int, str] | None = None  # a line continued with a trailing backslash
    for number, line in enumerate(markdown.splitlines(), start=1):
        text = line.strip()
        if marker is None:
            if opening := FENCE.match(line):
                marker, tag = opening.group(1), opening.group(2).lower()
                shell, console = tag in SHELL_TAGS, tag == "console"
            continue
        if text.startswith(marker) and not text.strip(marker[0]):
            marker, pending = None, None
            continue
        if not shell:
            continue
        if pending is None:
            if text.startswith("$ "):
                text = text[2:]
            elif console:
                continue
            pending = (number, "")
        start, joined = pending
        if text.endswith("\\"):
            pending = (start, joined + text[:-1].rstrip() + " ")
        else:
            found.append((start, joined + text))
            pending = None
    return found


def invocations(line: str) -> list[list[str]]:
    """The argument lists after ``supernas`` of each command in a shell line.

    Pipes, ``&&`` and ``;`` separate commands, ``NAME=value`` prefixes are environment, and a redirection
    ends a command's arguments.
    """
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    pieces: list[list[str]] = [[]]
    for token in lexer:
        if token in SEPARATORS:
            pieces.append([])
        else:
            pieces[-1].append(token)
    commands = []
    for piece in pieces:
        while piece and ENV_ASSIGNMENT.match(piece[0]):
            piece = piece[1:]
        if piece and piece[0] == "supernas":
            redirect = next((i for i, token in enumerate(piece) if token in REDIRECTS), len(piece))
            commands.append(piece[1:redirect])
    return commands


# Recent typer vendors its own click, so commands and options are told apart by their attributes
# (a group has ``commands``, an option's ``param_type_name`` is "option"), not by click's classes.
Command = Any


@cache
def cli() -> Command:
    """The click group the ``supernas`` script runs, built from the real typer app."""
    from supernas.cli import app

    return typer.main.get_command(app)


def option_arity(command: Command) -> dict[str, int]:
    """Each option name of a command and how many values follow it (0 for a flag)."""
    arity = {name: 0 for name in ALWAYS_ALLOWED}
    for param in command.params:
        if param.param_type_name == "option":
            takes = 0 if param.is_flag or param.count else param.nargs
            arity.update({name: takes for name in [*param.opts, *param.secondary_opts]})
    return arity


def problems(args: list[str]) -> list[str]:
    """What is wrong with ``supernas ARGS``: an unknown command or subcommand, an unknown option."""
    command = cli()
    path = "supernas"
    found: list[str] = []
    tokens = iter(args)
    for token in tokens:
        if token == "--":
            break
        if token.startswith("-") and token != "-":
            name, has_value, _ = token.partition("=")
            arity = option_arity(command)
            if name not in arity:
                found.append(f"`{path}` has no option {name}")
            elif not has_value:
                for _ in range(arity[name]):
                    next(tokens, None)
        elif (commands := getattr(command, "commands", None)) is not None:
            if token not in commands:
                found.append(f"`{path}` has no command {token!r}; it has: {', '.join(sorted(commands))}")
                break
            command, path = commands[token], f"{path} {token}"
    return found


def runs_supernas(line: str) -> bool:
    """Whether a shell line calls ``supernas``; one shlex cannot read is kept, so its own case fails."""
    try:
        return bool(invocations(line))
    except ValueError:  # unbalanced quotes
        return True


def doc_commands() -> dict[str, str]:
    """Each documented shell line that runs ``supernas``, keyed by its file and line for the test's id."""
    return {
        f"{doc.relative_to(ROOT).as_posix()}:{number}": line
        for doc in DOC_FILES
        for number, line in shell_lines(doc.read_text(encoding="utf-8"))
        if runs_supernas(line)
    }


DOC_COMMANDS = doc_commands()


@pytest.mark.parametrize("line", list(DOC_COMMANDS.values()), ids=list(DOC_COMMANDS))
def test_documented_command_exists(line: str) -> None:
    found = [problem for args in invocations(line) for problem in problems(args)]
    assert not found, f"{line}\n" + "\n".join(found)


def test_readme_commands_are_found() -> None:
    """An empty parametrization would pass silently; the README's tour must be among the cases."""
    assert "supernas jobs" in [line.split("#")[0].strip() for line in DOC_COMMANDS.values()]


def test_checker_rejects_made_up_options_and_commands() -> None:
    """The check above can fail: made-up names are caught, real ones with values pass."""
    [bad_option] = invocations("CI=true supernas run --no-such-flag x.yaml | tee log")
    assert problems(bad_option) == ["`supernas run` has no option --no-such-flag"]
    [bad_command] = invocations("supernas no-such-command --help")
    assert problems(bad_command)[0].startswith("`supernas` has no command 'no-such-command'")
    [good] = invocations("supernas pareto 1 --format=csv > front.csv")
    assert problems(good) == []


def test_shell_lines_join_continuations_and_skip_output() -> None:
    """Continued lines are one command and console output is no command, or lines would be misread."""
    markdown = "```console\n$ supernas jobs \\\n    --json\nsupernas output\n```\n```python\nsupernas\n```\n"
    assert shell_lines(markdown) == [(2, "supernas jobs --json")]


def python_blocks(markdown: str) -> list[tuple[int, str]]:
    """(first line number, code) of each ``python`` code block."""
    blocks, current, start, marker = [], None, 0, None
    for number, line in enumerate(markdown.splitlines(), start=1):
        if marker is None:
            opening = FENCE.match(line)
            if opening:
                marker = opening.group(1)
                current, start = ([] if opening.group(2).lower() == "python" else None), number + 1
        elif line.strip().startswith(marker) and not line.strip().strip(marker[0]):
            if current is not None:
                blocks.append((start, "\n".join(current)))
            marker = current = None
        elif current is not None:
            current.append(line)
    return blocks


DOC_PYTHON = {
    f"{path.relative_to(ROOT)}:{number}": code
    for path in DOC_FILES
    for number, code in python_blocks(path.read_text())
}


@pytest.mark.parametrize("code", list(DOC_PYTHON.values()), ids=list(DOC_PYTHON))
def test_documented_python_parses_and_its_supernas_imports_exist(code: str) -> None:
    """Each example compiles, and every name it imports from supernas is there (the examples themselves
    need trained weights and files, so only their imports run)."""
    tree = ast.parse(code)
    imports = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    exec(compile(ast.Module(body=imports, type_ignores=[]), "<docs>", "exec"), {})


def test_python_blocks_are_found() -> None:
    readme = [code for where, code in DOC_PYTHON.items() if where.startswith("README.md:")]
    assert any("from supernas.models.checkpoint import extract" in code for code in readme)
    assert any(k.startswith("docs/minilm.md") for k in DOC_PYTHON)


REFERENCE = re.compile(r":(?:mod|func|class|meth|attr|data):`~?([\w.]+)`")


def resolves(name: str) -> bool:
    """Whether ``name`` (a dotted path) is a module, or an attribute reached from the longest module."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for part in parts[i:]:
            if not hasattr(found, part):
                return False
            found = getattr(found, part)
        return True
    return False


def test_every_cross_reference_in_a_docstring_names_something_that_exists() -> None:
    """``:mod:`` / ``:func:`` / ``:class:`` references in the source, relative ones resolved against
    their module's package and bare ones against the module, point at what exists: a moved module or
    renamed function cannot leave its references behind."""
    from tests.test_layers import MODULES

    broken = []
    for module, path in sorted(MODULES.items()):
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for reference in REFERENCE.findall(path.read_text()):
            if reference.startswith("."):
                full = package + reference
            elif reference.startswith("supernas."):
                full = reference
            else:
                full = f"{module}.{reference}"
            if not resolves(full):
                broken.append(f"{path.relative_to(ROOT)}: {reference}")
    assert broken == []
