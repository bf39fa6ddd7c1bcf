"""Run the timing-sensitive tests (``-m timing``) many times in a row, idle and under a CPU hog.

    python -m tests.stress [--runs 20] [--load idle,busy] [-- PYTEST ARGS]

A test that holds a job at a gate (:mod:`tests.barrier`) must pass whatever the machine's speed, so it
is run on an idle machine and with a busy loop on every core (as ``stress --cpu N`` does), each run a
fresh pytest process. Prints one line per run and a summary per load: runs, failed runs, failed tests
by name; a failed run's whole output is kept in test-artifacts/stress/. Exits 1 if any run failed.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from tests.processes import busy_cores

ROOT = Path(__file__).resolve().parents[1]
LOGS = ROOT / "test-artifacts" / "stress"  # the output of each failed run
FAILED = re.compile(r"^(?:FAILED|ERROR) (\S+)", re.MULTILINE)


def run_once(pytest_args: list[str]) -> tuple[int, list[str], float, str]:
    """One pytest process over the timing tests: (exit status, failed test ids, seconds, its output)."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-m", "timing", "-p", "no:cacheprovider", *pytest_args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    output = done.stdout + done.stderr
    return done.returncode, FAILED.findall(done.stdout), time.monotonic() - started, output


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per load")
    parser.add_argument("--load", default="idle,busy", help="idle, busy, or both (comma-separated)")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    args = parser.parse_args()
    failures = 0
    for load in args.load.split(","):
        failed_runs, failed_tests = 0, Counter()
        with busy_cores((os.cpu_count() or 1) if load == "busy" else 0):
            for run in range(1, args.runs + 1):
                status_code, failed, seconds, output = run_once(args.pytest_args)
                passed = status_code == 0
                failed_runs += not passed
                failed_tests.update(failed)
                status = "passed"
                if not passed:
                    log = LOGS / f"{load}-run-{run}.txt"
                    log.parent.mkdir(parents=True, exist_ok=True)
                    log.write_text(output)
                    named = ", ".join(failed) or f"(no test named: pytest ended with status {status_code})"
                    status = f"FAILED {named}; pytest's output in {log}"
                print(f"{load} run {run}/{args.runs}: {status} in {seconds:.0f} s", flush=True)
        print(f"{load}: {args.runs} runs, {failed_runs} failed", flush=True)
        for test, count in failed_tests.most_common():
            print(f"  {test}: failed in {count} runs")
        failures += failed_runs
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
