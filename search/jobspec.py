"""JobSpec: a search job as a user writes it (YAML or JSON), validated with one-line errors.

name: gpt-tiny-latency
space: gpt-tiny                # built-in name or spec file
supernet: trained/             # optional saved supernet (``supernas train``): the weights metrics see
data: reviews.jsonl            # optional task data (digits, stdlib-prose or a .txt/.jsonl/.csv/.npz
                               # file): one-shot metrics score its held-out split
plugins: [my_metrics]          # optional modules (or .py files next to the spec) registering metrics
objectives:                    # 2 or 3 registered metrics
  - metric: hidden_cov
  - metric: latency_ms
    options: {batch_size: 1, seq_len: 64}
constraints:                   # infeasible trials are stored and marked, never dropped
  - {metric: latency_ms, max: 20}
strategy: nsga2                # random | nsga2 | tpe | motpe | predictor | mip (or a mapping with settings)
budget: {trials: 100}          # and/or wall_time_s
seed: 0
workers: 2
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from supernas.core.errors import SpecError, SupernasError, pydantic_message
from supernas.predictors.direction import Direction
from supernas.search.strategies.base import StrategySpec, start_architectures
from supernas.spaces.spec import read_structured_file


class MetricUse(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str
    options: dict[str, object] = Field(default_factory=dict)


class Objective(MetricUse):
    direction: Direction | None = None  # default: the metric's own direction


class Constraint(MetricUse):
    max: float | None = None
    min: float | None = None

    @model_validator(mode="after")
    def _bounded(self) -> Constraint:
        if self.max is None and self.min is None:
            raise ValueError(f"constraint on '{self.metric}' needs max or min")
        if self.max is not None and self.min is not None and self.min > self.max:
            raise ValueError(f"constraint on '{self.metric}' has min {self.min} > max {self.max}")
        return self

    def violation(self, value: float) -> float:
        """How far ``value`` is outside the bounds (0 when it satisfies them)."""
        over = value - self.max if self.max is not None else 0.0
        under = self.min - value if self.min is not None else 0.0
        return max(over, under, 0.0)


class Budget(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    trials: int | None = Field(default=None, gt=0)
    wall_time_s: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _some_limit(self) -> Budget:
        if self.trials is None and self.wall_time_s is None:
            raise ValueError("budget needs trials or wall_time_s")
        return self


class CalibrationBatch(BaseModel):
    """The fixed batch proxies see (random inputs of the space's task, seeded by the job seed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_size: int = Field(default=4, ge=2, le=256)
    seq_len: int = Field(default=32, ge=2, le=4096)


class JobSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    space: str
    supernet: str | None = None
    data: str | None = Field(
        default=None, min_length=1, description="task data whose held-out split one-shot metrics score"
    )
    plugins: list[str] = Field(default_factory=list, description="modules or .py files that register metrics")
    objectives: list[Objective] = Field(min_length=2, max_length=3)
    constraints: list[Constraint] = Field(default_factory=list)
    strategy: StrategySpec = StrategySpec(name="nsga2")
    budget: Budget
    seed: int = 0
    workers: int = Field(default=2, ge=1, le=256)
    batch: CalibrationBatch = CalibrationBatch()
    reference: list[float] | None = Field(
        default=None, description="hypervolume reference point, in objective units"
    )

    @field_validator("strategy", mode="before")
    @classmethod
    def _strategy_by_name(cls, v: object) -> object:
        return {"name": v} if isinstance(v, str) else v

    @model_validator(mode="after")
    def _consistent(self) -> JobSpec:
        names = [o.metric for o in self.objectives]
        if len(set(names)) != len(names):
            raise ValueError(f"objectives repeat a metric: {names}")
        if self.reference is not None and len(self.reference) != len(self.objectives):
            raise ValueError(
                f"reference has {len(self.reference)} values for {len(self.objectives)} objectives"
            )
        return self

    def metric_uses(self) -> dict[str, dict[str, object]]:
        """Every metric the job evaluates (objectives and constraints) with its options."""
        uses: dict[str, dict[str, object]] = {}
        for use in [*self.objectives, *self.constraints]:
            if use.metric in uses and uses[use.metric] != use.options and use.options:
                raise SpecError(
                    f"metric '{use.metric}' is used with two different option sets: "
                    f"{uses[use.metric]} and {use.options}"
                )
            uses[use.metric] = uses.get(use.metric) or use.options
        return uses


def validate_job(data: object, where: str, base: Path | None = None) -> JobSpec:
    """Validate parsed data as a job spec, including its space and every metric it names (after
    importing its plugins; a plugin file's path is taken from ``base``, default the current directory)."""
    from supernas.predictors.catalogue import get_metric
    from supernas.spaces.spec import load_spec

    if not isinstance(data, dict):
        raise SpecError(f"{where}: a job spec must be a mapping, got {type(data).__name__}")
    try:
        job = JobSpec.model_validate(data)
    except ValidationError as e:
        raise SpecError(pydantic_message(e, where, JobSpec)) from None
    if job.plugins:
        job = _with_plugins(job, base or Path.cwd(), where)
    try:
        space = load_spec(job.space)
    except SupernasError as e:
        raise SpecError(f"{where}: field 'space': {e}") from None
    uses = [(f"objectives[{i}]", u) for i, u in enumerate(job.objectives)]
    uses += [(f"constraints[{i}]", u) for i, u in enumerate(job.constraints)]
    for field, use in uses:
        try:
            get_metric(use.metric, **use.options).check_applicable(space)
        except SupernasError as e:
            raise SpecError(f"{where}: field '{field}': {e}") from None
    try:
        job.metric_uses()
    except SpecError as e:
        raise SpecError(f"{where}: {e}") from None
    try:
        start_architectures(space, job.strategy)
    except SupernasError as e:
        raise SpecError(f"{where}: field 'strategy': {e}") from None
    if job.strategy.name == "mip":
        from supernas.search.strategies.mip import budget_metrics

        try:
            budget_metrics(objective_directions(job), job.constraints)
        except SpecError as e:
            raise SpecError(f"{where}: field 'strategy': {e}") from None
    if job.data is not None:
        job = _with_data(job, space, where)
    return job if job.supernet is None else _with_supernet(job, space, where)


def _with_plugins(job: JobSpec, base: Path, where: str) -> JobSpec:
    """Import the job's plugins (a failure stops the job here, before anything is stored or run) and
    make a plugin file's path absolute, so workers, ``resume`` and the server import the same file."""
    from supernas.predictors.plugins import is_file_plugin, load_plugins

    plugins = [str((base / p).resolve()) if is_file_plugin(p) else p for p in job.plugins]
    try:
        load_plugins(plugins)
    except SupernasError as e:
        raise SpecError(f"{where}: field 'plugins': {e}") from None
    return job.model_copy(update={"plugins": plugins})


def _with_data(job: JobSpec, space, where: str) -> JobSpec:
    """Load the job's data once (every mistake in it is a one-line error before anything is stored) and
    make a file's path absolute, as ``supernet`` is, so every worker splits the same file."""
    from supernas.data.task import BUILTINS, load_data

    try:
        load_data(job.data, space)
    except SupernasError as e:
        raise SpecError(f"{where}: field 'data': {e}") from None
    return job if job.data in BUILTINS else job.model_copy(update={"data": str(Path(job.data).resolve())})


def _with_supernet(job: JobSpec, space, where: str) -> JobSpec:
    """Check the job's supernet directory (exists, trained for the job's space) and make its path
    absolute, so Ray workers, ``resume`` and ``extract`` find the same weights from any directory."""
    from supernas.models.supernet import read_supernet_config

    try:
        _, trained = read_supernet_config(job.supernet)
    except SupernasError as e:
        raise SpecError(f"{where}: field 'supernet': {e}") from None
    if trained != space:
        raise SpecError(
            f"{where}: field 'supernet' = '{job.supernet}': its space '{trained.name}' "
            f"is not the job's space '{job.space}'"
        )
    return job.model_copy(update={"supernet": str(Path(job.supernet).resolve())})


def load_job_spec(path: str | Path) -> JobSpec:
    path = Path(path)
    return validate_job(read_structured_file(path), str(path), base=path.parent)


def _import_plugins_if_needed(job: JobSpec) -> None:
    """Import the job's plugins when it names a metric not yet known: a server restarted since the job
    was submitted has not imported them yet when a page asks for the job."""
    from supernas.predictors.catalogue import metric_names
    from supernas.predictors.plugins import load_plugins

    known = set(metric_names())
    if any(use.metric not in known for use in (*job.objectives, *job.constraints)):
        load_plugins(job.plugins)


def objective_directions(job: JobSpec) -> list[tuple[str, Direction]]:
    """(metric, direction) per objective, filling in each metric's own direction."""
    from supernas.predictors.catalogue import get_metric

    _import_plugins_if_needed(job)
    return [(o.metric, o.direction or get_metric(o.metric, **o.options).direction) for o in job.objectives]


def metric_units(job: JobSpec) -> dict[str, str]:
    """The unit of each metric the job measures (objectives, then constraints), as its metric declares it."""
    from supernas.predictors.catalogue import get_metric

    _import_plugins_if_needed(job)
    uses = (*job.objectives, *job.constraints)
    return {use.metric: get_metric(use.metric, **use.options).unit for use in uses}
