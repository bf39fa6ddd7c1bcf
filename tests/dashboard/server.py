"""A real ``supernas serve`` process on a free loopback port with its own home and SQLite file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from tests.barrier import PATIENCE_S
from tests.processes import free_port, kill_ray_session_of

SUPERNAS = str(Path(sys.executable).with_name("supernas"))
FINISHED_STATUSES = ("completed", "stopped", "failed")


def small_job(**overrides: object) -> dict:
    """A gpt-tiny job that finishes in seconds on one worker; the FLOPs cap makes some trials infeasible."""
    return {
        "name": "api-test",
        "space": "gpt-tiny",
        "objectives": [{"metric": "hidden_cov"}, {"metric": "flops"}],
        "constraints": [{"metric": "flops", "max": 1.2e6}],
        "strategy": {"name": "nsga2", "population": 6},
        "budget": {"trials": 16},
        "workers": 1,
        "seed": 0,
        **overrides,
    }


# how Extract refuses sentence-transformers for small_job's subnets (gpt-tiny is no text encoder)
SENTENCE_REFUSAL = (
    "format 'sentence-transformers' is for text encoders (task encoder_classification); "
    "space 'gpt-tiny' is task 'causal_lm'; use --format hf"
)


@dataclass
class Server:
    url: str
    home: Path
    db_url: str
    process: subprocess.Popen
    token: str | None = None

    def client(self, token: str | None = None) -> httpx.Client:
        """A client of this server sending ``token`` (default: the server's own) as a bearer token."""
        token = self.token if token is None else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=120)

    def submit(self, job: dict) -> dict:
        with self.client() as c:
            response = c.post(
                "/api/jobs", content=yaml.safe_dump(job), headers={"Content-Type": "application/x-yaml"}
            )
        assert response.status_code == 201, response.text
        return response.json()

    def wait(
        self,
        job_id: int,
        statuses: tuple[str, ...] = FINISHED_STATUSES,
        timeout: float = PATIENCE_S,
        evaluated: int | None = None,
    ) -> dict:
        """The job once its status is one of ``statuses`` (and, if given, ``evaluated`` trials are done)."""
        deadline = time.monotonic() + timeout
        with self.client() as c:
            while time.monotonic() < deadline:
                assert self.process.poll() is None, (
                    f"server exited with {self.process.returncode}: {self.log()}"
                )
                response = c.get(f"/api/jobs/{job_id}")
                assert response.status_code == 200, f"{response.status_code} {response.text}\n{self.log()}"
                job = response.json()
                if job["status"] in statuses and (evaluated is None or job["evaluated"] >= evaluated):
                    return job
                time.sleep(0.25)
        raise AssertionError(f"job {job_id} did not reach {statuses} in {timeout} s: {job}\n{self.log()}")

    def log(self) -> str:
        path = self.home / "server.log"
        return path.read_text() if path.exists() else ""

    def stop(self, sig: int = signal.SIGINT) -> int:
        """Stop the server with ``sig`` (SIGINT: graceful; SIGKILL: a crash, Ray cleaned up after it)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(120)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        kill_ray_session_of(self.process.pid)
        return self.process.returncode


@contextmanager
def serving(home: Path, *args: str, token: str | None = None) -> Iterator[Server]:
    """A server on ``home`` (SQLite at home/supernas.db) until the block ends; ``args`` go to
    ``supernas serve``."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    db_url = f"sqlite:///{home / 'supernas.db'}"
    env = {**os.environ, "SUPERNAS_HOME": str(home), "PYTHONUNBUFFERED": "1", "SUPERNAS_LEASE_S": "5"}
    env.pop("SUPERNAS_TOKEN", None)
    command = [SUPERNAS, "serve", "--port", str(port), "--db", db_url, "--workers", "1", *args]
    if token:
        command += ["--token", token]
    with open(home / "server.log", "ab") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(f"http://127.0.0.1:{port}", home, db_url, process, token)
    try:
        deadline = time.monotonic() + PATIENCE_S
        while True:
            assert process.poll() is None, f"server exited with {process.returncode}: {server.log()}"
            try:
                if httpx.get(f"{server.url}/api/spaces", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"server did not answer in {PATIENCE_S} s: {server.log()}"
            time.sleep(0.2)
        yield server
    finally:
        server.stop()
