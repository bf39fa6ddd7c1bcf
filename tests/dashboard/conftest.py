"""One server with one finished job, shared by the tests that only read from it."""

from __future__ import annotations

import pytest

from tests.dashboard.server import serving, small_job


@pytest.fixture(scope="session")
def finished_server(tmp_path_factory):
    """A server whose job 1 (``small_job()``) has finished."""
    with serving(tmp_path_factory.mktemp("server-home")) as server:
        job = server.submit(small_job())
        assert server.wait(job["id"])["status"] == "completed", server.log()
        yield server
