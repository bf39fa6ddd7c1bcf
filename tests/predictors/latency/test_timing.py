"""The timing mechanics on a fake clock: probe normalisation, adaptive repeats, settling, noise scores.

A fake clock advances only when the timed calls run, by costs the test sets, so every figure here is
exact and nothing depends on how fast or busy the machine is.
"""

import json
import math

import numpy as np
import pytest
import torch

from supernas.predictors.latency.measure import settled_medians, timed_passes, two_pass_disagreement
from supernas.predictors.latency.probe import reference_file, reference_probe, timing_options
from supernas.predictors.latency.report import score
from supernas.predictors.latency.timing import Probe, time_callable
from supernas.predictors.latency.workload import Workload

CPU = torch.device("cpu")


class FakeHost:
    """A clock in seconds that the timed calls advance: ``run`` costs 2 ms and ``probe`` 0.5 ms, times
    ``slowdown`` while the host is in a slow phase (calls ``slow_from`` to ``slow_to``, counting both)."""

    def __init__(self, slowdown: float = 1.0, slow_from: int = 0, slow_to: int = -1) -> None:
        self.now, self.calls = 0.0, 0
        self.slowdown, self.slow_from, self.slow_to = slowdown, slow_from, slow_to

    def _spend(self, ms: float) -> None:
        slow = self.slow_from <= self.calls <= self.slow_to
        self.now += ms * (self.slowdown if slow else 1.0) / 1e3
        self.calls += 1

    def run(self) -> None:
        self._spend(2.0)

    def probe(self) -> None:
        self._spend(0.5)

    def clock(self) -> float:
        return self.now


def timed_on(host: FakeHost, probe: bool, repeats: int = 10) -> float:
    options = dict(threads=1, probe=Probe(host.probe, 0.5) if probe else None, now=host.clock)
    return time_callable(host.run, CPU, 0, repeats, **options).median_ms


def test_a_slow_phase_of_the_host_moves_the_probe_normalised_estimate_not_at_all():
    """A 40 % slow phase over 6 of 10 runs (probe and run alike, as a busy neighbour slows both) shifts
    the plain median to 2.8 ms; scaled by the probe timed just before each run it stays 2 ms."""
    assert timed_on(FakeHost(), probe=False) == pytest.approx(2.0)
    assert timed_on(FakeHost(1.4, 4, 15), probe=False) == pytest.approx(2.8)
    assert timed_on(FakeHost(1.4, 4, 15), probe=True) == pytest.approx(2.0)


class AlternatingRun:
    """Runs that take 1.0 and 1.2 ms in turn on the fake clock: median 1.1, median absolute deviation
    0.1, so the median's relative standard error is sqrt(pi/2) x 1.4826 x 0.1 / 1.1 / sqrt(n)."""

    def __init__(self) -> None:
        self.now, self.calls = 0.0, 0

    def run(self) -> None:
        self.now += (1.0 if self.calls % 2 == 0 else 1.2) / 1e3
        self.calls += 1

    def clock(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("target_error", "max_repeats", "runs"),
    [
        (0.03, 100, 32),  # 0.1689 / sqrt(n) <= 0.03 first at n = 32 (28 gives 0.0319)
        (0.03, 20, 20),  # the cap stops it first
        (0.5, 100, 4),  # the first batch is steady enough
        (0.0, None, 4),  # no max_repeats: exactly repeats runs
    ],
)
def test_adaptive_repeats_stop_at_the_target_error_or_the_cap(target_error, max_repeats, runs):
    host = AlternatingRun()
    stats = time_callable(
        host.run, CPU, 0, 4, 1, max_repeats=max_repeats, target_error=target_error, now=host.clock
    )
    assert stats.runs == runs == host.calls
    factor = math.sqrt(math.pi / 2) * 1.4826
    assert stats.error == pytest.approx(factor * 0.1 / 1.1 / math.sqrt(runs))
    assert stats.statistic == f"median of {runs} runs"


def test_items_whose_passes_disagree_are_timed_again():
    """Item 2's passes disagree 4x more than the others' (a slow phase caught one): it alone is timed
    twice more and its median taken over all four timings."""
    passes = np.array([[1.0, 2.0, 3.0, 4.0], [1.1, 2.2, 4.2, 4.4]])
    retimed = []

    def time_one(i: int) -> float:
        retimed.append(i)
        return 3.1

    assert settled_medians(passes, time_one).tolist() == pytest.approx([1.05, 2.1, 3.1, 4.2])
    assert retimed == [2, 2]
    assert timed_passes(lambda i: 10.0 * i, 3, 2).tolist() == [[0.0, 10.0, 20.0], [0.0, 10.0, 20.0]]
    assert two_pass_disagreement(np.array([1.0, 3.0]), np.array([1.0, 1.0])) == pytest.approx(0.5)


def test_scores_judge_order_only_where_latencies_differ_by_more_than_the_noise():
    measured = np.array([1.0, 1.05, 2.0, 4.0])
    predicted = np.array([1.1, 1.0, 2.2, 3.6])  # 1.0 and 1.05 swapped: within 10 % noise, not counted
    scored = score(predicted, measured, noise=0.10)
    assert scored.pairs_right == 100.0 and scored.kendall == pytest.approx(4 / 6)
    mape = 100 * np.mean(np.abs(predicted - measured) / measured)
    assert scored.mape == pytest.approx(mape) and scored.mape_over_noise == pytest.approx(mape / 10)
    swapped = score(np.array([2.0, 1.0, 1.5, 3.0]), measured, noise=0.10)  # orders 1.0 after 2.0
    assert swapped.pairs_right == pytest.approx(100 * 4 / 5)


def test_the_probe_reference_is_measured_once_per_machine_and_the_first_value_kept(isolated_home):
    workload = Workload(seq_len=8, threads=1, clock="cpu")
    path = reference_file(workload)
    path.write_text(json.dumps({"reference_ms": 0.25, "runs": 100}))  # another process measured first
    assert reference_probe(workload).reference_ms == 0.25
    other = Workload(seq_len=8, threads=1, clock="wall")  # another clock: its own reference
    measured = reference_probe(other).reference_ms
    assert reference_file(other) != path and measured > 0
    assert json.loads(reference_file(other).read_text())["reference_ms"] == measured
    assert sorted(p.name for p in path.parent.iterdir() if p.suffix == ".tmp") == []
    assert timing_options(Workload(repeats=4, probe=False))["probe"] is None
    assert timing_options(Workload(repeats=4))["max_repeats"] == 12
