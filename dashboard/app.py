"""The application factory: store, job runner and trial cache on ``app.state``; the API routers, the
pages and their static files; user mistakes (``SupernasError``) as 404/422 answers."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from supernas.core.errors import NotFoundError, SupernasError
from supernas.dashboard.api import jobs, spaces, trials
from supernas.dashboard.apidocs import mount_docs
from supernas.dashboard.distiller import Distiller
from supernas.dashboard.jobdata import JobDataCache
from supernas.dashboard.pages import render
from supernas.dashboard.pages import router as pages_router
from supernas.dashboard.runner import JobRunner
from supernas.dashboard.security import LoopbackHostOnly, SecurityHeaders
from supernas.dashboard.settings import Settings
from supernas.predictors.catalogue import metric_names
from supernas.search.store.store import open_store

log = logging.getLogger("supernas.dashboard")

DESCRIPTION = """Neural architecture search jobs: submit a spec, follow its Pareto front and hypervolume,
inspect trials, download subnet checkpoints. Routes that change state or return checkpoints need
`Authorization: Bearer <token>` when the server has a token."""


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app for ``settings``; the store opens now (a bad URL fails before serving), the job
    runner starts and stops with the server."""
    settings = settings or Settings()
    store = open_store(settings.db_url)
    runner = JobRunner(store, settings.workers, settings.max_jobs, settings.ray_address)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # every job view needs the metric registry (objectives' directions): loading it takes a second
        metric_names()
        runner.start()
        try:
            yield
        finally:
            await run_in_threadpool(runner.close)
            store.close()

    app = FastAPI(
        title="supernas",
        version=version("supernas"),
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings, app.state.store, app.state.runner, app.state.cache = (
        settings,
        store,
        runner,
        JobDataCache(store),
    )
    app.state.distiller = Distiller()
    for router in (jobs.router, trials.router, spaces.router, pages_router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    mount_docs(app)
    app.add_exception_handler(SupernasError, _user_error)
    app.add_exception_handler(HTTPException, _page_not_found)
    app.add_exception_handler(RequestValidationError, _bad_page_address)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(
        GZipMiddleware, minimum_size=1024, compresslevel=1
    )  # level 1: most of the shrinking at a fraction of level 9's time
    if not settings.token:
        app.add_middleware(LoopbackHostOnly)
    return app


def listen(host: str, port: int) -> socket.socket:
    """The bound server socket. Bound before the app starts, so a taken port is one clear line
    rather than uvicorn's error after the job runner has already started."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        listener = socket.socket(family, kind, proto)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
    except OSError as e:
        raise SupernasError(
            f"cannot listen on {host}:{port}: {e.strerror or e} (another server there? choose another --port)"
        ) from None
    return listener


def serve(app: FastAPI, listener: socket.socket) -> None:
    """Serve ``app`` on ``listener`` until Ctrl-C or SIGTERM, then shut down gracefully and return."""
    import uvicorn

    try:
        uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[listener])
    except KeyboardInterrupt:  # uvicorn shuts down, then raises the captured Ctrl-C again
        pass


def _user_error(request: Request, error: Exception) -> Response:
    """A user's mistake: 404 for a missing thing, else 422; JSON under /api, a page elsewhere."""
    status = 404 if isinstance(error, NotFoundError) else 422
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": str(error)}, status)
    return render(
        request,
        "error.html",
        status_code=status,
        title="Not found" if status == 404 else "Error",
        message=str(error),
    )


def _is_page(request: Request) -> bool:
    """An address a person opens in a browser, as opposed to the API, its docs and the static files."""
    return not request.url.path.startswith(("/api/", "/static/", "/vendor/", "/openapi.json", "/docs"))


def _not_found_page(request: Request, why: str) -> Response:
    return render(request, "error.html", status_code=404, title="Not found", message=why)


async def _page_not_found(request: Request, error: HTTPException) -> Response:
    """An unknown page is the 404 page; everything else answers as FastAPI does."""
    if error.status_code == 404 and _is_page(request):
        return _not_found_page(request, f"there is no page at {request.url.path}")
    return await http_exception_handler(request, error)


async def _bad_page_address(request: Request, error: RequestValidationError) -> Response:
    """/jobs/abc: a page address whose id is not a number names nothing, so it is a 404 page too."""
    if _is_page(request):
        return _not_found_page(
            request, f"there is no page at {request.url.path}: job ids and trial numbers are whole numbers"
        )
    return await request_validation_exception_handler(request, error)
