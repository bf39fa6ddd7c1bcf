"""Dashboard reads on a big job: how long the Pareto API call and the job page's data load take on a
job with 50,000 stored trials, cold (the first request after the server starts) and warm, against the
real optuna-dashboard 0.21 serving the same trials from an Optuna journal file (its study page loads
``GET /api/studies/ID``: every trial, and the Pareto front it computes; a journal because writing
50,000 trials into Optuna's RDB storage takes about an hour here, and either storage is read whole into
memory by optuna-dashboard), and against
recomputing the front from the stored trials on each request, measured in the same run. Install the
comparison with ``pip install -e ".[bench]"``; without it that row is left out and said so.

The job is gpt-tiny with two analytic objectives (decoder parameters up, FLOPs down) and a FLOPs cap,
so its 50,000 distinct random architectures have real values, a real front and infeasible trials;
they are stored with ``Store.import_trials`` into a fresh SQLite file, then a real ``supernas serve``
answers over loopback HTTP. "Cold" is the first request, sent as soon as the server answers (it is
served from the store with only what the page shows, while the job is read into memory in the
background); "warm" is the median of later ones, once the server holds the job in memory (the plot
call's Server-Timing header says so; how long that took after the first view is printed too), as
optuna-dashboard's warm calls are after its first one read the study. With Debian's chromium installed
it also times the job page in a headless browser until its charts and table are drawn. Prints figures,
asserts nothing.

    python benchmarks/dashboard.py [--trials 50000] [--repeats 10]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np

from supernas.predictors.base import MetricContext
from supernas.predictors.catalogue import get_metric
from supernas.search.jobspec import JobSpec, objective_directions
from supernas.search.pareto import minimization_vector
from supernas.search.runner import create_job
from supernas.search.store.store import open_store
from supernas.spaces.architecture import sample_many
from supernas.spaces.spec import load_spec

FLOPS_CAP = 1.5e6
JOB = {
    "name": "dashboard-benchmark",
    "space": "gpt-tiny",
    "objectives": [{"metric": "decoder_params"}, {"metric": "flops"}],
    "constraints": [{"metric": "flops", "max": FLOPS_CAP}],
    "strategy": "random",
}


def build_store(url: str, n: int) -> int:
    """A completed job with ``n`` distinct random architectures scored by the analytic metrics."""
    space = load_spec("gpt-tiny")
    spec = JobSpec.model_validate({**JOB, "budget": {"trials": n}})
    objectives = objective_directions(spec)
    context = MetricContext(space)
    metrics = [get_metric(name) for name, _ in objectives]
    archs = sample_many(space, n, seed=0)
    values = [{m.name: float(m.evaluate(a, context)) for m in metrics} for a in archs]
    points = np.array([minimization_vector(v, objectives) for v in values])
    with open_store(url) as store:
        job_id = create_job(store, spec)
        store.set_reference(job_id, points.max(axis=0) + 0.1 * np.ptp(points, axis=0))
        rows = [(a.arch_id, a.to_json(), v, v["flops"] <= FLOPS_CAP) for a, v in zip(archs, values)]
        for start in range(0, n, 10_000):
            store.import_trials(job_id, rows[start : start + 10_000], objectives)
        store.set_job_status(job_id, "completed")
    return job_id


def build_optuna_study(path: Path, job_url: str, job_id: int) -> int:
    """The job's trials as an Optuna study for optuna-dashboard: the same values, each architecture as the
    parameters our Optuna strategies give it (``search.encoding``), as an Optuna user's study would hold."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    from supernas.search.strategies.encoding import ArchEncoding
    from supernas.spaces.architecture import Architecture

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with open_store(job_url) as store:
        spec = JobSpec.model_validate(store.get_job(job_id).spec)
        trials = store.trials(job_id)
    objectives = objective_directions(spec)
    storage = JournalStorage(JournalFileBackend(str(path)))
    study = optuna.create_study(
        storage=storage, study_name="dashboard-benchmark", directions=[d for _, d in objectives]
    )
    encoding = ArchEncoding(load_spec(spec.space))
    distributions = encoding.distributions()
    frozen = [
        optuna.trial.create_trial(
            params=encoding.encode(Architecture.from_json(t.arch_json)),
            distributions=distributions,
            values=[t.values[name] for name, _ in objectives],
            state=optuna.trial.TrialState.COMPLETE,
        )
        for t in trials
        if t.values
    ]
    for start in range(0, len(frozen), 5000):
        study.add_trials(frozen[start : start + 5000])
    return study._study_id


