"""supernas.dashboard: the web service (``supernas serve``): a REST API over the store, pages that
chart jobs from that API, and a thread that runs submitted jobs.

``create_app(Settings(...))`` builds the FastAPI application; nothing starts until it is served.
"""

from .app import create_app
from .settings import Settings

__all__ = ["Settings", "create_app"]
