"""Screenshots of every dashboard page at a desktop and a phone width, for reviewing the pages by eye.

    python benchmarks/dashboard_screenshots.py [-o test-artifacts/screenshots/pages] [--widths 1440,390]

Starts a real ``supernas serve`` in a fresh home, runs two small gpt-tiny jobs in it (2 objectives with a
FLOPs constraint, and 3 objectives), verifies two front trials of the first, then opens the jobs page,
both job pages (the 3-objective one in 3D and in 2D), a front trial, the comparison, a page that does not
exist and a queued job (waiting behind a running one), at each width, in Debian's Chromium
(Playwright). Each page is saved as ``NAME-WIDTH.png`` (the full page), and the script prints, per page
and width, whether anything is wider than the screen (``document.documentElement.scrollWidth`` against
``innerWidth``).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import httpx
import yaml

from dashboard import start_server  # the dashboard benchmark's (a sibling script)

ROOT = Path(__file__).resolve().parents[1]


def job(name: str, objectives: list[str], constraints: list[dict], trials: int) -> dict:
    return {
        "name": name,
        "space": "gpt-tiny",
        "objectives": [{"metric": m} for m in objectives],
        "constraints": constraints,
        "strategy": {"name": "nsga2", "population": 8},
        "budget": {"trials": trials},
        "workers": 1,
        "seed": 0,
    }


def submit(client: httpx.Client, spec: dict) -> int:
    yaml_body = {"Content-Type": "application/x-yaml"}
    answer = client.post("/api/jobs", content=yaml.safe_dump(spec), headers=yaml_body)
    answer.raise_for_status()
    return answer.json()["id"]


def wait_finished(client: httpx.Client, job_id: int) -> None:
    while client.get(f"/api/jobs/{job_id}").json()["status"] not in ("completed", "stopped", "failed"):
        time.sleep(0.5)


def widths(value: str) -> list[int]:
    try:
        return [int(w) for w in value.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not whole numbers separated by commas") from None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = ROOT / "test-artifacts" / "screenshots" / "pages"
    parser.add_argument("-o", "--output", type=Path, default=default)
    parser.add_argument(
        "--widths", type=widths, default="1440,390", help="viewport widths in CSS pixels, comma-separated"
    )
    args = parser.parse_args()
    if shutil.which("chromium") is None:
        raise SystemExit("Debian's chromium is not installed: apt-get install chromium")

    args.output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        process, url = start_server(f"sqlite:///{home / 'supernas.db'}", home)
        try:
            with httpx.Client(base_url=url, timeout=600) as client:
                pages = run_jobs(client)
            shoot(url, pages, args.widths, args.output)
        finally:
            process.terminate()
            process.wait(120)
    print(f"screenshots in {args.output}")
    return 0


def run_jobs(c: httpx.Client) -> dict[str, str]:
    """Run the jobs the pages show (the last two are left running and queued); each page's address."""
    two = submit(c, job("constrained", ["hidden_cov", "flops"], [{"metric": "flops", "max": 1.2e6}], 24))
    three = submit(c, job("three-objectives", ["hidden_cov", "flops", "params"], [], 24))
    for job_id in (two, three):
        wait_finished(c, job_id)
    front = [t["number"] for t in c.get(f"/api/jobs/{two}/front").json()]
    for number in front[:2]:
        c.post(f"/api/jobs/{two}/trials/{number}/verify").raise_for_status()
    submit(c, job("running", ["hidden_cov", "flops"], [], 100_000))  # runs while the pages are shot
    queued = submit(c, job("queued", ["hidden_cov", "flops"], [], 40))  # waits behind it
    return {
        "jobs": "/",
        "job-2d-constrained": f"/jobs/{two}",
        "job-3d": f"/jobs/{three}",
        "job-3-objectives-2d": f"/jobs/{three}",
        "trial": f"/jobs/{two}/trials/{front[0]}",
        "compare": f"/compare?jobs={two},{three}",
        "not-found": "/jobs/abc",
        "queued": f"/jobs/{queued}",
    }


def shoot(url: str, pages: dict[str, str], widths: list[int], output: Path) -> None:
    """Each page at each width, saved and checked for anything wider than the screen."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), headless=True)
        for width in widths:
            page = browser.new_page(viewport={"width": width, "height": 900})
            for name, path in pages.items():
                page.goto(url + path)
                page.wait_for_load_state("networkidle")
                page.wait_for_function(  # a page with charts has drawn them
                    "document.body.dataset.loaded === 'true' || !document.querySelector('.chart')"
                )
                if name == "job-3-objectives-2d":
                    page.uncheck("#three-d")
                    page.wait_for_timeout(500)
                page.wait_for_timeout(800)  # charts settle
                page.screenshot(path=output / f"{name}-{width}.png", full_page=True)
                wide = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
                verdict = "fits" if wide[0] <= wide[1] else "WIDER than the screen"
                print(f"{name} at {width} px: {verdict} (scrollWidth {wide[0]}, innerWidth {wide[1]})")
            page.close()
        browser.close()


if __name__ == "__main__":
    raise SystemExit(main())
