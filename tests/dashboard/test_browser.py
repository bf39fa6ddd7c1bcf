"""The dashboard as a person uses it, in a real Chromium (Debian's, driven by Playwright): submit a
job from the form, watch it finish, read the Pareto chart's own data, click a front point, extract
its checkpoint and load it. Screenshots of each page land in test-artifacts/screenshots/."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import pytest
import torch
import yaml

from supernas.data.inputs import random_batch
from supernas.models.checkpoint import load_subnet
from supernas.models.supernet import Supernet
from supernas.spaces.spec import load_spec
from tests.barrier import wait_until
from tests.dashboard.server import SENTENCE_REFUSAL, serving, small_job
from tests.processes import ray_processes_of

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium")
    if chromium is None:
        missing = "Debian's chromium is not installed: apt-get install chromium"
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"script errors on the page: {errors}"


def shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def front_trace(page) -> dict:
    """The chart's own front trace as plotly holds it: numbers and the pixel position of each point."""
    return page.evaluate("""() => {
        const gd = document.getElementById("front");
        const index = gd.data.findIndex((t) => t.name.startsWith("Pareto front"));
        const trace = gd.data[index], xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
        const box = gd.getBoundingClientRect();
        return {
            numbers: trace.customdata,
            pixels: trace.x.map((x, i) => [
                box.left + xa._offset + xa.l2p(x),
                box.top + ya._offset + ya.l2p(trace.y[i]),
            ]),
        };
    }""")


SELECTED_TEXT = """() => {
    const box = document.getElementById("spec");
    return box.value.slice(box.selectionStart, box.selectionEnd);
}"""
CHART_AXES_AND_SHAPES = """() => {
    const gd = document.getElementById("front");
    return {
        titles: [gd._fullLayout.xaxis.title.text, gd._fullLayout.yaxis.title.text],
        shapes: (gd.layout.shapes || []).map((s) => [s.type, s.name, s.y0, s.y1]),
    };
}"""


