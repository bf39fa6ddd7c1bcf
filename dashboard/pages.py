"""The HTML pages. Each is a template with a little markup; its script draws it from the JSON API, so
the pages and the API always show the same thing."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates

from supernas.core.errors import SpecError
from supernas.dashboard.deps import JobId, StoreDep, TrialNumber

PLOTLY_JS = Path(str(files("plotly") / "package_data" / "plotly.min.js"))  # bundled with plotly: no CDN
TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
FAVICON = Path(__file__).parent / "static" / "favicon.svg"
CACHED = {"Cache-Control": "public, max-age=86400"}

router = APIRouter(include_in_schema=False)


def render(request: Request, template: str, status_code: int = 200, **context: object) -> HTMLResponse:
    """A page; the layout shows the token field when the server requires a token."""
    auth_required = bool(request.app.state.settings.token)
    return TEMPLATES.TemplateResponse(
        request, template, {"auth_required": auth_required, **context}, status_code=status_code
    )


@router.get("/")
def jobs_page(request: Request) -> HTMLResponse:
    return render(request, "jobs.html", title="Jobs")


@router.get("/jobs/{job_id}")
def job_page(request: Request, job_id: JobId, store: StoreDep) -> HTMLResponse:
    job = store.get_job(job_id)
    return render(request, "job.html", title=f"Job {job.id}: {job.name}", job=job)


@router.get("/jobs/{job_id}/trials/{number}")
def trial_page(request: Request, job_id: JobId, number: TrialNumber, store: StoreDep) -> HTMLResponse:
    job = store.get_job(job_id)
    trial = store.get_trial(job_id, number)
    return render(request, "trial.html", title=f"Trial {trial.number} of job {job.id}", job=job, trial=trial)


@router.get("/compare")
def compare_page(request: Request, jobs: str = "") -> HTMLResponse:
    """``?jobs=1,2``: those jobs' fronts on one chart."""
    ids = [part.strip() for part in jobs.split(",") if part.strip()]
    if len(ids) < 2 or not all(part.isdigit() for part in ids):
        raise SpecError(f"compare needs ?jobs= with two or more job ids separated by commas, got {jobs!r}")
    return render(request, "compare.html", title=f"Compare jobs {', '.join(ids)}", job_ids=",".join(ids))


@router.get("/favicon.ico")
def favicon() -> FileResponse:
    """Browsers ask here whatever the page links; the icon is the one every page links."""
    return FileResponse(FAVICON, media_type="image/svg+xml", headers=CACHED)


@router.get("/vendor/plotly.min.js")
def plotly_js() -> FileResponse:
    return FileResponse(PLOTLY_JS, media_type="text/javascript", headers=CACHED)
