"""supernas.dashboard: the web service (``supernas serve``): a REST API over the store, pages that
chart jobs from that API, and a thread that runs submitted jobs.

``create_app(Settings(...))`` builds the FastAPI application; nothing starts until it is served. Both load on
first use (PEP 562), so the command line's ``--help`` does not start FastAPI.
"""

from __future__ import annotations


def __getattr__(name: str):
    if name == "create_app":
        from supernas.dashboard.app import create_app

        return create_app
    if name == "Settings":
        from supernas.dashboard.settings import Settings

        return Settings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Settings", "create_app"]