def test_submit_watch_click_and_extract(page, tmp_path):
    with serving(tmp_path / "home") as server:
        page.goto(server.url + "/")
        page.fill("#spec", yaml.safe_dump(small_job(budget={"trials": -1})))
        page.click("#submit")
        page.wait_for_selector("#submit-feedback.error")
        assert "budget" in page.inner_text("#submit-feedback")  # the mistake is named next to the form
        page.fill("#spec", "name: x\n  space: [gpt\n")
        page.click("#submit")  # a syntax error: its line quoted under the message and selected in the form
        page.wait_for_selector("#submit-feedback pre.marked-line")
        assert page.get_attribute("#submit-feedback pre.marked-line", "data-line") == "2"
        assert page.evaluate(SELECTED_TEXT) == "  space: [gpt"
        with server.client() as c:
            assert c.get("/api/jobs").json() == []

        page.fill("#spec", yaml.safe_dump(small_job(name="from-the-browser")))
        page.click("#submit")
        page.click("#submitted-job")
        page.wait_for_url(f"{server.url}/jobs/1")
        page.wait_for_function(
            "document.getElementById('job-status').textContent === 'completed'", timeout=300_000
        )
        with server.client() as c:
            front = c.get("/api/jobs/1/front").json()
        page.wait_for_function(
            f"document.getElementById('front').data?.some((t) => t.name === 'Pareto front ({len(front)})')"
        )
        shown = front_trace(page)
        assert sorted(shown["numbers"]) == sorted(t["number"] for t in front)
        assert page.locator("#trials tbody tr").count() == 16
        chart = page.evaluate(CHART_AXES_AND_SHAPES)
        assert chart["titles"] == ["hidden_cov ↑", "flops (FLOPs/token) ↓"]  # units and better directions
        assert ["line", "constraint flops ≤ 1.2M FLOPs/token", 1.2e6, 1.2e6] in chart["shapes"]
        assert page.inner_text("#job-constraints") == "constraints flops ≤ 1.2M FLOPs/token"
        shoot(page, "job")

        number = shown["numbers"][0]
        x, y = shown["pixels"][0]
        page.mouse.move(x, y)
        page.mouse.click(x, y)
        page.wait_for_url(f"{server.url}/jobs/1/trials/{number}")
        page.wait_for_selector("body[data-loaded='true']")
        shoot(page, "trial")
        with page.expect_download() as download_info:
            page.click("#extract")
        archive = tmp_path / "checkpoint.zip"
        download_info.value.save_as(archive)
        with zipfile.ZipFile(archive) as z:
            z.extractall(tmp_path / "checkpoint")
        model = load_subnet(tmp_path / "checkpoint").eval()
        with server.client() as c:
            assert model.arch.arch_id == c.get(f"/api/jobs/1/trials/{number}").json()["arch_id"]

        space = load_spec("gpt-tiny")
        supernet, batch = Supernet(space, seed=0).eval(), random_batch(space, batch_size=1, seq_len=16)
        with torch.no_grad(), supernet.active(model.arch):
            assert torch.equal(model(batch.inputs), supernet(batch.inputs))

        page.select_option("#export-format", "onnx")
        with page.expect_download() as download_info:
            page.click("#extract")
        download_info.value.save_as(tmp_path / "onnx.zip")
        with zipfile.ZipFile(tmp_path / "onnx.zip") as z:
            assert z.namelist() == ["model.onnx"]
        page.wait_for_selector("#extract-status:has-text('model.onnx')")

        page.click("#verify")  # the checkpoint loaded back and every metric re-measured on it
        page.wait_for_selector("#verify-status:has-text('Verified.')", timeout=120_000)
        cells = page.eval_on_selector_all(
            "#verification tbody tr", "(rows) => rows.map((r) => [...r.cells].map((c) => c.textContent))"
        )
        assert [c[0] for c in cells] == ["hidden_cov", "flops"]
        assert all(
            searched == measured and error == "0" and noise == "1e-5"
            for _, searched, measured, error, noise, _ in cells
        ), cells
        shoot(page, "trial-verified")
        page.goto(f"{server.url}/jobs/1")
        page.wait_for_function(
            "document.getElementById('front').data?.some((t) => t.name === 'verified on checkpoint (1)')"
        )
        verified = page.evaluate(
            "document.getElementById('front').data.find((t) => t.name.startsWith('verified')).customdata"
        )
        assert verified == [number]
        page.wait_for_selector("#trials tbody td.verified span[data-metric]")
        chips = page.eval_on_selector_all(  # each verified metric's error, neutral within its noise
            "#trials tbody td.verified span",
            "(spans) => spans.map((e) => [e.dataset.metric, e.className, e.textContent])",
        )
        assert chips == [["hidden_cov", "check", "hidden_cov 0"], ["flops", "check", "flops 0"]]
        verified_note = page.inner_text("#job-verified")
        assert verified_note.startswith(f"verified 1 of {len(front)} front points; worst ")
        assert verified_note.endswith(f"(trial {number}), all within noise")

        page.goto(f"{server.url}/jobs/1/trials/{number}")
        page.wait_for_selector("body[data-loaded='true']")
        page.fill("#distill-steps", "2")
        page.click("#distill")  # runs on the server in the background; the page follows it
        page.wait_for_selector("#extract-status:has-text('Distilled (2 steps)')", timeout=120_000)
        assert page.get_attribute("#verification p.note", "data-weights") == "distilled"
        assert page.locator("#verification td.warn").count() == 0  # distilled values differ by design
        assert page.input_value("#extract-weights") == "distilled"
        with page.expect_download() as download_info:
            page.click("#extract")
        assert download_info.value.suggested_filename.endswith(f"-trial-{number}-distilled.zip")
        shoot(page, "trial-distilled")

        page.goto(server.url + "/")
        page.wait_for_selector("tr[data-job='1']")
        shoot(page, "jobs")

        missing = page.goto(server.url + "/jobs/abc")
        assert missing.status == 404 and page.inner_text("h1") == "Not found"
        phone = page.context.browser.new_page(viewport={"width": 390, "height": 844})
        for path in ("/", "/jobs/1", f"/jobs/1/trials/{number}"):  # nothing wider than a phone's screen
            phone.goto(server.url + path)
            phone.wait_for_selector("body[data-loaded='true']")
            width, screen = phone.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert width <= screen, (path, width, screen)
        phone.close()


OPTIONS = "(options) => options.map((o) => [o.value, o.disabled, o.title, o.textContent])"


