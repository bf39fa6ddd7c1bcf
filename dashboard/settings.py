"""What one dashboard server is configured with, fixed when its app is created."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from supernas.core.paths import supernas_home


@dataclass(frozen=True)
class Settings:
    """``db_url`` None means ``SUPERNAS_DB``, else SQLite in the home; ``token`` None means no auth
    (loopback only); ``workers`` None means each job's own ``workers``; ``max_jobs`` jobs run at once,
    on local Ray or on the cluster at ``ray_address``. The home is read once, so uploaded paths are
    confined to the same folder for the server's whole life."""

    db_url: str | None = None
    token: str | None = None
    workers: int | None = None
    max_jobs: int = 1
    ray_address: str | None = None
    home: Path = field(default_factory=supernas_home)
