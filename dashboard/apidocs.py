"""The API docs page, served whole by this server. Swagger UI's files (5.x, which reads OpenAPI 3.1 as
FastAPI writes it) come from the ``swagger-ui-py`` Python package, so ``/docs`` works offline (FastAPI's
default page loads them from a CDN); a script file starts it rather than an inline script, so it runs
under the pages' content security policy."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"

PAGE = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>supernas API</title>
  <link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{ASSETS}/swagger-ui-bundle.js"></script>
  <script src="/static/apidocs.js"></script>
</body>
</html>
"""

router = APIRouter(include_in_schema=False)


@router.get("/docs", response_class=HTMLResponse)
def docs_page() -> str:
    return PAGE


def mount_docs(app: FastAPI) -> None:
    """``/docs`` and the Swagger UI files it loads."""
    from importlib.resources import files

    app.include_router(router)
    app.mount(ASSETS, StaticFiles(directory=str(files("swagger_ui") / "static")), name="docs-assets")
