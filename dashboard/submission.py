"""A job spec sent to the server: parsed safely, its paths kept inside the supernas home, validated."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from supernas.core.errors import SpecError
from supernas.data.task import BUILTINS
from supernas.predictors.plugins import is_file_plugin
from supernas.search.jobspec import JobSpec, validate_job
from supernas.spaces.spec import builtin_names, yaml_problem

WHERE = "submitted spec"
MAX_SPEC_BYTES = 64 * 1024


class SpecLoader(yaml.SafeLoader):
    """``yaml.safe_load`` without aliases: a spec never needs them, and a few kilobytes of nested
    aliases expand to billions of nodes once anything walks the result."""

    def compose_node(self, parent, index):  # noqa: ANN001 - PyYAML's signature
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed", self.peek_event().start_mark
            )
        return super().compose_node(parent, index)


def parse_body(body: bytes, content_type: str) -> object:
    """The body as data: JSON when the client says so, YAML (which JSON also is) otherwise."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(f"{WHERE}: not UTF-8 text") from None
    if content_type.split(";")[0].strip().lower() == "application/json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise SpecError(f"{WHERE}: not valid JSON: line {e.lineno}, column {e.colno}: {e.msg}") from None
    try:
        return yaml.load(text, Loader=SpecLoader)
    except yaml.YAMLError as e:
        raise SpecError(f"{WHERE}: not valid YAML: {yaml_problem(e)}") from None


def confine_paths(data: dict, home: Path) -> dict:
    """``data`` with its file paths (``space`` and ``data`` unless built-in names, ``supernet``) made
    absolute, relative ones taken from ``home``; a path that resolves outside ``home`` is a SpecError, so a
    submitted job cannot make the server read (and quote in its errors) files outside its home."""
    root = home.resolve()
    confined = dict(data)
    builtin = {"space": set(builtin_names()), "supernet": set(), "data": set(BUILTINS)}
    for field in ("space", "supernet", "data"):
        value = data.get(field)
        if not isinstance(value, str) or value in builtin[field]:
            continue
        try:
            path = (root / value).resolve()  # an absolute value replaces root; symlinks are followed
        except (OSError, ValueError) as e:  # a NUL byte, a name too long
            raise SpecError(f"{WHERE}: field '{field}': not a usable path ({e})") from None
        if not path.is_relative_to(root):
            raise SpecError(
                f"{WHERE}: field '{field}' = {value!r}: a path must lie inside the server's supernas home"
            )
        confined[field] = str(path)
    plugins = data.get("plugins")
    if isinstance(plugins, list):  # plugin files too: importing one runs its code on the server
        confined["plugins"] = [
            _confined_plugin(p, root) if isinstance(p, str) and is_file_plugin(p) else p for p in plugins
        ]
    return confined


def _confined_plugin(value: str, root: Path) -> str:
    try:
        path = (root / value).resolve()
    except (OSError, ValueError) as e:
        raise SpecError(f"{WHERE}: field 'plugins': {value!r} is not a usable path ({e})") from None
    if not path.is_relative_to(root):
        raise SpecError(
            f"{WHERE}: field 'plugins': {value!r}: a plugin file must lie inside the server's supernas home"
        )
    return str(path)


def read_submission(body: bytes, content_type: str, home: Path) -> JobSpec:
    """A validated job spec from a request body; every mistake is a one-line SpecError naming the field."""
    data = parse_body(body, content_type)
    if not isinstance(data, dict):
        raise SpecError(f"{WHERE}: a job spec must be a mapping, got {type(data).__name__}")
    return validate_job(confine_paths(data, home), WHERE)
