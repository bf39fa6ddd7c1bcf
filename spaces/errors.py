"""User-facing errors.

Every mistake a user can make (a bad spec, an unknown name, a missing file) raises a subclass of
``SupernasError`` whose message is one line naming the file or field, the value and what is allowed.
The CLI prints that line and exits 2; the web API turns it into a 4xx answer.
"""

from __future__ import annotations

from collections.abc import Iterable


class SupernasError(Exception):
    """Base of every error caused by user input rather than by a bug."""


class SpecError(SupernasError):
    """A search-space or job specification is invalid."""


class ArchitectureError(SupernasError):
    """An architecture is malformed or not a point of its space."""


class NotFoundError(SupernasError):
    """A named thing (space, metric, file, job, trial) does not exist."""


def allowed(values: Iterable[object]) -> str:
    """Render the allowed values for an error message, e.g. ``allowed: 2, 4, 8``."""
    return "allowed: " + ", ".join(str(v) for v in values)


def pydantic_message(error: Exception, where: str) -> str:
    """One line from a pydantic ValidationError: where, field path, value, and what is wrong."""
    from pydantic import ValidationError

    if not isinstance(error, ValidationError):
        return f"{where}: {error}"
    errors = sorted(error.errors(), key=lambda e: e["type"] != "extra_forbidden")  # typos explain the rest
    first = errors[0]
    path = ".".join(str(p) for p in first["loc"]) or "(top level)"
    extra = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    if first["type"] == "extra_forbidden":
        return f"{where}: unknown field '{path}'{extra}"
    if first["type"] == "missing":
        return f"{where}: field '{path}' is required{extra}"
    value = first.get("input")
    shown = repr(value) if not isinstance(value, dict) else "{...}"
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return f"{where}: field '{path}' = {shown}: {first['msg']}{extra}"
