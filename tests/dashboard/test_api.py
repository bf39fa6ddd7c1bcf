"""The REST API of a real server on loopback, over a real SQLite file, after a real job ran."""

from __future__ import annotations

import io
import json
import subprocess
import time
import zipfile

import pytest
import torch
import yaml

from supernas.data.inputs import random_batch
from supernas.export.remote import save_transformers
from supernas.models.checkpoint import extract, load_subnet
from supernas.models.supernet import Supernet
from supernas.predictors.catalogue import get_metric
from supernas.search.jobspec import JobSpec, objective_directions
from supernas.search.pareto import hypervolume, minimization_vector
from supernas.search.store.store import open_store
from supernas.spaces.architecture import parse_architecture
from supernas.spaces.spec import load_spec
from tests.dashboard.server import SENTENCE_REFUSAL, small_job
from tests.search.jobs_helpers import brute_force_front


def all_trials(client, job_id: int, **params: object) -> list[dict]:
    """Every trial matching ``params``, read page by page (5 a page, to exercise paging)."""
    items, offset = [], 0
    while True:
        page = client.get(
            f"/api/jobs/{job_id}/trials", params={**params, "offset": offset, "limit": 5}
        ).json()
        items += page["items"]
        offset += 5
        if offset >= page["total"]:
            assert len(items) == page["total"]
            return items


def test_job_counts_match_the_store(finished_server):
    with finished_server.client() as c:
        jobs = c.get("/api/jobs").json()
        job = c.get("/api/jobs/1").json()
    assert [j["id"] for j in jobs] == [1] and jobs[0] == job
    with open_store(finished_server.db_url) as store:
        record = store.get_job(1)
        trials = store.trials(1)
    assert job["status"] == "completed" and job["evaluated"] == 16 == job["budget_trials"]
    assert job["complete"] == sum(t.state == "complete" for t in trials) == record.n_complete
    assert job["infeasible"] == sum(t.state == "infeasible" for t in trials) > 0  # the FLOPs cap bites
    assert job["objectives"] == [
        {"metric": "hidden_cov", "direction": "maximize", "unit": get_metric("hidden_cov").unit},
        {"metric": "flops", "direction": "minimize", "unit": "FLOPs/token"},
    ]
    assert job["units"] == {"hidden_cov": get_metric("hidden_cov").unit, "flops": "FLOPs/token"}
    assert job["constraints"] == [{"metric": "flops", "min": None, "max": 1.2e6, "unit": "FLOPs/token"}]
    assert job["hypervolume"] == pytest.approx(record.hypervolume)


def test_hypervolume_is_the_fronts_volume_up_to_the_served_reference_point(finished_server):
    """The reference point is served in the objectives' own values (a maximized one not negated), so a
    client can say what the hypervolume is: the volume between the front and that point."""
    with finished_server.client() as c:
        job = c.get("/api/jobs/1").json()
        front = c.get("/api/jobs/1/front").json()
    objectives = [(o["metric"], o["direction"]) for o in job["objectives"]]
    reference = {name: r for (name, _), r in zip(objectives, job["reference"])}
    points = [minimization_vector(t["values"], objectives) for t in front]
    minimized_reference = minimization_vector(reference, objectives)
    assert job["hypervolume"] == pytest.approx(hypervolume(points, minimized_reference))
    with open_store(finished_server.db_url) as store:
        assert minimized_reference == store.get_job(1).reference


def test_front_is_the_non_dominated_filter_of_the_trials(finished_server):
    with finished_server.client() as c:
        front = c.get("/api/jobs/1/front").json()
        trials = all_trials(c, 1)
        spec = JobSpec.model_validate(c.get("/api/jobs/1").json()["spec"])

    class Row:  # what brute_force_front reads of a trial
        def __init__(self, t: dict) -> None:
            self.id, self.state, self.values = t["number"], t["state"], t["values"]

    expected = brute_force_front([Row(t) for t in trials], objective_directions(spec))
    assert expected and {t["number"] for t in front} == expected
    assert {t["number"] for t in trials if t["on_front"]} == expected
    assert [t["number"] for t in trials] == list(range(16))


