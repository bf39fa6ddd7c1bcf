"""The Strategy interface: propose architectures from the trials evaluated so far.

Life cycle (the controller drives it): ``ask(n)`` returns up to n architectures to evaluate; each
evaluated architecture comes back through ``tell(arch, values, violation)`` with its metric values
(``None`` when evaluation failed) and its total constraint violation (0 when feasible). ``tell`` also
accepts architectures the strategy never proposed: that is how a resumed job rebuilds a strategy's
state from the trials already in the store. Strategies never see the database.

- ``random``: uniform samples (:mod:`.random`).
- ``nsga2``, ``tpe``/``motpe``: Optuna's samplers through ask/tell on an in-memory study; constraint
  violations reach them as Optuna trial constraints (:mod:`.optuna`).
- ``predictor``: a LINAS-style loop (:mod:`.predictor`): fit cheap surrogates on the evaluated trials, run
  NSGA-II on the surrogates for ``generations`` x ``4 * population`` predictions, propose the best
  unevaluated ones.
- ``mip``: exact per-layer block choice over a measured block library (:mod:`.mip`).
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from supernas.predictors.direction import Direction
from supernas.spaces.architecture import (
    Architecture,
    largest,
    parse_architecture,
    quant_options,
    quantized,
)
from supernas.spaces.spec import SpaceSpec

START_KEYWORDS = ("largest",)  # what strategy.start names besides architectures


class StrategySpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Literal["random", "nsga2", "tpe", "motpe", "predictor", "mip"]
    population: int = Field(
        default=16,
        ge=2,
        description="nsga2 population; predictor's surrogate NSGA-II uses 4x; mip: budget levels per sweep",
    )
    initial: int = Field(
        default=16, ge=2, description="random trials before a model-based strategy takes over"
    )
    generations: int = Field(
        default=40, ge=1, description="predictor: NSGA-II generations on the surrogate per round"
    )
    history: int | None = Field(
        default=None,
        ge=20,
        description="trials the strategy's model keeps, newest first "
        "(default: 20 generations for nsga2, 500 for tpe, motpe and predictor)",
    )
    solutions: int = Field(default=2, ge=1, le=64, description="mip: distinct answers per budget level")
    score: Literal["kl", "val_loss", "embedding"] | None = Field(
        default=None,
        description="mip: the block library's quality cost it minimizes (default: kl; embedding for an "
        "encoder on unlabeled text)",
    )
    heldout_batches: int = Field(
        default=4, ge=1, le=256, description="mip: held-out batches each block is scored on"
    )
    start: list[str | dict] = Field(
        default_factory=list,
        description="architectures evaluated first: 'largest' (every dimension at its maximum, once per "
        "quantization scheme the space offers) or architectures as `supernas sample` writes them",
    )

    @field_validator("start")
    @classmethod
    def _start(cls, v: list[str | dict]) -> list[str | dict]:
        for i, entry in enumerate(v):
            if isinstance(entry, str) and entry not in START_KEYWORDS:
                raise ValueError(
                    f"start[{i}] '{entry}' is not an architecture (allowed: {', '.join(START_KEYWORDS)}, "
                    "or an architecture mapping)"
                )
        return v


def start_architectures(spec: SpaceSpec, settings: StrategySpec) -> list[Architecture]:
    """The architectures ``settings.start`` names, in order, each once."""
    found: dict[str, Architecture] = {}
    for i, entry in enumerate(settings.start):
        if entry == "largest":
            archs = [quantized(largest(spec), **q) for q in quant_options(spec)]
        else:
            archs = [parse_architecture(spec, entry, f"strategy.start[{i}]")]
        found |= {arch.arch_id: arch for arch in archs if arch.arch_id not in found}
    return list(found.values())


class Strategy(ABC):
    def __init__(
        self, spec: SpaceSpec, objectives: list[tuple[str, Direction]], settings: StrategySpec, seed: int
    ) -> None:
        self.spec, self.objectives, self.settings, self.seed = spec, objectives, settings, seed
        self.rng = random.Random(seed)

    @abstractmethod
    def ask(self, n: int) -> list[Architecture]: ...

    @abstractmethod
    def tell(self, arch: Architecture, values: dict[str, float] | None, violation: float) -> None: ...


class StartFirst(Strategy):
    """A strategy whose job names start architectures: it proposes those first, each once (one already
    told, as a resumed job's stored trials are, is not proposed again), then ``inner``'s own. Every
    result reaches ``inner``, which takes architectures it never proposed (see the module docstring)."""

    def __init__(self, inner: Strategy, start: list[Architecture]) -> None:
        super().__init__(inner.spec, inner.objectives, inner.settings, inner.seed)
        self.inner, self.waiting = inner, list(start)

    def ask(self, n: int) -> list[Architecture]:
        first, self.waiting = self.waiting[:n], self.waiting[n:]
        return first + (self.inner.ask(n - len(first)) if n > len(first) else [])

    def tell(self, arch: Architecture, values: dict[str, float] | None, violation: float) -> None:
        self.waiting = [waiting for waiting in self.waiting if waiting.arch_id != arch.arch_id]
        self.inner.tell(arch, values, violation)
