"""The declared minimum versions cover what the code uses.

Each entry names a feature supernas relies on, the release that introduced it, and a probe showing that
the installed package has it (so the table cannot list a feature that does not exist). A pyproject
floor below that release is a failure: a user installing the minimum would hit a missing API mid-job.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _optuna_constraints() -> bool:
    import optuna

    trial = optuna.trial.create_trial(params={}, distributions={}, value=1.0, constraints={"violation": 0.5})
    return trial.constraints == {"violation": 0.5} and hasattr(optuna.trial.Trial, "set_constraint")


def _typer_nameless_groups() -> bool:
    import typer
    from typer.main import get_command

    parent, child = typer.Typer(), typer.Typer()
    child.command("inner")(lambda: None)
    parent.command("other")(lambda: None)
    parent.add_typer(child)
    return "inner" in get_command(parent).commands


def _sqlalchemy_declarative_base() -> bool:
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column  # noqa: F401

    return True


def _pydantic_v2() -> bool:
    from pydantic import ConfigDict, field_validator, model_validator  # noqa: F401

    return True


# distribution -> (release that introduced the feature, what the code uses, probe)
FEATURES: dict[str, tuple[tuple[int, ...], str, Callable[[], bool]]] = {
    "optuna": (
        (5, 0),
        "Trial.set_constraint and create_trial(constraints=) (search/strategies/optuna.py)",
        _optuna_constraints,
    ),
    "typer": ((0, 14), "add_typer without a name merges commands (cli/__init__.py)", _typer_nameless_groups),
    "sqlalchemy": (
        (2, 0),
        "DeclarativeBase and Mapped (search/store/tables.py)",
        _sqlalchemy_declarative_base,
    ),
    "pydantic": (
        (2, 0),
        "field_validator, model_validator, ConfigDict (spaces/spec.py, search/jobspec.py)",
        _pydantic_v2,
    ),
}


def _padded(version: tuple[int, ...]) -> tuple[int, ...]:
    return (version + (0, 0, 0))[:3]  # 5 == 5.0 == 5.0.0


def declared_floors() -> dict[str, tuple[int, ...]]:
    """``name>=X.Y`` of the core dependencies, as integer tuples."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    floors = {}
    for requirement in project["dependencies"]:
        match = re.fullmatch(
            r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?>=([0-9.]+).*", requirement.split(";")[0].strip()
        )
        if match:
            floors[match[1].lower()] = _padded(tuple(int(x) for x in match[2].split(".")))
    return floors


@pytest.mark.parametrize("name", sorted(FEATURES))
def test_the_declared_floor_has_what_the_code_uses(name):
    needed, what, probe = FEATURES[name]
    assert probe(), f"the installed {name} lacks {what}"
    floor = declared_floors()[name]
    assert floor >= _padded(needed), (
        f"pyproject says {name}>={'.'.join(map(str, floor))}, but {what} needs {'.'.join(map(str, needed))}"
    )
