"""The Metric interface and registry: everything that scores an architecture.

A metric has a name (job specs refer to it), a direction, a unit and a cost class, and maps
``(arch, context) -> float``. Values are deterministic for the same architecture, weights, batch and
seed. Options (a latency metric's batch size, say) are keyword arguments given when the metric is
made with :func:`~supernas.predictors.catalogue.get_metric`; unknown options are a user error.

Cost classes, cheapest first:
- analytic: exact, computed from the architecture alone;
- proxy: zero-cost proxies, one or a few forward/backward passes through the weight-sharing supernet;
- predicted: a fitted latency predictor;
- measured: timing the extracted subnet on a device;
- one_shot: validation quality with weights inherited from a trained supernet.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import Enum
from typing import ClassVar

import torch

from supernas.core.errors import SpecError, allowed
from supernas.data.inputs import Batch, random_batch
from supernas.models.supernet import Supernet
from supernas.predictors.direction import Direction
from supernas.spaces.architecture import Architecture
from supernas.spaces.spec import SpaceSpec


class CostClass(str, Enum):
    analytic = "analytic"
    proxy = "proxy"
    predicted = "predicted"
    measured = "measured"
    one_shot = "one_shot"


@dataclass
class MetricContext:
    """What metrics need besides the architecture. The supernet is built on first use."""

    spec: SpaceSpec
    batch: Batch | None = None
    heldout: list[Batch] | None = (
        None  # held-out batches for one-shot metrics (val_loss, val_accuracy, fidelity)
    )
    device: str = "cpu"
    seed: int = 0
    supernet_factory: object = None  # callable returning a Supernet; default: random init with ``seed``
    data: str | None = (
        None  # a job's ``data`` (built-in name or file): its held-out split becomes ``heldout``
    )
    heldout_text: torch.Tensor | None = (
        None  # byte-level LMs: held-out bytes to score (a job's ``data`` file's tail)
    )
    _supernet: Supernet | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.batch is None:
            self.batch = random_batch(self.spec, batch_size=4, seq_len=32, seed=self.seed)
        if self.data is not None and self.heldout is None:
            self.use_data(self.data)

    def use_data(self, source: str) -> None:
        """Score one-shot metrics on ``source``'s held-out split (bytes of its tail for a byte-level LM)
        instead of the data kept with the supernet; every context given the same source scores the same
        examples."""
        from supernas.data.task import load_data
        from supernas.data.types import TaskData, heldout_batches

        data = load_data(source, self.spec)
        if isinstance(data, TaskData):
            self.heldout = heldout_batches(data.heldout)
        else:
            self.heldout_text = data.heldout
        self.data = source

    @property
    def supernet(self) -> Supernet:
        if self._supernet is None:
            made = self.supernet_factory() if self.supernet_factory else Supernet(self.spec, seed=self.seed)
            self._supernet = made.to(self.device)
        return self._supernet

    @supernet.setter
    def supernet(self, value: Supernet) -> None:
        self._supernet = value

    def generator(self) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed)


class Metric(ABC):
    """One way to score an architecture. Subclasses set the class attributes and ``evaluate``."""

    name: ClassVar[str]
    direction: ClassVar[Direction]
    unit: ClassVar[str]
    cost: ClassVar[CostClass]
    description: ClassVar[str] = ""
    tasks: ClassVar[tuple[str, ...]] = ("causal_lm", "encoder_classification", "vision", "speech")
    options: ClassVar[dict[str, object]] = {}  # option name -> default

    def __init__(self, **options: object) -> None:
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise SpecError(
                f"metric '{self.name}': unknown option '{unknown[0]}' "
                f"({allowed(self.options) if self.options else 'it takes no options'})"
            )
        self.settings = {**self.options, **options}

    def check_applicable(self, spec: SpaceSpec) -> None:
        if spec.task not in self.tasks:
            raise SpecError(
                f"metric '{self.name}' does not apply to space '{spec.name}' "
                f"(task {spec.task}; it needs {', '.join(self.tasks)})"
            )

    @abstractmethod
    def evaluate(self, arch: Architecture, context: MetricContext) -> float: ...


REGISTRY: dict[str, type[Metric]] = {}


def register(cls: type[Metric]) -> type[Metric]:
    """Class decorator adding a metric to the registry under ``cls.name``. A module imported again (a
    plugin reloaded) replaces its own metrics; a name another module registered is an error."""
    known = REGISTRY.get(cls.name)
    if known is not None and (known.__module__, known.__qualname__) != (cls.__module__, cls.__qualname__):
        raise SpecError(
            f"metric '{cls.name}' is registered twice: by {known.__module__} and by {cls.__module__}"
        )
    REGISTRY[cls.name] = cls
    return cls


def int_option(metric: Metric, name: str, minimum: int = 1) -> int:
    """A metric option that must be an integer >= ``minimum``; a clear error otherwise."""
    value = metric.settings[name]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SpecError(
            f"metric '{metric.name}': option '{name}' = {value!r} must be an integer >= {minimum}"
        )
    return value
