"""Shared fixtures: every test gets its own SUPERNAS_HOME so nothing touches the user's files."""

from __future__ import annotations

import os

import pytest
import torch

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
