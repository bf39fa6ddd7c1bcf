"""Schemathesis against the server's own OpenAPI schema: every operation, examples (job 1, trial 0
of a finished job), boundary and random values, and stateful sequences; no answer may be a 5xx."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from .server import serving, small_job

SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))


@pytest.fixture(scope="module")
def server_with_a_job(tmp_path_factory):
    with serving(tmp_path_factory.mktemp("fuzz-home")) as server:
        job = server.submit(small_job(budget={"trials": 8}))
        server.wait(job["id"])
        yield server


def test_no_server_errors_anywhere_in_the_schema(server_with_a_job, tmp_path):
    result = subprocess.run(
        [SCHEMATHESIS, "run", f"{server_with_a_job.url}/openapi.json", "--checks", "not_a_server_error",
         "--phases", "examples,coverage,fuzzing,stateful", "--max-examples", "30", "--seed", "0", "--workers", "1",
         "--report", "junit", "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,  # it keeps a cache in its working directory
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    generated = re.search(r"(\d+) generated, (\d+) passed", output)
    assert generated and int(generated[1]) == int(generated[2]) > 300, output[-3000:]
    assert "14/14" in output  # every operation was selected and tested
    assert server_with_a_job.process.poll() is None  # and the server is still up
    assert (server_with_a_job.home / "checkpoints" / "job-1" / "trial-0" / "model.safetensors").exists()  # examples reached extract
