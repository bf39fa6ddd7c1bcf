"""Shared pieces of the store tests: objectives, a job, architectures by id."""

from __future__ import annotations

from supernas.search.store.store import Store

TWO = [("loss", "minimize"), ("latency", "minimize")]
THREE = [("loss", "minimize"), ("accuracy", "maximize"), ("params", "minimize")]


def new_job(store: Store, name: str = "job", budget: int | None = 100) -> int:
    return store.create_job(name, "gpt-tiny", {"name": name, "objectives": [{"metric": "loss"}]}, budget).id


def archs(*ids: str) -> list[tuple[str, str]]:
    return [(arch_id, f'{{"id": "{arch_id}"}}') for arch_id in ids]
