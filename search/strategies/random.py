"""Strategy ``random``: uniform samples of the space, the baseline every other strategy must beat."""

from __future__ import annotations

from supernas.search.strategies.base import Strategy
from supernas.spaces.architecture import Architecture, sample


class RandomStrategy(Strategy):
    def ask(self, n: int) -> list[Architecture]:
        return [sample(self.spec, self.rng) for _ in range(n)]

    def tell(self, arch: Architecture, values: dict[str, float] | None, violation: float) -> None:
        pass
