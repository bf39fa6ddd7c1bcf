"""User-facing errors.

Every mistake a user can make (a bad spec, an unknown name, a missing file) raises a subclass of
``SupernasError`` whose message is one line naming the file or field, the value and what is allowed.
The CLI prints that line and exits 2; the web API turns it into a 4xx answer.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class SupernasError(Exception):
    """Base of every error caused by user input rather than by a bug."""


class SpecError(SupernasError):
    """A search-space or job specification is invalid."""


class ArchitectureError(SupernasError):
    """An architecture is malformed or not a point of its space."""


class NotFoundError(SupernasError):
    """A named thing (space, metric, file, job, trial) does not exist."""


class InputError(SupernasError):
    """Tensors given to a model do not fit its space (shape, token ids, sequence length)."""


def allowed(values: Iterable[object]) -> str:
    """Render the allowed values for an error message, e.g. ``allowed: 2, 4, 8``."""
    return "allowed: " + ", ".join(str(v) for v in values)


def did_you_mean(value: object, choices: Iterable[object]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices`` to a mistyped ``value``, or nothing."""
    close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _model_in(annotation: object):
    """The pydantic model an annotation holds (``X``, ``X | None``, ``list[X]``), if any."""
    import typing

    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _field_names(model: object, loc: tuple) -> list[str]:
    """The field names of the model found at ``loc`` inside ``model`` (list indices skipped)."""
    current = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if fields is None or part not in fields:
            return []
        current = _model_in(fields[part].annotation)
    return list(getattr(current, "model_fields", {}))


def pydantic_message(error: Exception, where: str, model: object = None) -> str:
    """One line from a pydantic ValidationError: where, field path, value, and what is wrong. With the
    ``model`` that was validated, a mistyped field name gets a suggestion (a typo of a required field
    says so: the missing field is what the user meant)."""
    from pydantic import ValidationError

    if not isinstance(error, ValidationError):
        return f"{where}: {error}"
    errors = sorted(error.errors(), key=lambda e: e["type"] != "extra_forbidden")  # typos explain the rest
    first = errors[0]
    path = ".".join(str(p) for p in first["loc"]) or "(top level)"
    extra = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    if first["type"] == "extra_forbidden":
        parent, name = first["loc"][:-1], first["loc"][-1]
        missing = [e["loc"][-1] for e in errors if e["type"] == "missing" and e["loc"][:-1] == parent]
        hint = did_you_mean(name, missing)
        if hint:  # the missing field is what the user meant: one mistake, not two
            rest = f" (and {len(errors) - 2} more)" if len(errors) > 2 else ""
            return f"{where}: unknown field '{path}'{hint[:-2]}, a required field?){rest}"
        return f"{where}: unknown field '{path}'{did_you_mean(name, _field_names(model, parent))}{extra}"
    if first["type"] == "missing":
        return f"{where}: field '{path}' is required{extra}"
    value = first.get("input")
    shown = repr(value) if not isinstance(value, dict) else "{...}"
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return f"{where}: field '{path}' = {shown}: {first['msg']}{extra}"
