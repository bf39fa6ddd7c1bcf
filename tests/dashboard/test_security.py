"""Who may change things: bearer tokens, loopback-only binding, DNS-rebinding and cross-site refusals,
and the ``supernas submit`` client against a guarded server."""

from __future__ import annotations

import os
import subprocess

import pytest
import yaml

from tests.dashboard.server import SUPERNAS, serving, small_job

TOKEN = "s3cret-token"
NO_TOKEN_ENV = {k: v for k, v in os.environ.items() if k != "SUPERNAS_TOKEN"}


@pytest.fixture(scope="module")
def guarded_server(tmp_path_factory):
    with serving(tmp_path_factory.mktemp("guarded-home"), token=TOKEN) as server:
        yield server


def test_state_changing_routes_need_the_token(guarded_server):
    spec = yaml.safe_dump(small_job()).encode()
    yaml_type = {"Content-Type": "application/x-yaml"}
    with guarded_server.client(token="") as anonymous, guarded_server.client(token="wrong") as wrong:
        assert anonymous.get("/api/jobs").status_code == 200  # reading is open
        for client in (anonymous, wrong):
            refused = client.post("/api/jobs", content=spec, headers=yaml_type)
            assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
            assert client.post("/api/jobs/1/cancel").status_code == 401
            assert client.post("/api/jobs/1/resume").status_code == 401
            assert client.post("/api/jobs/1/trials/0/extract").status_code == 401
            assert client.post("/api/jobs/1/trials/0/verify").status_code == 401
        assert anonymous.get("/api/jobs").json() == []  # nothing was stored
    with guarded_server.client() as owner:
        job = owner.post("/api/jobs", content=spec, headers=yaml_type).json()
        assert owner.post(f"/api/jobs/{job['id']}/cancel").status_code == 200
    assert guarded_server.wait(job["id"], ("stopped",))["status"] == "stopped"


def test_submit_cli_sends_the_token(guarded_server, tmp_path):
    job_file = tmp_path / "job.yaml"
    job_file.write_text(yaml.safe_dump(small_job(name="from-cli")))
    base = [SUPERNAS, "submit", str(job_file), "--server", guarded_server.url]
    refused = subprocess.run(base, capture_output=True, text=True, timeout=60, env=NO_TOKEN_ENV)
    assert (
        refused.returncode == 2
        and "refused the job (401)" in refused.stderr
        and "Traceback" not in refused.stderr
    )
    accepted = subprocess.run([*base, "--token", TOKEN], capture_output=True, text=True, timeout=60)
    assert accepted.returncode == 0, accepted.stderr
    job_id = int(accepted.stdout.split()[1])
    assert f"{guarded_server.url}/jobs/{job_id}" in accepted.stdout
    with guarded_server.client() as owner:
        assert owner.get(f"/api/jobs/{job_id}").json()["name"] == "from-cli"
        owner.post(f"/api/jobs/{job_id}/cancel")


def test_submit_cli_missing_file_is_one_line():
    result = subprocess.run([SUPERNAS, "submit", "missing.yaml"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stderr == "error: missing.yaml: no such file\n"


def test_submit_cli_unreachable_server(tmp_path):
    job_file = tmp_path / "job.yaml"
    job_file.write_text(yaml.safe_dump(small_job()))
    result = subprocess.run(
        [SUPERNAS, "submit", str(job_file), "--server", "http://127.0.0.1:9"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "cannot reach http://127.0.0.1:9" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_refuses_to_listen_beyond_loopback_without_a_token(tmp_path):
    result = subprocess.run(
        [SUPERNAS, "serve", "--host", "0.0.0.0", "--db", f"sqlite:///{tmp_path / 'x.db'}"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**NO_TOKEN_ENV, "SUPERNAS_HOME": str(tmp_path)},
    )
    assert result.returncode == 2
    assert (
        "refusing to listen on 0.0.0.0 without a token" in result.stderr and "Traceback" not in result.stderr
    )
    assert not (tmp_path / "x.db").exists()


def test_loopback_server_refuses_other_hosts_and_sites(finished_server):
    with finished_server.client() as c:
        rebound = c.get("/api/jobs", headers={"Host": "attacker.example:80"})
        cross_site = c.post("/api/jobs/1/cancel", headers={"Origin": "http://attacker.example"})
        page = c.get("/")
    assert rebound.status_code == 421
    assert cross_site.status_code == 403 and "cross-site" in cross_site.json()["detail"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_a_taken_port_is_one_line_and_starts_nothing(finished_server, tmp_path):
    port = finished_server.url.rsplit(":", 1)[1]
    result = subprocess.run(
        [SUPERNAS, "serve", "--port", port, "--db", f"sqlite:///{tmp_path / 'x.db'}"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**NO_TOKEN_ENV, "SUPERNAS_HOME": str(tmp_path)},
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use "
        "(another server there? choose another --port)\n"
    )
