"""/api/jobs/{job_id}/trials: the trials table, one trial, its checkpoint as a zip, its verification and its
distillation."""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
import zipfile
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from supernas.dashboard.archview import arch_view
from supernas.dashboard.convert import metrics_of, trial_architecture, trial_detail, trial_out
from supernas.dashboard.deps import (
    MAX_ID,
    Authorized,
    CacheDep,
    DistillerDep,
    JobId,
    SettingsDep,
    StoreDep,
    TrialNumber,
)
from supernas.dashboard.models import (
    NOT_FOUND,
    REJECTED,
    DistillOut,
    ErrorOut,
    ExportFormat,
    TrialDetail,
    TrialPage,
    TrialState,
)
from supernas.export.exporters import check_applies, export_checkpoint
from supernas.models.checkpoint import CONFIG
from supernas.search.trial_subnets import check_extractable, distill_trial, export_trial, extract_trial
from supernas.search.verify import verify_job
from supernas.spaces.spec import load_spec

router = APIRouter(prefix="/api/jobs/{job_id}/trials", tags=["trials"], responses={**NOT_FOUND, **REJECTED})

Weights = Literal["extracted", "distilled"]
MAX_DISTILL_STEPS = 5_000
_extracting = threading.Lock()  # one extraction at a time: each holds a whole supernet in memory


