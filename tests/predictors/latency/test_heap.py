"""The steady heap (:func:`supernas.predictors.latency.timing.steady_heap`): once a process has timed
anything, a subnet's forward reuses memory instead of page-faulting fresh memory in on every run.

Counted in fresh processes, since glibc's thresholds are process-wide and move with what the process
freed before. Page faults are a count, not a time: the figures are the same on a fast or a busy machine.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]  # the repository: the script loads examples/ from there

# Sixteen MiniLM subnets, one after the other, each warmed up and then run 5 times; printed: how many of
# them page-faulted fresh memory in on every run: at least FRESH_PAGES pages in each. By glibc's
# default some do (650 to 4,500 pages a run, measured), depending on what the subnets before them freed.
# A few faults now and then (Python's own arenas, the stack, a lazy buffer: up to 288 pages in one run
# under a CPU hog, measured, and a page or two in others) are no such subnet, even in every run.
FORWARD_PAGE_FAULTS = """
import resource, sys
import torch
from supernas.data.inputs import random_batch
from supernas.models.checkpoint import extract
from supernas.models.supernet import Supernet
from supernas.predictors.latency.timing import steady_heap, time_callable
from supernas.spaces.architecture import sample_many
from supernas.spaces.spec import load_spec

torch.set_num_threads(1)
spec = load_spec("examples/minilm-l6.yaml")
supernet, inputs = Supernet(spec, seed=0), random_batch(spec, 1, 64, 0).inputs
if sys.argv[1] == "timed":
    time_callable(lambda: inputs.sum(), torch.device("cpu"), warmup=0, repeats=1, threads=1)
    assert steady_heap() == "steady"
FRESH_PAGES = 64
faulting = 0
with torch.inference_mode():
    for arch in sample_many(spec, 16, 7):
        model = extract(supernet, arch).eval()
        for _ in range(3):
            model(inputs)
        faults = []
        for _ in range(5):
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            model(inputs)
            faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
        faulting += min(faults) >= FRESH_PAGES
print(faulting)
"""


def subnets_faulting_every_run(arm: str) -> int:
    """Of the sixteen subnets, those that page-faulted on each of their runs after the warm-up, in a fresh
    process (``timed``: one that timed something first)."""
    done = subprocess.run(
        [sys.executable, "-c", FORWARD_PAGE_FAULTS, arm],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


def test_after_a_timing_no_subnet_page_faults_on_every_forward_as_some_do_by_default():
    assert subnets_faulting_every_run("default") >= 1
    assert subnets_faulting_every_run("timed") == 0
