"""The hypervolume reference point, fixed from the job's spec and space before its first trial.

Hypervolumes of two runs compare only against one reference. It used to be taken from a job's first
ten feasible trials, so three runs of one spec and seed got references (and hypervolumes) as different
as their noisy early latencies. Now each objective's reference value is, in this order:

1. the spec's ``reference`` (objective units), when given;
2. the bound of a constraint on that metric on its worse side (``max`` of a minimized metric, ``min``
   of a maximized one): no feasible trial is worse;
3. the worse of the metric's values on the space's largest and smallest subnets, plus 10 % of their
   difference (10 % of the value when they are equal). For size-like metrics (parameters, FLOPs,
   bytes, latency) that is the worst any subnet can do; for a proxy it is a fixed, deterministic
   point, and a trial worse than it adds nothing to the hypervolume, as with any reference.

Deterministic metrics therefore give every run of a spec the same reference. A measured metric
(``latency_ms``) without a constraint or a declared value gets the anchors' measured values, which move
with the machine's noise: give it a constraint or ``reference:`` to compare runs exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from supernas.core.errors import SpecError, SupernasError
from supernas.search.jobspec import Constraint, JobSpec
from supernas.search.pareto import minimization_vector
from supernas.spaces.architecture import largest, smallest
from supernas.spaces.spec import SpaceSpec

MARGIN = 0.1


def fixed_reference(
    spec: JobSpec,
    space: SpaceSpec,
    objectives: Sequence[tuple[str, str]],
    evaluate: Callable[[str], dict[str, float]],
) -> list[float]:
    """The reference in minimization form; ``evaluate(arch_json)`` scores an anchor subnet (rule 3)."""
    if spec.reference is not None:
        return minimization_vector(dict(zip([n for n, _ in objectives], spec.reference)), objectives)
    reference: list[float | None] = [
        _constraint_bound(spec.constraints, name, direction) for name, direction in objectives
    ]
    missing = [i for i, value in enumerate(reference) if value is None]
    if missing:
        anchors = _anchor_points(space, objectives, [objectives[i][0] for i in missing], evaluate)
        for i in missing:
            values = [point[i] for point in anchors]
            worst, span = max(values), max(values) - min(values)
            reference[i] = worst + (MARGIN * span if span > 0 else MARGIN * abs(worst) + 1e-12)
    return [float(v) for v in reference]


def _constraint_bound(constraints: Sequence[Constraint], metric: str, direction: str) -> float | None:
    """The tightest bound on ``metric``'s worse side, in minimization form; None without one."""
    if direction == "minimize":
        bounds = [c.max for c in constraints if c.metric == metric and c.max is not None]
        return min(bounds) if bounds else None
    bounds = [c.min for c in constraints if c.metric == metric and c.min is not None]
    return -max(bounds) if bounds else None


def _anchor_points(space: SpaceSpec, objectives, metrics: list[str], evaluate) -> list[list[float]]:
    """The largest and smallest subnets' objective vectors (minimization form), those that could be scored."""
    points, errors = [], []
    for arch in (largest(space), smallest(space)):
        try:
            values = evaluate(arch.to_json())
        except SupernasError as e:
            errors.append(str(e))
            continue
        points.append(minimization_vector(values, objectives))
    if not points:
        raise SpecError(
            f"no hypervolume reference for {', '.join(metrics)}: "
            f"scoring the space's largest and smallest subnets failed ({errors[0]}); "
            "give the job a reference: or a constraint on them"
        )
    return points
