"""FastAPI dependencies: the server's store, runner, trial cache, settings and distillations, from
``app.state``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from supernas.dashboard.distiller import Distiller
from supernas.dashboard.jobdata import JobDataCache
from supernas.dashboard.runner import JobRunner
from supernas.dashboard.security import require_token
from supernas.dashboard.settings import Settings
from supernas.search.store.store import Store


def get_store(request: Request) -> Store:
    return request.app.state.store


def get_runner(request: Request) -> JobRunner:
    return request.app.state.runner


def get_cache(request: Request) -> JobDataCache:
    return request.app.state.cache


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_distiller(request: Request) -> Distiller:
    return request.app.state.distiller


StoreDep = Annotated[Store, Depends(get_store)]
RunnerDep = Annotated[JobRunner, Depends(get_runner)]
CacheDep = Annotated[JobDataCache, Depends(get_cache)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
DistillerDep = Annotated[Distiller, Depends(get_distiller)]
Authorized = [Depends(require_token)]

MAX_ID = 2**31 - 1  # ids and numbers are 32-bit on PostgreSQL: larger ones cannot exist
JobId = Annotated[int, Path(ge=1, le=MAX_ID, description="job id", examples=[1])]
TrialNumber = Annotated[int, Path(ge=0, le=MAX_ID, description="trial number within the job", examples=[0])]