@router.get("")
def list_trials(
    job_id: JobId,
    store: StoreDep,
    cache: CacheDep,
    state: Annotated[list[TrialState] | None, Query(description="keep trials in these states")] = None,
    on_front: Annotated[
        bool | None, Query(description="keep only trials on (true) or off (false) the front")
    ] = None,
    sort: Annotated[str, Query(description="'number' or one of the job's metrics")] = "number",
    order: Literal["asc", "desc"] = "asc",
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> TrialPage:
    """A page of the job's trials, filtered and sorted; trials without the sort metric come last."""
    spec = store.job_spec(job_id)
    metrics = metrics_of(spec)
    if sort != "number" and sort not in metrics:
        raise HTTPException(
            422, f"sort '{sort}' is not 'number' or a metric of job {job_id} ({', '.join(metrics)})"
        )
    if sort == "number" and not cache.ready(job_id):  # the first view since the server started: one page
        page = store.trials(job_id, state, on_front, "number", order == "desc", limit, offset)
        verified = (
            {v.trial_number: v for v in store.verifications(job_id, [t.number for t in page])} if page else {}
        )
        items = [trial_out(t, t.on_front, arch_view(t.arch_json), verified.get(t.number)) for t in page]
        return TrialPage(
            total=store.count_trials(job_id, state, on_front), offset=offset, limit=limit, items=items
        )
    with cache.fresh(job_id) as data:
        rows = data.select(state, on_front, sort, order == "desc")
        page = rows[offset : offset + limit]
        verified = (
            {v.trial_number: v for v in store.verifications(job_id, [t.number for t in page])} if page else {}
        )
        items = [trial_out(t, t.number in data.front, data.view(t), verified.get(t.number)) for t in page]
    return TrialPage(total=len(rows), offset=offset, limit=limit, items=items)


@router.get("/{number}")
def get_trial(job_id: JobId, number: TrialNumber, store: StoreDep) -> TrialDetail:
    """One trial: its metrics (and their newest verification), its architecture layer by layer, and its
    space's largest values."""
    job = store.get_job(job_id)
    trial = store.get_trial(job_id, number)
    verification = next(iter(store.verifications(job_id, [number])), None)
    return trial_detail(job_id, trial, arch_view(trial.arch_json), load_spec(job.space), verification)


@router.post(
    "/{number}/verify",
    dependencies=Authorized,
    responses={422: {"model": ErrorOut, "description": "a failed or unfinished trial"}},
)
def verify_trial(job_id: JobId, number: TrialNumber, store: StoreDep, settings: SettingsDep) -> TrialDetail:
    """Extract the trial's checkpoint (kept under the server's home in checkpoints/), load it back and
    re-measure every metric of the job on it, as `supernas verify JOB --trials N`; returns the trial with
    its new verification."""
    job = store.get_job(job_id)
    with _extracting:
        verify_job(store, job_id, [number], job_checkpoints(settings, job_id), replace=True)
    trial = store.get_trial(job_id, number)
    verification = next(iter(store.verifications(job_id, [number])), None)
    return trial_detail(job_id, trial, arch_view(trial.arch_json), load_spec(job.space), verification)


def job_checkpoints(settings, job_id: int) -> Path:
    """Where the server keeps a job's checkpoints: ``trial-N`` (extracted), ``trial-N-FORMAT`` (exported)
    and ``trial-N-distilled`` (one per trial; distilling again replaces it)."""
    return settings.home / "checkpoints" / f"job-{job_id}"


def distilled_folder(settings, job_id: int, number: int) -> Path:
    return job_checkpoints(settings, job_id) / f"trial-{number}-distilled"


@router.post(
    "/{number}/distill",
    dependencies=Authorized,
    status_code=202,
    responses={
        409: {"model": ErrorOut, "description": "another distillation is running on this server"},
        422: {"model": ErrorOut, "description": "a failed or unfinished trial"},
    },
)
def start_distillation(
    job_id: JobId,
    number: TrialNumber,
    store: StoreDep,
    settings: SettingsDep,
    distiller: DistillerDep,
    steps: Annotated[int, Query(ge=1, le=MAX_DISTILL_STEPS, description="optimizer steps")] = 300,
) -> DistillOut:
    """Start distilling the trial's subnet from the parent in the background (as `supernas distill JOB
    TRIAL`; kept under the server's home in checkpoints/), then re-measuring every metric of the job on it
    (`supernas verify JOB --checkpoint`). GET .../distill follows it; when done, the trial's verification
    is the distilled one and extract with ``weights=distilled`` downloads it."""
    check_extractable(store.get_job(job_id), store.get_trial(job_id, number))  # refused now, not later
    folder = distilled_folder(settings, job_id, number)

    def distill_and_verify() -> None:
        with _extracting:  # not while an extract is reading it
            shutil.rmtree(folder, ignore_errors=True)  # the server's own earlier distillation
        distill_trial(store, job_id, number, folder, steps=steps, progress=False)
        verify_job(store, job_id, [number], checkpoint=folder)

    run = distiller.start(job_id, number, steps, distill_and_verify)
    if run is None:
        raise HTTPException(409, "another distillation is running on this server: try again when it is done")
    return DistillOut(**asdict(run))


@router.get("/{number}/distill")
def get_distillation(
    job_id: JobId, number: TrialNumber, store: StoreDep, distiller: DistillerDep
) -> DistillOut:
    """The trial's newest distillation since the server started."""
    store.get_trial(job_id, number)
    run = distiller.get(job_id, number)
    if run is None:
        raise HTTPException(404, f"trial {number} of job {job_id} has not been distilled on this server")
    return DistillOut(**asdict(run))


def zip_folder(folder: Path, fmt: str) -> Path:
    """A new zip file of what Extract sends: an export's whole tree (a sentence-transformers folder keeps
    its modules in subfolders), but only a checkpoint's own files (not a distillation's training state)."""
    if fmt == "supernas":
        members = sorted(f for f in folder.iterdir() if f.is_file())
    else:
        members = sorted(folder.rglob("*"))
    with tempfile.NamedTemporaryFile(suffix=".zip", delete=False) as handle:
        with zipfile.ZipFile(handle, "w") as archive:  # stored: weights barely compress
            for path in members:
                archive.write(path, path.relative_to(folder))
    return Path(handle.name)


@router.post(
    "/{number}/extract",
    dependencies=Authorized,
    response_class=FileResponse,
    responses={
        200: {"content": {"application/zip": {}}, "description": "the subnet in the chosen format, zipped"},
        409: {
            "model": ErrorOut,
            "description": "weights=distilled before a distillation of the trial is done",
        },
        422: {
            "model": ErrorOut,
            "description": "a failed trial, a format that does not apply to the subnet (detail: the "
            "reason, as in the trial's formats) or malformed parameters",
        },
    },
)
def extract_checkpoint(
    job_id: JobId,
    number: TrialNumber,
    store: StoreDep,
    settings: SettingsDep,
    distiller: DistillerDep,
    format: Annotated[
        ExportFormat,
        Query(
            description="supernas (config.json + model.safetensors) | onnx (model.onnx) | hf (Hugging Face "
            "transformers) | sentence-transformers (text encoders on MiniLM's vocabulary; the trial's "
            "formats say which apply)"
        ),
    ] = "supernas",
    weights: Annotated[
        Weights,
        Query(description="extracted (the subnet as searched) | distilled (after POST .../distill is done)"),
    ] = "extracted",
) -> FileResponse:
    """Build the trial's standalone model (as `supernas extract JOB TRIAL`, or `supernas export JOB TRIAL
    --format F`; kept under the server's home in checkpoints/), or take its distilled checkpoint, and send
    it as a zip. A format that does not apply to the subnet is refused before anything is written."""
    job = store.get_job(job_id)
    trial = store.get_trial(job_id, number)
    space = load_spec(job.space)
    check_applies(space, trial_architecture(space, trial), format)
    distilled = distilled_folder(settings, job_id, number) if weights == "distilled" else None
    with _extracting:  # checked under the lock: a distillation starting now clears its folder under it too
        if distilled is not None and (
            distiller.running(job_id, number) or not (distilled / CONFIG).is_file()
        ):
            raise HTTPException(
                409, f"trial {number} of job {job_id} has no distilled checkpoint yet: distil it first"
            )
        folder = distilled or job_checkpoints(settings, job_id) / f"trial-{number}"
        if format != "supernas":
            folder = folder.with_name(f"{folder.name}-{format}")
            shutil.rmtree(folder, ignore_errors=True)  # the server's own copy of an earlier export
            if distilled is None:
                export_trial(store, job_id, number, folder, format)
            else:
                export_checkpoint(distilled, folder, format)
        elif distilled is None:
            extract_trial(store, job_id, number, folder)
        archive = zip_folder(folder, format)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", job.name)
    suffix = ("-distilled" if distilled else "") + ("" if format == "supernas" else f"-{format}")
    return FileResponse(
        archive,
        media_type="application/zip",
        filename=f"{name}-trial-{number}{suffix}.zip",
        background=BackgroundTask(archive.unlink),
    )
