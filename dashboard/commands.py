"""The dashboard commands: ``serve`` (the web service) and ``submit`` (queue a job on one)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from supernas.search.commands import DbOption

commands = typer.Typer()

TokenOption = Annotated[
    Optional[str],
    typer.Option(
        envvar="SUPERNAS_TOKEN", show_envvar=True, help="bearer token for submit/cancel/resume/extract"
    ),
]


@commands.command("serve")
def serve_command(
    host: Annotated[
        str, typer.Option(help="address to listen on; beyond loopback only with a token")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    db: DbOption = None,
    token: TokenOption = None,
    workers: Annotated[
        Optional[int], typer.Option(min=1, help="Ray workers per job (default: each spec's)")
    ] = None,
    max_jobs: Annotated[int, typer.Option(min=1, help="jobs run at once, sharing the cluster's CPUs")] = 1,
    ray_address: Annotated[
        Optional[str], typer.Option(help="run jobs on an existing Ray cluster ('auto' or host:port)")
    ] = None,
) -> None:
    """Web dashboard and REST API (OpenAPI at /docs); runs submitted jobs, up to --max-jobs at once."""
    from supernas.dashboard import Settings, create_app
    from supernas.dashboard.app import listen, serve
    from supernas.dashboard.security import check_exposure

    check_exposure(host, token)
    listener = listen(host, port)
    app = create_app(
        Settings(db_url=db, token=token or None, workers=workers, max_jobs=max_jobs, ray_address=ray_address)
    )
    shown = f"[{host}]" if ":" in host else host
    auth = "token required to change things" if token else "no token: loopback only"
    print(
        f"supernas dashboard on http://{shown}:{port} (store {app.state.store.url_display}; {auth})",
        flush=True,
    )
    serve(app, listener)


@commands.command("submit")
def submit_command(
    job_file: Annotated[Path, typer.Argument(help="job spec (YAML or JSON)")],
    server: Annotated[str, typer.Option(help="URL of a `supernas serve`")] = "http://127.0.0.1:8000",
    token: TokenOption = None,
) -> None:
    """Queue a job on a server; prints the job's id and page."""
    import urllib.error
    import urllib.request

    from supernas.core.errors import NotFoundError, SupernasError

    if not job_file.is_file():
        raise NotFoundError(f"{job_file}: no such file")
    headers = {"Content-Type": "application/json" if job_file.suffix == ".json" else "application/x-yaml"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    base = server.rstrip("/")
    request = urllib.request.Request(
        f"{base}/api/jobs", data=job_file.read_bytes(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            job = json.load(response)
    except urllib.error.HTTPError as e:
        detail = e.read().decode(errors="replace")
        try:
            detail = json.loads(detail)["detail"]
        except (ValueError, KeyError, TypeError):
            pass
        raise SupernasError(f"{server} refused the job ({e.code}): {detail}") from None
    except (urllib.error.URLError, OSError) as e:
        raise SupernasError(f"cannot reach {server}: {getattr(e, 'reason', e)}") from None
    print(f"job {job['id']} ({job['name']}) {job['status']}: {base}/jobs/{job['id']}")
