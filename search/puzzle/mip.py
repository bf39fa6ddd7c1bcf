"""The exact layer-wise problem (Puzzle-style): one attention, one FFN and one quantization choice per
layer, and one depth, minimising the summed quality cost under budgets, solved by HiGHS as a MILP.

Binaries ``a[l, i, q]`` (layer ``l`` runs attention option ``i`` at quantization ``q``), ``f[l, j, q]``
(FFN option ``j`` at ``q``) and ``z[d]`` (the subnet keeps the first ``d`` layers):

    minimise   sum_d depth_cost[d] z[d] + sum_l,i,q (attention_cost[l][i] + quant_cost[l][q]) a[l,i,q]
                                         + sum_l,j,q ffn_cost[l][j] f[l,j,q]
    subject to sum_d z[d] = 1
               sum_i,q a[l,i,q] = sum_{d > l} z[d]               (layer l is active iff the depth exceeds l)
               sum_i a[l,i,q] = sum_j f[l,j,q]   for every q     (one quantization per layer for both parts)
               base_r + sum a[l,i,q] attention_r[i][q] + sum f[l,j,q] ffn_r[j][q] <= budget_r   per resource r

Latency (a lookup table is a sum of parts), parameters and bytes are exactly additive over these parts,
so every budget holds for the architecture itself, not for an estimate of it; only the quality cost is
the additive model (each block's loss measured alone). Several distinct answers per budget come from
"no-good" cuts: each further solve forbids every earlier answer's exact set of choices.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import highspy

from supernas.core.errors import SupernasError


class InfeasibleBudget(SupernasError):
    """No architecture meets the budgets (one line: which budget, and the least any architecture needs)."""


@dataclass(frozen=True)
class Resource:
    """A budgeted quantity: a constant plus one term per (attention option, quant) and (FFN option, quant)."""

    base: float
    attention: list[list[float]]  # [option][quant]
    ffn: list[list[float]]  # [option][quant]


@dataclass(frozen=True)
class LayerwiseProblem:
    depths: list[int]  # allowed depths; layers 0..max(depths)-1
    depth_cost: dict[int, float]
    attention_cost: list[list[float]]  # [layer][option]
    ffn_cost: list[list[float]]  # [layer][option]
    quant_cost: list[list[float]]  # [layer][quant]
    resources: dict[str, Resource] = field(default_factory=dict)

    @property
    def layers(self) -> int:
        return max(self.depths)


@dataclass(frozen=True)
class Choice:
    """One answer: the depth and, per active layer, (attention option, FFN option, quant) indices."""

    depth: int
    layers: tuple[tuple[int, int, int], ...]
    cost: float  # the summed quality cost (the MILP objective)

    def resource(self, problem: LayerwiseProblem, name: str) -> float:
        r = problem.resources[name]
        return r.base + sum(r.attention[a][q] + r.ffn[f][q] for a, f, q in self.layers)


def problem_cost(problem: LayerwiseProblem, depth: int, layers: tuple[tuple[int, int, int], ...]) -> float:
    """The objective of a given choice (the additive quality model)."""
    return problem.depth_cost[depth] + sum(
        problem.attention_cost[l][a] + problem.ffn_cost[l][f] + problem.quant_cost[l][q]
        for l, (a, f, q) in enumerate(layers)
    )


def _extreme(problem: LayerwiseProblem, name: str, pick) -> float:
    r = problem.resources[name]
    per_layer = pick(
        pick(row[q] for row in r.attention) + pick(row[q] for row in r.ffn)
        for q in range(len(r.attention[0]))
    )
    return r.base + pick(per_layer * d for d in problem.depths)


def least(problem: LayerwiseProblem, name: str) -> float:
    """The smallest value of resource ``name`` any choice reaches (the cheapest parts, fewest layers)."""
    return _extreme(problem, name, min)


def most(problem: LayerwiseProblem, name: str) -> float:
    """The largest value of resource ``name`` any choice reaches."""
    return _extreme(problem, name, max)


class _Model:
    """The MILP of one problem, kept between solves so cuts accumulate."""

    def __init__(self, problem: LayerwiseProblem, budgets: dict[str, float]) -> None:
        self.problem, p = problem, problem
        h = self.h = highspy.Highs()
        h.silent()
        h.setOptionValue("mip_rel_gap", 0.0)
        h.setOptionValue("mip_abs_gap", 0.0)
        h.setOptionValue("threads", 1)
        n_att, n_ffn, n_q = len(p.attention_cost[0]), len(p.ffn_cost[0]), len(p.quant_cost[0])
        self.z = {d: h.addBinary(obj=p.depth_cost[d]) for d in p.depths}
        self.a = [
            [
                [h.addBinary(obj=p.attention_cost[l][i] + p.quant_cost[l][q]) for q in range(n_q)]
                for i in range(n_att)
            ]
            for l in range(p.layers)
        ]
        self.f = [
            [[h.addBinary(obj=p.ffn_cost[l][j]) for q in range(n_q)] for j in range(n_ffn)]
            for l in range(p.layers)
        ]
        h.addConstr(h.qsum(self.z.values()) == 1)
        for l in range(p.layers):
            active = [self.z[d] for d in p.depths if d > l]
            att = h.qsum(self.a[l][i][q] for i in range(n_att) for q in range(n_q))
            h.addConstr((att - h.qsum(active) if active else att) == 0)
            for q in range(n_q):
                h.addConstr(
                    h.qsum(self.a[l][i][q] for i in range(n_att))
                    - h.qsum(self.f[l][j][q] for j in range(n_ffn))
                    == 0
                )
        for name, bound in budgets.items():
            r = p.resources[name]
            att = h.qsum(
                r.attention[i][q] * self.a[l][i][q]
                for l in range(p.layers)
                for i in range(n_att)
                for q in range(n_q)
            )
            ffn = h.qsum(
                r.ffn[j][q] * self.f[l][j][q]
                for l in range(p.layers)
                for j in range(n_ffn)
                for q in range(n_q)
            )
            h.addConstr(att + ffn <= bound - r.base)

    def solve(self) -> Choice | None:
        h, p = self.h, self.problem
        h.setMinimize()
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        values = h.allVariableValues()
        on = lambda var: values[var.index] > 0.5  # noqa: E731
        depth = next(d for d, var in self.z.items() if on(var))
        layers = []
        for l in range(depth):
            a, q = next((i, q) for i, row in enumerate(self.a[l]) for q, var in enumerate(row) if on(var))
            f = next(j for j, row in enumerate(self.f[l]) if on(row[q]))
            layers.append((a, f, q))
        choice = tuple(layers)
        return Choice(depth, choice, problem_cost(p, depth, choice))

    def forbid(self, choice: Choice) -> None:
        """A no-good cut: at least one of this answer's chosen binaries must be off next time."""
        chosen = [self.z[choice.depth]] + [
            v for l, (a, f, q) in enumerate(choice.layers) for v in (self.a[l][a][q], self.f[l][f][q])
        ]
        self.h.addConstr(self.h.qsum(chosen) <= len(chosen) - 1)


