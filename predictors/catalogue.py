"""Imports every built-in metric module so that their ``@register`` decorators run."""

from supernas.predictors import costs, fidelity, oneshot, proxies
from supernas.predictors.latency import metrics as latency_metrics  # noqa: F401
