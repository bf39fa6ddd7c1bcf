"""Shared fixtures: every test gets its own SUPERNAS_HOME so nothing touches the user's files."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

from supernas.predictors.base import REGISTRY
from supernas.predictors.catalogue import metric_names

if not torch.cuda.is_available():
    # Triton kernels run in Triton's interpreter on CPU; chosen before anything (torch's FLOP counter,
    # for one) first imports triton, which fixes the mode of its own library functions at import
    os.environ.setdefault("TRITON_INTERPRET", "1")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    home = tmp_path / "supernas-home"
    monkeypatch.setenv("SUPERNAS_HOME", str(home))
    return home


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """Tiny models on a 2-core machine: intra-op threads only add overhead (and stall under load)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def keyword_set(tmp_path_factory):
    """A small spoken keyword set (``supernas data keywords``), synthesised once per test session."""
    from supernas.data.keywords import make_keywords
    from tests.helpers import KEYWORD_SET

    directory = tmp_path_factory.mktemp("keywords") / "set"
    make_keywords(directory, **KEYWORD_SET)
    return directory


@pytest.fixture(autouse=True)
def registry_restored(tmp_path_factory):
    """Plugin metrics registered by a test stay in that test (a job validated in this process imports
    its plugins): the registry is put back afterwards, and the plugin modules imported meanwhile are
    forgotten, so later tests see only the built-in metrics and a later job imports its plugins anew."""
    metric_names()  # built-ins registered before the snapshot: their modules are imported only once
    registered, modules = dict(REGISTRY), set(sys.modules)
    yield
    registering = {cls.__module__ for name, cls in REGISTRY.items() if name not in registered}
    REGISTRY.clear()
    REGISTRY.update(registered)
    base = tmp_path_factory.getbasetemp().resolve()
    for name in set(sys.modules) - modules:
        origin = getattr(sys.modules[name], "__file__", None)
        if name in registering or (origin and Path(origin).resolve().is_relative_to(base)):
            del sys.modules[name]
    for name in registering:
        sys.modules.pop(name, None)
