"""Strategy ``mip``: exact per-layer block choice over a block library, swept over a budget to trace a front.

The job's objectives and constraints decide the MILP (:mod:`.mip`). Metrics the library models exactly
and additively are budgets: ``latency_predicted_ms`` and ``latency_ms`` (the lookup table's part times
for the metric's workload), ``params``, ``non_embedding_params`` and ``weight_bytes``. Any other
objective (``val_loss``, say) is what the summed quality cost stands for. The first budgeted objective
is swept from the least any architecture needs to what the largest needs (or to a constraint's ``max`` on
it), over ``population`` levels; each level asks the solver for ``solutions`` distinct answers; a
constraint's ``max`` on a budgeted metric is a fixed budget of every solve. When a sweep is used up,
the next one halves the spacing (twice at most: nearby budgets soon give the same optima), then each
further sweep doubles the distinct answers asked of every level. The proposals are evaluated by the
workers like any trial's, so the stored front is measured, not the sum.
"""

from __future__ import annotations

from supernas.core.errors import SpecError
from supernas.predictors.direction import Direction
from supernas.search.puzzle.blocks import BlockLibrary
from supernas.search.puzzle.mip import (
    Answers,
    InfeasibleBudget,
    LayerwiseProblem,
    Resource,
    least,
    most,
    solve,
)
from supernas.search.strategies.base import Strategy, StrategySpec
from supernas.spaces.architecture import Architecture, sample
from supernas.spaces.spec import SpaceSpec

BUDGETED = {
    "latency_predicted_ms": "latency_ms",
    "latency_ms": "latency_ms",
    "params": "params",
    "non_embedding_params": "non_embedding_params",
    "weight_bytes": "weight_bytes",
}
MAX_EMPTY_SWEEPS = 4  # sweeps in a row with no new architecture -> random samples (the front is exhausted)
MAX_REFINEMENTS = 2  # sweeps that halve the spacing of the levels; later ones ask each level for more answers


def layerwise_problem(library: BlockLibrary, score: str | None = None) -> LayerwiseProblem:
    score = library.check_score(score)
    q = library.quality[score]
    resources = {name: Resource(r["base"], r["attention"], r["ffn"]) for name, r in library.resources.items()}
    depth_cost = {d: library.depth_quality[score][str(d)] for d in library.depths}
    return LayerwiseProblem(list(library.depths), depth_cost, q["attention"], q["ffn"], q["quant"], resources)


def budget_metrics(
    objectives: list[tuple[str, Direction]], constraints: list
) -> tuple[str, dict[str, float]]:
    """(the library resource the sweep runs over, fixed budgets from the constraints' ``max``)."""
    swept = [BUDGETED[name] for name, direction in objectives if name in BUDGETED and direction == "minimize"]
    if not swept:
        raise SpecError(
            f"strategy 'mip' needs an objective it can budget ({', '.join(BUDGETED)}), minimized; "
            f"got {', '.join(name for name, _ in objectives)}"
        )
    fixed: dict[str, float] = {}
    for c in constraints:
        if c.metric in BUDGETED and c.max is not None:
            name = BUDGETED[c.metric]
            fixed[name] = min(fixed.get(name, c.max), c.max)
    return swept[0], fixed


class MipStrategy(Strategy):
    def __init__(
        self,
        spec: SpaceSpec,
        objectives: list[tuple[str, Direction]],
        settings: StrategySpec,
        seed: int,
        constraints: list | None,
        library: BlockLibrary,
    ) -> None:
        super().__init__(spec, objectives, settings, seed)
        self.library = library
        self.problem = layerwise_problem(library, settings.score)
        self.swept, self.fixed = budget_metrics(objectives, constraints or [])
        if self.swept not in self.problem.resources:
            raise SpecError(
                f"strategy 'mip': the block library has no '{self.swept}' (build it with a latency workload)"
            )
        for name, bound in self.fixed.items():  # an infeasible constraint is one clear line before any trial
            solve(self.problem, {name: bound})
        self.low = least(self.problem, self.swept)
        # a constraint on the swept resource ends the sweep: levels above it would all be the cap's answers
        self.high = min(most(self.problem, self.swept), self.fixed.get(self.swept, float("inf")))
        self.answers: dict[
            int, Answers | None
        ] = {}  # budget level (step of the finest grid) -> its answers (None: infeasible)
        self.sweeps, self.empty_sweeps = 0, 0
        self.proposed: set[str] = set()
        self.queue: list[Architecture] = []

    def _sweep(self) -> list[Architecture]:
        """The next sweep: the levels (each refinement adds the previous ones' midpoints), each solved for
        its distinct answers (more of them once the levels are fine enough)."""
        refinements = min(self.sweeps, MAX_REFINEMENTS)
        finest = (self.settings.population - 1) * 2**MAX_REFINEMENTS  # levels are steps of the finest grid
        solutions = self.settings.solutions * 2 ** (self.sweeps - refinements)
        self.sweeps += 1
        fresh: list[Architecture] = []
        for step in range(0, finest + 1, 2 ** (MAX_REFINEMENTS - refinements)):
            level = self.low + (self.high - self.low) * step / finest
            if step not in self.answers:
                try:
                    self.answers[step] = Answers(self.problem, {**self.fixed, self.swept: level})
                except InfeasibleBudget:
                    self.answers[step] = None
            try:
                choices = [] if self.answers[step] is None else self.answers[step].first(solutions)
            except InfeasibleBudget:
                self.answers[step] = None
                continue
            for choice in choices:
                arch = self.library.architecture(choice.depth, list(choice.layers))
                if arch.arch_id not in self.proposed:
                    self.proposed.add(arch.arch_id)
                    fresh.append(arch)
        return fresh

    def ask(self, n: int) -> list[Architecture]:
        while len(self.queue) < n and self.empty_sweeps < MAX_EMPTY_SWEEPS:
            fresh = self._sweep()
            self.empty_sweeps = 0 if fresh else self.empty_sweeps + 1
            self.queue += fresh
        proposals, self.queue = self.queue[:n], self.queue[n:]
        while len(proposals) < n:
            proposals.append(sample(self.spec, self.rng))
        return proposals

    def tell(self, arch: Architecture, values: dict[str, float] | None, violation: float) -> None:
        self.proposed.add(arch.arch_id)