def test_extract_lists_every_format_and_disables_one_that_does_not_apply(page, finished_server, tmp_path):
    with finished_server.client() as c:
        number = c.get("/api/jobs/1/front").json()[0]["number"]
    page.goto(f"{finished_server.url}/jobs/1/trials/{number}")
    page.wait_for_selector("body[data-loaded='true']")
    assert page.eval_on_selector_all("#export-format option", OPTIONS) == [
        ["supernas", False, "", "supernas checkpoint"],
        ["onnx", False, "", "ONNX"],
        ["hf", False, "", "Hugging Face"],
        ["sentence-transformers", True, SENTENCE_REFUSAL, "sentence-transformers (not for this subnet)"],
    ]
    shoot(page, "trial-formats")
    page.select_option("#export-format", "hf")
    with page.expect_download() as download_info:
        page.click("#extract")
    assert download_info.value.suggested_filename.endswith(f"-trial-{number}-hf.zip")
    download_info.value.save_as(tmp_path / "hf.zip")
    with zipfile.ZipFile(tmp_path / "hf.zip") as z:
        assert sorted(z.namelist()) == [
            "config.json",
            "configuration_supernas.py",
            "model.safetensors",
            "modeling_supernas.py",
        ]
    page.wait_for_selector("#extract-status:has-text('a Hugging Face model directory')")


def test_three_objectives_in_3d_and_two_jobs_compared(page, tmp_path):
    three = small_job(
        name="three",
        budget={"trials": 10},
        objectives=[{"metric": "hidden_cov"}, {"metric": "flops"}, {"metric": "params"}],
    )
    other = small_job(
        name="other", budget={"trials": 4}, objectives=[{"metric": "params"}, {"metric": "weight_bytes"}]
    )
    with serving(tmp_path / "home") as server:
        ids = [server.submit(job)["id"] for job in (three, small_job(name="two", budget={"trials": 10}))]
        for job_id in ids:
            server.wait(job_id)
        wait_until(lambda: not ray_processes_of(server.process.pid), "the server's Ray to stop once idle")
        other_id = server.submit(other)["id"]  # Ray starts again for it
        assert server.wait(other_id)["status"] == "completed"
        with server.client() as c:
            fronts = [c.get(f"/api/jobs/{job_id}/front").json() for job_id in ids]

        page.goto(f"{server.url}/jobs/{ids[0]}")
        page.wait_for_selector("body[data-charts]")
        traces = page.evaluate(
            "document.getElementById('front').data.map((t) => [t.type, t.name, t.customdata.length])"
        )
        assert [t[0] for t in traces] == ["scatter3d"] * 3
        assert traces[2] == ["scatter3d", f"Pareto front ({len(fronts[0])})", len(fronts[0])]
        shoot(page, "job-3d")
        page.uncheck("#three-d")  # back to 2D: the first two objectives, the third as colour
        page.wait_for_function("document.getElementById('front').data[0].type === 'scattergl'")
        colour = page.evaluate("""() => {
            const gd = document.getElementById("front");
            const front = gd.data.find((t) => t.name.startsWith("Pareto front"));
            return [gd._fullLayout.coloraxis.colorbar.title.text, front.mode, front.marker.color.length];
        }""")
        assert colour == ["params ↓", "markers", len(fronts[0])]  # a projected front is not joined

        page.goto(f"{server.url}/")
        for job_id in [*ids, other_id]:
            page.check(f"tr[data-job='{job_id}'] input[type=checkbox]")
        page.click("#compare")
        page.wait_for_url(f"{server.url}/compare?jobs={ids[0]},{ids[1]},{other_id}")
        page.wait_for_function("document.getElementById('front').data?.length === 2")
        shown = page.evaluate(
            "document.getElementById('front').data.map((t) => [t.meta, t.customdata.length])"
        )
        assert shown == [[ids[0], len(fronts[0])], [ids[1], len(fronts[1])]]  # the two sharing objectives
        assert page.inner_text("#compare-left-out").startswith(
            f"job {other_id} (other) left out: its objectives (params ↓, weight_bytes (bytes) ↓)"
        )
        shoot(page, "compare")


def test_api_docs_render_offline_and_responses_are_compressed(page, tmp_path):
    with serving(tmp_path / "home") as server:
        foreign: list[str] = []  # any request off this server fails, as it would without internet
        page.route(
            lambda url: not url.startswith(server.url),
            lambda route: (foreign.append(route.request.url), route.abort()),
        )
        page.goto(server.url + "/docs")
        page.wait_for_selector(".opblock-summary-path")
        shown = set(
            page.eval_on_selector_all(".opblock-summary-path", "(els) => els.map((e) => e.dataset.path)")
        )
        with server.client() as c:
            schema = c.get("/openapi.json")
        assert schema.headers["content-encoding"] == "gzip"  # httpx asks for gzip and decodes it
        assert shown == set(schema.json()["paths"])
        assert foreign == []
        shoot(page, "api-docs")
