"""Where supernas keeps its files: ``SUPERNAS_HOME`` (default ``~/.supernas``)."""

from __future__ import annotations

import os
from pathlib import Path


def supernas_home() -> Path:
    home = Path(os.environ.get("SUPERNAS_HOME", Path.home() / ".supernas")).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home