def start_optuna_dashboard(path: Path) -> tuple[subprocess.Popen, str] | None:
    """The real optuna-dashboard on the journal file, once it answers; None when it is not installed."""
    program = shutil.which("optuna-dashboard") or str(Path(sys.executable).with_name("optuna-dashboard"))
    if not Path(program).exists():
        return None
    port = free_port()
    process = subprocess.Popen(
        [
            program,
            str(path),
            "--storage-class",
            "JournalFileStorage",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--quiet",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return process, wait_until_up(f"http://127.0.0.1:{port}", "/api/meta", 600, "optuna-dashboard")


def optuna_page_ms(path: Path, study_id: int, repeats: int) -> tuple[float, list[float]] | None:
    """Cold and warm times of optuna-dashboard's study-page data call, on a server started for it."""
    started = start_optuna_dashboard(path)
    if started is None:
        return None
    process, base = started
    try:
        with httpx.Client(base_url=base, timeout=600) as client:
            load = lambda: client.get(f"/api/studies/{study_id}", params={"after": 0}).raise_for_status()  # noqa: E731
            cold = timed(load)
            warm = [timed(load) for _ in range(repeats)]
    finally:
        process.terminate()
        process.wait(60)
    return cold, warm


def front_by_pairs(points: np.ndarray, block: int = 2048) -> np.ndarray:
    """Indices of the non-dominated points by comparing every pair (blocked to bound memory)."""
    dominated = np.zeros(len(points), dtype=bool)
    for start in range(0, len(points), block):
        p = points[start : start + block, None, :]
        dominated[start : start + block] = (
            np.all(points[None] <= p, axis=2) & np.any(points[None] < p, axis=2)
        ).any(axis=1)
    return np.flatnonzero(~dominated)


def recompute_front(url: str, job_id: int) -> int:
    """The baseline: read every trial, then filter the complete ones pairwise."""
    with open_store(url) as store:
        spec = JobSpec.model_validate(store.get_job(job_id).spec)
        trials = [t for t in store.trials(job_id) if t.state == "complete"]
    points = np.array([minimization_vector(t.values, objective_directions(spec)) for t in trials])
    return len(front_by_pairs(points))


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1e3


def page_data(client: httpx.Client, job_id: int) -> None:
    """What the job page fetches: the job, then its plot data and hypervolume, then the first table page."""
    for path in (
        f"/api/jobs/{job_id}",
        f"/api/jobs/{job_id}/plot",
        f"/api/jobs/{job_id}/hypervolume",
        f"/api/jobs/{job_id}/trials?sort=number&order=asc&offset=0&limit=50",
    ):
        client.get(path).raise_for_status()


def wait_until_in_memory(client: httpx.Client, job_id: int) -> float:
    """Seconds until the server answers the job's plot from its in-memory copy of the job."""
    start = time.perf_counter()
    while client.get(f"/api/jobs/{job_id}/plot").headers.get("server-timing") != 'trials;desc="memory"':
        if time.perf_counter() - start > 300:
            raise RuntimeError("the server did not read the job into memory within 5 minutes")
        time.sleep(0.2)
    return time.perf_counter() - start


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(base: str, probe: str, attempts: int, name: str) -> str:
    """``base`` once ``probe`` answers 200, polled every 0.2 s while the server still refuses connections."""
    for _ in range(attempts):
        try:
            if httpx.get(f"{base}{probe}", timeout=5).status_code == 200:
                return base
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"{name} did not start")


def start_server(url: str, home: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    supernas = str(Path(sys.executable).with_name("supernas"))
    process = subprocess.Popen(
        [supernas, "serve", "--port", str(port), "--db", url],
        env={**os.environ, "SUPERNAS_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return process, wait_until_up(f"http://127.0.0.1:{port}", "/api/spaces", 300, "the server")


def browser_page_ms(base: str, job_id: int, repeats: int) -> list[tuple[float, float]] | None:
    """Per load of the job page in Chromium: milliseconds from navigation to the page's own marks for
    "front, hypervolume and table drawn" and "every chart drawn" (None without Debian's chromium)."""
    chromium = shutil.which("chromium")
    if chromium is None:
        return None
    from playwright.sync_api import sync_playwright

    marks = (
        "['supernas:loaded', 'supernas:charts']"
        ".map((name) => performance.getEntriesByName(name)[0].startTime)"
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        times = []
        for _ in range(repeats):
            page.goto(f"{base}/jobs/{job_id}")
            page.wait_for_selector("body[data-charts]", timeout=120_000)
            times.append(tuple(page.evaluate(marks)))
        browser.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'supernas.db'}"
        start = time.perf_counter()
        job_id = build_store(url, args.trials)
        print(f"stored {args.trials} trials in {time.perf_counter() - start:.1f} s")
        base_ms = timed(lambda: recompute_front(url, job_id))
        optuna_journal = Path(tmp) / "optuna-journal.log"
        try:
            import optuna_dashboard  # noqa: F401  (the bench extra)

            study_id = build_optuna_study(optuna_journal, url, job_id)
            print(f"stored them as an Optuna study for optuna-dashboard {optuna_dashboard.__version__}")
            optuna_ms = optuna_page_ms(optuna_journal, study_id, max(3, args.repeats // 3))
        except ImportError:
            optuna_ms = None
            print("optuna-dashboard is not installed (pip install -e '.[bench]'): its row is left out")
        process, base = start_server(url, Path(tmp))
        try:
            with httpx.Client(base_url=base, timeout=300) as client:
                job = client.get(f"/api/jobs/{job_id}").json()
                front_cold = timed(lambda: client.get(f"/api/jobs/{job_id}/front").raise_for_status())
                page_cold = timed(lambda: page_data(client, job_id))
                in_memory_s = wait_until_in_memory(client, job_id)
                front_warm = [
                    timed(lambda: client.get(f"/api/jobs/{job_id}/front").raise_for_status())
                    for _ in range(args.repeats)
                ]
                page_warm = [timed(lambda: page_data(client, job_id)) for _ in range(args.repeats)]
                front = client.get(f"/api/jobs/{job_id}/front").json()
                compressed = client.get(f"/api/jobs/{job_id}/plot")
                plot = compressed.json()
                raw = client.get(f"/api/jobs/{job_id}/plot", headers={"Accept-Encoding": "identity"})
                sizes = (raw.num_bytes_downloaded / 1e3, compressed.num_bytes_downloaded / 1e3)
            browser = browser_page_ms(base, job_id, max(3, args.repeats // 3))
        finally:
            process.terminate()
            process.wait(60)
    shown = (
        len(plot["front"]["numbers"]) + len(plot["dominated"]["numbers"]) + len(plot["infeasible"]["numbers"])
    )
    print(
        f"job: {job['complete']} complete, {job['infeasible']} infeasible; front {len(front)} trials; "
        f"chart points sent {shown} of {job['evaluated']}; "
        f"plot payload {sizes[0]:.0f} KB, {sizes[1]:.0f} KB gzipped; "
        f"in the server's memory {in_memory_s:.1f} s after the first view"
    )
    rows = [
        ("baseline: read all trials + O(n^2) front", base_ms, base_ms),
        ("GET /front", front_cold, statistics.median(front_warm)),
        ("job page data (job, plot, hypervolume, 50 rows)", page_cold, statistics.median(page_warm)),
    ]
    if browser:
        for i, what in enumerate(("front, hypervolume, table", "every chart")):
            rows.append(
                (
                    f"job page in Chromium: {what} drawn",
                    browser[0][i],
                    statistics.median(t[i] for t in browser[1:]),
                )
            )
    if optuna_ms:
        rows.append(
            ("optuna-dashboard 0.21: GET /api/studies/ID", optuna_ms[0], statistics.median(optuna_ms[1]))
        )
    print(f"\n{'':<50} {'cold ms':>9} {'warm ms':>9} {'baseline / warm':>16}")
    for name, cold, warm in rows:
        print(f"{name:<50} {cold:>9.1f} {warm:>9.1f} {base_ms / warm:>15.1f}x")
    if optuna_ms:
        ours = rows[2]
        print(
            f"\njob page data vs optuna-dashboard's study data: cold {optuna_ms[0] / ours[1]:.1f}x faster, "
            f"warm {statistics.median(optuna_ms[1]) / ours[2]:.1f}x faster (spread of warm runs: "
            f"ours {min(page_warm):.0f}-{max(page_warm):.0f} ms, "
            f"optuna-dashboard {min(optuna_ms[1]):.0f}-{max(optuna_ms[1]):.0f} ms)"
        )
    print("\ntarget: the job page's data < 250 ms on the first view after a start, < 300 ms warm")


if __name__ == "__main__":
    main()
