"""Imports every built-in metric module so that their ``@register`` decorators run."""

from . import costs, fidelity, latency_metrics, oneshot, proxies  # noqa: F401
