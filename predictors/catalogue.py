"""The catalogue of metrics: every built-in metric, then those of installed plugins, by name.

The registry (:mod:`supernas.predictors.base`) knows no implementation; importing this module imports
them all, so that their ``@register`` decorators run, and looks metrics up by name.
"""

from __future__ import annotations

from supernas.core.errors import NotFoundError, allowed, did_you_mean
from supernas.predictors import costs, fidelity, oneshot, proxies  # noqa: F401  (they register on import)
from supernas.predictors.base import REGISTRY, Metric
from supernas.predictors.latency import metrics as latency_metrics  # noqa: F401
from supernas.predictors.plugins import load_entry_point_plugins

_entry_points_loaded = False


def _load_installed_plugins() -> None:
    """The metrics of installed plugins (the ``supernas.metrics`` entry points), once per process."""
    global _entry_points_loaded
    if not _entry_points_loaded:
        _entry_points_loaded = True
        load_entry_point_plugins()


def metric_names() -> list[str]:
    _load_installed_plugins()
    return sorted(REGISTRY)


def get_metric(name: str, **options: object) -> Metric:
    """A metric instance by registered name; unknown names list what exists."""
    _load_installed_plugins()
    if name not in REGISTRY:
        raise NotFoundError(
            f"unknown metric '{name}'{did_you_mean(name, REGISTRY)} ({allowed(sorted(REGISTRY))})"
        )
    return REGISTRY[name](**options)
