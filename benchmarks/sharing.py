"""Weight sharing against its baseline, defined once for every benchmark that asks what sharing saves.

The question: what does scoring a candidate inside the weight-sharing supernet (``supernet.active(arch)``)
cost, against what one does for the same candidate without weight sharing: extract the subnet (copy its
slices of the same supernet's weights into a dense model, ``spaces.extract``) and run the same
computation on that model. Both sides compute the same value: the spaces are taken at full precision, so
the extracted model's weights equal the supernet's. Both run in the same process, on the same
architectures, one after the other per architecture, so load drift hits both alike. A freshly
initialised dense model is not the baseline: it lacks the supernet's weights, so it answers another
question (and skips the copy that extraction costs).

Each seed draws its own random architectures; a figure is the median over them, and a ratio is
reported as mean and standard deviation over the seeds.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from supernas.models.checkpoint import extract
from supernas.models.supernet import Supernet
from supernas.spaces.architecture import sample_many

BASELINE = "extract the subnet from the same supernet, then the same computation on the dense model"

Work = Callable[
    [nn.Module], object
]  # the computation, given the supernet (subnet active) or the extracted model


def _ms(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return 1000 * (time.perf_counter() - start)


@dataclass(frozen=True)
class SeedResult:
    shared_ms: float  # median over the seed's architectures
    extracted_ms: float

    @property
    def ratio(self) -> float:
        return self.extracted_ms / self.shared_ms


@dataclass(frozen=True)
class Comparison:
    seeds: list[SeedResult]

    def mean(self, field: str) -> float:
        return statistics.mean(getattr(s, field) for s in self.seeds)

    def spread(self, field: str) -> float:
        values = [getattr(s, field) for s in self.seeds]
        return statistics.stdev(values) if len(values) > 1 else 0.0

    def ratio_text(self) -> str:
        return f"{self.mean('ratio'):.2f}x (sd {self.spread('ratio'):.2f})"


def compare(
    supernet: Supernet, work: Work, n_archs: int, seeds: list[int], warmup: bool = True
) -> Comparison:
    """``work`` in the supernet vs on the extracted subnet, ``n_archs`` random architectures per seed."""
    results = []
    for seed in seeds:
        archs = sample_many(supernet.spec, n_archs, seed=seed)
        if warmup:
            with supernet.active(archs[0]):
                work(supernet)
        shared, extracted = [], []
        for arch in archs:

            def in_supernet(arch=arch) -> None:
                with supernet.active(arch):
                    work(supernet)

            shared.append(_ms(in_supernet))
            extracted.append(_ms(lambda arch=arch: work(extract(supernet, arch))))
        results.append(SeedResult(statistics.median(shared), statistics.median(extracted)))
    return Comparison(results)