def test_trials_sort_filter_and_page(finished_server):
    with finished_server.client() as c:
        by_flops = all_trials(c, 1, sort="flops", order="desc")
        infeasible = all_trials(c, 1, state="infeasible")
        on_front = all_trials(c, 1, on_front="true")
        first = c.get("/api/jobs/1/trials", params={"limit": 3, "offset": 2}).json()
        bad_sort = c.get("/api/jobs/1/trials", params={"sort": "accuracy"})
        bad_limit = c.get("/api/jobs/1/trials", params={"limit": 0})
    flops = [t["values"]["flops"] for t in by_flops]
    assert flops == sorted(flops, reverse=True)
    assert infeasible and all(t["state"] == "infeasible" and t["values"]["flops"] > 1.2e6 for t in infeasible)
    assert on_front and all(t["on_front"] and t["state"] == "complete" for t in on_front)
    assert [t["number"] for t in first["items"]] == [2, 3, 4] and first["total"] == 16
    assert bad_sort.status_code == 422 and "accuracy" in bad_sort.json()["detail"]
    assert bad_limit.status_code == 422


def test_hypervolume_history_never_decreases(finished_server):
    with finished_server.client() as c:
        history = c.get("/api/jobs/1/hypervolume").json()
        job = c.get("/api/jobs/1").json()
    volumes = [p["hypervolume"] for p in history]
    assert volumes and all(b >= a for a, b in zip(volumes, volumes[1:]))
    assert volumes[-1] == pytest.approx(job["hypervolume"])
    assert history[-1]["evaluated"] <= 16


def test_plot_data_holds_every_front_point(finished_server):
    """Whether read from the store (a first view) or from the server's copy of the job, the same data;
    the Server-Timing header says which."""
    with finished_server.client() as c:
        plot = c.get("/api/jobs/1/plot").json()
        front = c.get("/api/jobs/1/front").json()
        job = c.get("/api/jobs/1").json()
        sources = {}
        deadline = time.monotonic() + 60
        while "memory" not in sources:
            assert time.monotonic() < deadline, "the job was never read into memory"
            answer = c.get("/api/jobs/1/plot")
            sources[answer.headers["server-timing"].split('"')[1]] = answer.json()
            time.sleep(0.05)
    assert set(sources) <= {"store", "memory"} and all(data == plot for data in sources.values())
    assert plot["front"]["numbers"] == [t["number"] for t in front]
    assert plot["front"]["values"][1] == [t["values"]["flops"] for t in front]
    assert plot["dominated_total"] == job["complete"] - len(front) == len(plot["dominated"]["numbers"])
    assert plot["infeasible_total"] == job["infeasible"]


def test_trial_detail_is_the_stored_architecture(finished_server):
    with finished_server.client() as c:
        detail = c.get("/api/jobs/1/trials/3").json()
    arch = parse_architecture(load_spec("gpt-tiny"), json.dumps(detail["architecture"]), "trial 3")
    assert arch.arch_id == detail["arch_id"] and detail["number"] == 3 and detail["job_id"] == 1
    assert detail["limits"]["depth"] == max(load_spec("gpt-tiny").depth)


def test_extract_serves_a_checkpoint_of_the_trials_subnet(finished_server, tmp_path):
    with finished_server.client() as c:
        number = c.get("/api/jobs/1/front").json()[0]["number"]
        response = c.post(f"/api/jobs/1/trials/{number}/extract")
        detail = c.get(f"/api/jobs/1/trials/{number}").json()
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert sorted(archive.namelist()) == ["config.json", "model.safetensors"]
        archive.extractall(tmp_path)
    model = load_subnet(tmp_path).eval()
    space = load_spec("gpt-tiny")
    arch = parse_architecture(space, json.dumps(detail["architecture"]), "trial")
    supernet, batch = Supernet(space, seed=0).eval(), random_batch(space, batch_size=2, seq_len=16, seed=3)
    with torch.no_grad(), supernet.active(arch):
        expected = supernet(batch.inputs)
    with torch.no_grad():
        assert torch.equal(model(batch.inputs), expected)  # the job's weights: seeded init, seed 0


def finished_distillation(client, number: int) -> dict:
    """The trial's distillation once it is no longer running."""
    for _ in range(600):
        run = client.get(f"/api/jobs/1/trials/{number}/distill").json()
        if run["state"] != "running":
            return run
        time.sleep(0.2)
    raise AssertionError(f"trial {number}'s distillation still running: {run}")


