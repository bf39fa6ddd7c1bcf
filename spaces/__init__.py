"""Search spaces, architectures, the weight-sharing supernet and subnet extraction.

The names below load on first use (PEP 562), so a caller that needs one small module (the command line's
``--help``, for one) does not pay for torch.
"""

from __future__ import annotations

import importlib

_HOMES = {
    "architecture": ["Architecture", "LayerArch", "check", "crossover", "largest", "mutate", "n_subnets",
                     "parse_architecture", "sample", "sample_many", "smallest"],
    "checkpoint": ["extract", "load_subnet", "save_subnet"],
    "errors": ["ArchitectureError", "NotFoundError", "SpecError", "SupernasError"],
    "model": ["Transformer"],
    "spec": ["AttentionType", "SpaceSpec", "builtin_names", "load_spec"],
    "subnet": ["parameter_count"],
    "supernet": ["Supernet"],
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}


def get_space(name_or_path: str):
    """A built-in space by name, or a spec file by path."""
    from .spec import load_spec

    return load_spec(name_or_path)


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)
    globals()[name] = value
    return value


__all__ = sorted([*_MODULE_OF, "get_space"])
