"""/api/spaces: the built-in search spaces a job can name."""

from __future__ import annotations

from fastapi import APIRouter

from supernas.core.errors import NotFoundError
from supernas.dashboard.convert import space_limits
from supernas.dashboard.models import NOT_FOUND, REJECTED, SpaceOut
from supernas.spaces.architecture import log10_subnets
from supernas.spaces.spec import builtin_names, load_spec

router = APIRouter(prefix="/api/spaces", tags=["spaces"])


@router.get("")
def list_spaces() -> list[SpaceOut]:
    return [
        SpaceOut(
            name=s.name,
            task=s.task,
            description=s.description,
            log10_subnets=log10_subnets(s),
            limits=space_limits(s),
        )
        for s in map(load_spec, builtin_names())
    ]


@router.get("/{name}", responses={**NOT_FOUND, **REJECTED})
def get_space_spec(name: str) -> dict:
    """A built-in space's full spec (only built-in names: the API reads no files by path)."""
    if name not in builtin_names():
        raise NotFoundError(f"no built-in space '{name}'; built-in spaces: {', '.join(builtin_names())}")
    return load_spec(name).model_dump(mode="json")
