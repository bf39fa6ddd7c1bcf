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

from pydantic import BaseModel, ConfigDict, Field

from supernas.predictors.direction import Direction
from supernas.spaces.architecture import Architecture
from supernas.spaces.spec import SpaceSpec


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
    score: Literal["kl", "val_loss"] = Field(
        default="kl", description="mip: the block library's quality cost it minimizes"
    )
    heldout_batches: int = Field(
        default=4, ge=1, le=256, description="mip: held-out batches each block is scored on"
    )


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
