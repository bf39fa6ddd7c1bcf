"""Shared fixtures: every test gets its own SUPERNAS_HOME so nothing touches the user's files."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    home = tmp_path / "supernas-home"
    monkeypatch.setenv("SUPERNAS_HOME", str(home))
    return home