def test_distill_runs_in_the_background_then_verifies_and_extract_serves_it(finished_server, tmp_path):
    with finished_server.client() as c:
        # a front trial other than the one the verification test re-measures twice: the server's other
        # tests read off-front trials as unverified and the front as verified
        number = max(t["number"] for t in c.get("/api/jobs/1/front").json())
        never = c.get(f"/api/jobs/1/trials/{number}/distill")
        early = c.post(f"/api/jobs/1/trials/{number}/extract", params={"weights": "distilled"})
        started = c.post(f"/api/jobs/1/trials/{number}/distill", params={"steps": 2})
        run = finished_distillation(c, number)
        served = c.post(f"/api/jobs/1/trials/{number}/extract", params={"weights": "distilled"})
        as_onnx = c.post(
            f"/api/jobs/1/trials/{number}/extract", params={"weights": "distilled", "format": "onnx"}
        )
        detail = c.get(f"/api/jobs/1/trials/{number}").json()
        bad = c.post(f"/api/jobs/1/trials/{number}/distill", params={"steps": 0})
        missing = c.post("/api/jobs/1/trials/100000/distill", params={"steps": 2})
    assert never.status_code == 404 and "not been distilled" in never.json()["detail"]
    assert early.status_code == 409 and "distil it first" in early.json()["detail"]
    assert started.status_code == 202, started.text
    assert started.json()["trial"] == number and started.json()["steps"] == 2
    assert run["state"] == "done" and run["error"] is None and run["finished_at"] >= run["started_at"], run
    assert detail["verification"]["weights"] == "distilled"
    assert served.status_code == as_onnx.status_code == 200
    assert served.headers["content-disposition"].endswith(f'-trial-{number}-distilled.zip"')
    with zipfile.ZipFile(io.BytesIO(served.content)) as archive:
        assert sorted(archive.namelist()) == ["config.json", "model.safetensors"]  # not the training state
        archive.extractall(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["distilled"]["trial"] == number and config["distilled"]["steps_done"] == 2
    assert config["arch_id"] == detail["arch_id"]
    with zipfile.ZipFile(io.BytesIO(as_onnx.content)) as archive:
        assert archive.namelist() == ["model.onnx"]
    assert bad.status_code == 422 and missing.status_code == 404


def test_extract_as_onnx_serves_a_model_onnx_runtime_runs(finished_server, tmp_path):
    import numpy as np

    from supernas.export.onnx import example_inputs, runtime_session, torch_outputs

    with finished_server.client() as c:
        number = c.get("/api/jobs/1/front").json()[0]["number"]
        response = c.post(f"/api/jobs/1/trials/{number}/extract", params={"format": "onnx"})
        again = c.post(
            f"/api/jobs/1/trials/{number}/extract", params={"format": "onnx"}
        )  # replaces the server's copy
        unknown = c.post(f"/api/jobs/1/trials/{number}/extract", params={"format": "tflite"})
        checkpoint = c.post(f"/api/jobs/1/trials/{number}/extract")
    assert (
        response.status_code == again.status_code == 200
        and response.headers["content-type"] == "application/zip"
    )
    assert response.headers["content-disposition"].endswith(f'-trial-{number}-onnx.zip"')
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert archive.namelist() == ["model.onnx"]
        archive.extractall(tmp_path / "onnx")
    with zipfile.ZipFile(io.BytesIO(checkpoint.content)) as archive:
        archive.extractall(tmp_path / "ckpt")
    model = load_subnet(tmp_path / "ckpt")
    inputs = example_inputs(model.spec, 1, 12)
    (logits,) = runtime_session(tmp_path / "onnx" / "model.onnx").run(None, inputs)
    (expected,) = torch_outputs(model, inputs)
    assert logits.shape == expected.shape == (1, 12, 256)
    assert (
        np.abs(logits - expected).max() < 0.1 * np.abs(expected).max()
    )  # per-tensor activation rounding may flip
    assert unknown.status_code == 422


def server_files(server) -> dict[str, int]:
    """Every file under the server's home (its checkpoints, database, log) with its size."""
    return {str(f.relative_to(server.home)): f.stat().st_size for f in server.home.rglob("*") if f.is_file()}


def test_trial_lists_every_format_and_extract_refuses_one_that_does_not_apply(finished_server):
    with finished_server.client() as c:
        number = c.get("/api/jobs/1/front").json()[0]["number"]
        formats = c.get(f"/api/jobs/1/trials/{number}").json()["formats"]
        before = {k: v for k, v in server_files(finished_server).items() if k.startswith("checkpoints")}
        refused = c.post(f"/api/jobs/1/trials/{number}/extract", params={"format": "sentence-transformers"})
        distilled = c.post(
            f"/api/jobs/1/trials/{number}/extract",
            params={"format": "sentence-transformers", "weights": "distilled"},
        )
        after = {k: v for k, v in server_files(finished_server).items() if k.startswith("checkpoints")}
    assert formats == [
        {"format": "supernas", "available": True, "reason": None},
        {"format": "onnx", "available": True, "reason": None},
        {"format": "hf", "available": True, "reason": None},
        {"format": "sentence-transformers", "available": False, "reason": SENTENCE_REFUSAL},
    ]
    # the subnet is what is refused, whichever weights: before the distilled checkpoint is looked for
    assert refused.status_code == distilled.status_code == 422
    assert refused.json() == distilled.json() == {"detail": SENTENCE_REFUSAL}
    assert after == before  # nothing written, nothing removed


def test_extract_as_hf_serves_the_files_the_export_writes(finished_server, tmp_path):
    with finished_server.client() as c:
        number = c.get("/api/jobs/1/front").json()[0]["number"]
        response = c.post(f"/api/jobs/1/trials/{number}/extract", params={"format": "hf"})
        detail = c.get(f"/api/jobs/1/trials/{number}").json()
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"].endswith(f'-trial-{number}-hf.zip"')
    space = load_spec("gpt-tiny")
    arch = parse_architecture(space, json.dumps(detail["architecture"]), "trial")
    save_transformers(extract(Supernet(space, seed=0), arch), tmp_path)  # the job's weights: seed 0
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        # gpt-tiny rounds activations, which no GPT-2 config expresses: remote code
        assert sorted(archive.namelist()) == [
            "config.json",
            "configuration_supernas.py",
            "model.safetensors",
            "modeling_supernas.py",
        ]
        for name in archive.namelist():
            assert archive.read(name) == (tmp_path / name).read_bytes(), name


def test_verified_values_are_served_beside_the_searched_ones(finished_server):
    """POST .../verify re-measures one trial on its checkpoint; `supernas verify` in another process the
    rest of the front; every read of the store serves them: front, trials, trial, plot."""
    with finished_server.client() as c:
        front = {t["number"]: t for t in c.get("/api/jobs/1/front").json()}
        first = min(front)
        verified = c.post(f"/api/jobs/1/trials/{first}/verify")
        assert verified.status_code == 200, verified.text
        detail = verified.json()
        assert detail == c.get(f"/api/jobs/1/trials/{first}").json()
        done = subprocess.run(
            ["supernas", "verify", "1", "--trials", "front", "--db", finished_server.db_url],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        served = {t["number"]: t for t in c.get("/api/jobs/1/front").json()}
        listed = {t["number"]: t for t in all_trials(c, 1, on_front="true")}
        plot = c.get("/api/jobs/1/plot").json()
        dominated = c.get("/api/jobs/1/trials", params={"on_front": "false", "limit": 5}).json()["items"]
        refused = c.post("/api/jobs/1/trials/999/verify")
    values = detail["verification"]["values"]
    assert set(values) == {"hidden_cov", "flops"} and detail["verification"]["checkpoint_bytes"] > 0
    for name, value in values.items():
        assert value["searched"] == front[first]["values"][name] and value["deterministic"]
        assert value["measured"] == pytest.approx(value["searched"], rel=1e-5) and value["error"] <= 1e-5
        assert value["noise"] == 1e-5 and value["within_noise"] is True  # exact metrics: no noise
    assert values["flops"]["method"] == "analytic, from the checkpoint's config.json"
    assert values["hidden_cov"]["method"] == "the metric on the loaded checkpoint"
    with open_store(finished_server.db_url) as store:
        stored = {v.trial_number: v for v in store.verifications(1)}
        assert len(store.verifications(1, [first], history=True)) == 2  # the API's and the CLI's
    assert set(stored) == set(front) == set(served) == set(listed) == set(plot["verified"]["numbers"])
    for number, trial in served.items():
        expected = {m: v.measured for m, v in stored[number].values.items()}
        assert {m: v["measured"] for m, v in trial["verification"]["values"].items()} == expected
        assert listed[number]["verification"] == trial["verification"]
    for k, metric in enumerate(["hidden_cov", "flops"]):
        for i, number in enumerate(plot["verified"]["numbers"]):
            assert plot["verified"]["searched"][k][i] == front[number]["values"][metric]
            assert plot["verified"]["measured"][k][i] == stored[number].values[metric].measured
            assert plot["verified"]["errors"][k][i] == stored[number].values[metric].error
            assert plot["verified"]["within_noise"][k][i] is True
    assert all(t["verification"] is None for t in dominated)
    assert refused.status_code == 404


@pytest.mark.parametrize(
    ("body", "content_type", "status", "words"),
    [
        ("name: [unclosed", "application/x-yaml", 422, ["not valid YAML: line 1, column 16: expected ','"]),
        ("name: x\n  space: [gpt\n", "application/x-yaml", 422, ["YAML: line 2, column 8: mapping values"]),
        ("{not json", "application/json", 422, ["not valid JSON: line 1, column 2: "]),
        ("- a\n- list\n", "application/x-yaml", 422, ["must be a mapping"]),
        (
            yaml.safe_dump(small_job(objectives=[{"metric": "happiness"}, {"metric": "flops"}])),
            "application/x-yaml",
            422,
            ["happiness", "objectives"],
        ),
        (yaml.safe_dump(small_job(budget={"trials": -3})), "application/x-yaml", 422, ["budget", "-3"]),
        (yaml.safe_dump(small_job(colour="blue")), "application/x-yaml", 422, ["colour"]),
        (
            yaml.safe_dump(small_job(space="../../outside.yaml")),
            "application/x-yaml",
            422,
            ["space", "inside the server's supernas home"],
        ),
        (
            yaml.safe_dump(small_job(data="/etc/passwd.csv")),
            "application/x-yaml",
            422,
            ["data", "inside the server's supernas home"],
        ),
        (
            yaml.safe_dump(small_job(plugins=["/tmp/elsewhere.py"])),
            "application/x-yaml",
            422,
            ["plugins", "inside the server's supernas home"],
        ),
        ("a: &x [1]\nb: *x\n", "application/x-yaml", 422, ["aliases"]),
        ("name: " + "x" * 70_000, "application/x-yaml", 413, ["exceeds the limit"]),
    ],
)
def test_bad_submissions_are_refused_naming_the_problem(finished_server, body, content_type, status, words):
    with finished_server.client() as c:
        response = c.post("/api/jobs", content=body.encode(), headers={"Content-Type": content_type})
        jobs = c.get("/api/jobs").json()
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert all(w in detail for w in words), detail
    assert "\n" not in detail and "Traceback" not in detail
    assert [j["id"] for j in jobs] == [1]  # nothing stored


def test_missing_things_are_404(finished_server):
    with finished_server.client() as c:
        assert c.get("/api/jobs/99").status_code == 404
        assert "99" in c.get("/api/jobs/99").json()["detail"]
        assert c.get("/api/jobs/1/trials/99").status_code == 404
        assert c.post("/api/jobs/1/trials/99/extract").status_code == 404
        assert c.get("/api/spaces/nope").status_code == 404
        assert c.get("/api/nope").json() == {"detail": "Not Found"}  # the API answers in JSON
        assert c.get("/api/jobs/abc").status_code == 422
        for page in ("/jobs/99", "/jobs/abc", "/jobs/1/trials/x", "/nope"):  # a person's pages in HTML
            answer = c.get(page)
            assert answer.status_code == 404 and "text/html" in answer.headers["content-type"], page
            assert "<h1>Not found</h1>" in answer.text and page.split("/")[-1] in answer.text


def test_favicon_is_served_where_browsers_ask(finished_server):
    with finished_server.client() as c:
        icon = c.get("/favicon.ico")
        page = c.get("/")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert icon.content.startswith(b"<svg") and '<link rel="icon" href="/static/favicon.svg"' in page.text


def test_finished_job_can_be_neither_cancelled_nor_resumed(finished_server):
    with finished_server.client() as c:
        cancel, resume = c.post("/api/jobs/1/cancel"), c.post("/api/jobs/1/resume")
        status = c.get("/api/jobs/1").json()["status"]
    assert cancel.status_code == resume.status_code == 409
    assert "completed" in cancel.json()["detail"] and status == "completed"


def test_pages_and_local_plotly_are_served(finished_server):
    with finished_server.client() as c:
        pages = [c.get(path) for path in ("/", "/jobs/1", "/jobs/1/trials/0", "/compare?jobs=1,1")]
        plotly = c.get("/vendor/plotly.min.js")
        schema = c.get("/openapi.json").json()
    assert all(p.status_code == 200 and "text/html" in p.headers["content-type"] for p in pages)
    assert all("cdn" not in p.text.lower() for p in pages)
    assert (
        plotly.status_code == 200
        and len(plotly.content) > 1_000_000
        and b"plotly" in plotly.content[:2000].lower()
    )
    assert {"/api/jobs", "/api/jobs/{job_id}/front", "/api/jobs/{job_id}/trials/{number}/extract"} <= set(
        schema["paths"]
    )
