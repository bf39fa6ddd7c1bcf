"""Plugin metrics registered by a test stay in that test: the registry and the imported plugin modules
(those in the test's folders, and any that registered a metric) are put back afterwards, so later tests
(in this process) see only the built-in metrics."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from supernas.predictors.base import REGISTRY
from supernas.predictors.catalogue import metric_names


@pytest.fixture(autouse=True)
def registry_restored(tmp_path_factory):
    metric_names()  # built-ins registered before the snapshot: their modules are imported only once
    before = dict(REGISTRY)
    yield
    registering = {cls.__module__ for name, cls in REGISTRY.items() if name not in before}
    REGISTRY.clear()
    REGISTRY.update(before)
    for name in registering:  # imported again by the next job that names it, registering again
        sys.modules.pop(name, None)
    base = tmp_path_factory.getbasetemp().resolve()
    for name, module in list(sys.modules.items()):
        origin = getattr(module, "__file__", None)
        if origin and Path(origin).resolve().is_relative_to(base):
            del sys.modules[name]
