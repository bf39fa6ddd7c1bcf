"""Schemathesis against the server's own OpenAPI schema: every operation, examples (job 1, trial 0
of a finished job), boundary and random values, and stateful sequences; no answer may be a 5xx, and
every answer must match the schema it documents (status code, content type, body). The outcome is
read from schemathesis's JUnit report, one test case per operation, against the operations the
server's own schema lists."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests.dashboard.server import serving, small_job

SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def _summary(outcome: ElementTree.Element) -> str:
    """A JUnit failure in a few words: its check and the lines that say what was received and expected."""
    keep = ("Received", "Documented", "violates", "ST1", "[", "curl")
    lines = [line.strip() for line in (outcome.text or "").splitlines() if line.strip().startswith(keep)]
    return f"{outcome.tag} {outcome.get('message')}: " + " | ".join(lines)[:600]


@pytest.fixture(scope="module")
def server_with_a_job(tmp_path_factory):
    with serving(tmp_path_factory.mktemp("fuzz-home")) as server:
        job = server.submit(small_job(budget={"trials": 8}))
        server.wait(job["id"])
        yield server


def test_no_server_errors_anywhere_in_the_schema(server_with_a_job, tmp_path):
    result = subprocess.run(
        [
            SCHEMATHESIS,
            "run",
            f"{server_with_a_job.url}/openapi.json",
            "--checks",
            CHECKS,
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--max-examples",
            "30",
            "--seed",
            "0",
            "--workers",
            "1",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,  # it keeps a cache in its working directory
    )
    output = result.stdout + result.stderr
    with urllib.request.urlopen(f"{server_with_a_job.url}/openapi.json", timeout=30) as response:
        schema = json.load(response)
    operations = {
        f"{method.upper()} {path}"
        for path, item in schema["paths"].items()
        for method in item
        if method in METHODS
    }
    (report,) = tmp_path.glob("**/*.xml")
    cases = {case.get("name"): case for case in ElementTree.parse(report).iter("testcase")}
    assert operations <= set(cases), f"not tested: {sorted(operations - set(cases))}"
    problems = {
        name: [_summary(child) for child in case if child.tag in ("failure", "error", "skipped")]
        for name, case in cases.items()
    }
    failing = {name: found for name, found in problems.items() if found}
    assert not failing, json.dumps(failing, indent=1)
    assert result.returncode == 0, output[-6000:]
    assert server_with_a_job.process.poll() is None  # and the server is still up
    assert (
        server_with_a_job.home / "checkpoints" / "job-1" / "trial-0" / "model.safetensors"
    ).exists()  # examples reached extract
