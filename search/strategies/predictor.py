"""Strategy ``predictor``: surrogate-assisted evolution (LINAS)."""

from __future__ import annotations

import numpy as np

from supernas.predictors.direction import Direction
from supernas.search.pareto import crowding_distance, non_dominated_sort
from supernas.search.strategies.base import Strategy, StrategySpec
from supernas.spaces.architecture import Architecture, crossover, mutate, sample
from supernas.spaces.spec import SpaceSpec


class PredictorStrategy(Strategy):
    """LINAS-style surrogate-assisted search (Cummings et al. 2022).

    Each round: fit one gradient-boosted regressor per objective and per constrained metric on the
    evaluated trials' architecture features; evolve a population of ``4 * population`` on the surrogate
    predictions with NSGA-II (crossover + mutation from ``spaces``, non-dominated sorting and crowding
    distance, predicted constraint violations as a penalty) for ``generations`` generations; propose
    the best-ranked architectures not yet evaluated. A round yields ``population`` proposals, handed
    out by ``ask`` until they run out, so the surrogates are refit once per round, not once per trial.
    """

    PENALTY = 1e6
    HISTORY = (
        500  # by default the surrogates fit, and evolution starts from, the newest this many evaluated trials
    )

    def __init__(
        self,
        spec: SpaceSpec,
        objectives: list[tuple[str, Direction]],
        settings: StrategySpec,
        seed: int,
        constraints: list | None = None,
    ) -> None:
        super().__init__(spec, objectives, settings, seed)
        self.constraints = constraints or []
        self.observed: dict[str, tuple[Architecture, dict[str, float]]] = {}
        self.asked: set[str] = set()
        self.queue: list[Architecture] = []
        self.feature_rows: dict[str, np.ndarray] = {}  # evaluated architectures' features, by arch_id

    def tell(self, arch: Architecture, values: dict[str, float] | None, violation: float) -> None:
        if values is not None:
            self.observed[arch.arch_id] = (arch, values)

    def ask(self, n: int) -> list[Architecture]:
        proposals = []
        while len(proposals) < n:
            if len(self.observed) < self.settings.initial:
                proposals.append(sample(self.spec, self.rng))
                continue
            if not self.queue:
                self.queue = self._evolve_on_surrogate(self.settings.population)
            arch = self.queue.pop(0)
            if arch.arch_id not in self.observed:
                proposals.append(arch)
        self.asked.update(a.arch_id for a in proposals)
        return proposals

    def _features(self, archs: list[Architecture]) -> np.ndarray:
        from supernas.predictors.latency.predictors import feature_matrix
        from supernas.predictors.latency.workload import Workload

        return feature_matrix(self.spec, archs, Workload(batch_size=1, seq_len=min(64, self.spec.seq_len)))

    def _feature_rows(self, archs: list[Architecture]) -> np.ndarray:
        """``archs``' features; an evaluated architecture's are computed once and kept, since every round
        fits on, and starts evolution from, the recent history again."""
        new = list({a.arch_id: a for a in archs if a.arch_id not in self.feature_rows}.values())
        computed = dict(zip((a.arch_id for a in new), self._features(new))) if new else {}
        self.feature_rows.update(
            (arch_id, row) for arch_id, row in computed.items() if arch_id in self.observed
        )
        return np.array(
            [
                self.feature_rows[a.arch_id] if a.arch_id in self.feature_rows else computed[a.arch_id]
                for a in archs
            ]
        )

    def _recent(self) -> list[tuple[Architecture, dict[str, float]]]:
        """The newest evaluated trials: a round's cost (features, fits, the first non-dominated sort) stops
        growing with the job, as Optuna's samplers' does with their bounded history."""
        return list(self.observed.values())[-(self.settings.history or self.HISTORY) :]

    def _fit(self) -> callable:
        from sklearn.ensemble import GradientBoostingRegressor

        recent = self._recent()
        x = self._feature_rows([a for a, _ in recent])
        targets = [name for name, _ in self.objectives] + [c.metric for c in self.constraints]
        models = {}
        for name in dict.fromkeys(targets):
            y = np.array([v[name] for _, v in recent], dtype=float)
            models[name] = GradientBoostingRegressor(
                n_estimators=150, max_depth=3, learning_rate=0.1, random_state=self.seed
            ).fit(x, y)

        def predict(candidates: list[Architecture]) -> np.ndarray:
            feats = self._feature_rows(candidates)
            predicted = {name: model.predict(feats) for name, model in models.items()}
            scores = np.stack(
                [predicted[n] if d == "minimize" else -predicted[n] for n, d in self.objectives], axis=1
            )
            penalty = sum(np.array([c.violation(v) for v in predicted[c.metric]]) for c in self.constraints)
            return scores + self.PENALTY * np.asarray(penalty)[:, None] if self.constraints else scores

        return predict

    def _select(self, population: list[Architecture], scores: np.ndarray, k: int) -> list[int]:
        """Indices of the k best by non-dominated rank, then crowding distance."""
        chosen: list[int] = []
        for front in non_dominated_sort(scores):
            if len(chosen) + len(front) <= k:
                chosen += list(front)
            else:
                crowd = crowding_distance(scores[front])
                chosen += [front[i] for i in np.argsort(-crowd)[: k - len(chosen)]]
                break
        return chosen

    def _evolve_on_surrogate(self, n: int) -> list[Architecture]:
        predict = self._fit()
        size = 4 * self.settings.population
        population = [a for a, _ in self._recent()]
        while len(population) < size:
            population.append(sample(self.spec, self.rng))
        scores = predict(population)
        keep = self._select(population, scores, size)
        population, scores = [population[i] for i in keep], scores[keep]
        for _ in range(self.settings.generations):
            children = [
                mutate(
                    self.spec,
                    crossover(self.spec, *self.rng.sample(population, 2), self.rng),
                    self.rng,
                    prob=0.15,
                )
                for _ in range(size)
            ]
            union = population + children
            union_scores = np.vstack([scores, predict(children)])
            keep = self._select(union, union_scores, size)
            population, scores = [union[i] for i in keep], union_scores[keep]
        seen = set(self.observed) | self.asked
        order = self._select(population, scores, len(population))
        proposals, ids = [], set()
        for i in order:
            arch = population[i]
            if arch.arch_id not in seen and arch.arch_id not in ids:
                proposals.append(arch)
                ids.add(arch.arch_id)
            if len(proposals) == n:
                break
        while len(proposals) < n:
            proposals.append(sample(self.spec, self.rng))
        return proposals