class Answers:
    """The distinct answers under fixed budgets, best first, found one solve at a time: asking for more
    continues from the cuts already made instead of solving the first ones again."""

    def __init__(self, problem: LayerwiseProblem, budgets: dict[str, float]) -> None:
        for name, bound in budgets.items():
            floor = least(problem, name)
            if bound < floor:
                raise InfeasibleBudget(
                    f"mip: no architecture meets {name} <= {bound:g}; "
                    f"the least any architecture of the space needs is {floor:g}"
                )
        self.budgets, self.model = budgets, _Model(problem, budgets)
        self.found: list[Choice] = []
        self.exhausted = False

    def first(self, solutions: int) -> list[Choice]:
        """Up to ``solutions`` answers; raises :class:`InfeasibleBudget` when not even one exists."""
        while len(self.found) < solutions and not self.exhausted:
            choice = self.model.solve()
            if choice is None:
                self.exhausted = True
                break
            self.found.append(choice)
            self.model.forbid(choice)
        if not self.found:
            names = ", ".join(f"{n} <= {b:g}" for n, b in self.budgets.items())
            raise InfeasibleBudget(f"mip: no architecture meets {names} together")
        return self.found[:solutions]


def solve(problem: LayerwiseProblem, budgets: dict[str, float], solutions: int = 1) -> list[Choice]:
    """Up to ``solutions`` distinct answers, best first: the optimum under ``budgets``, then the optimum
    that differs from it, and so on. Raises :class:`InfeasibleBudget` when not even one exists."""
    return Answers(problem, budgets).first(solutions)
