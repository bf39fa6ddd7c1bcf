"""Strategies ``nsga2``, ``tpe`` and ``motpe``: Optuna's samplers driven through ask/tell on an in-memory
study.

Two things keep an ask's cost flat over a job of tens of thousands of trials:

- **a given search space.** Optuna infers a sampler's relative search space on every ask by intersecting
  the distributions of the study's trials (copying and comparing them): a third of an ask. An
  architecture's parameters are fixed (``ArchEncoding``), so the samplers are handed that space.
- **no re-asking for repeats.** As NSGA-II's population converges, most children repeat an architecture
  the job has (3 in 4 late in a job of cheap trials), and asking again costs a whole Optuna trial each
  time. A repeat is instead mutated until new (as pymoo's duplicate elimination does); the asked trial is
  closed as failed and the mutant joins the study, in the asked trial's generation, when it is told.
- **a bounded history.** Optuna's samplers scan every trial of their study on each ask (TPE fits its
  densities on all of them, NSGA-II looks for the newest generation). Once the study holds ``history``
  trials it is rebuilt from the newest half, with their NSGA-II generations. NSGA-II breeds from the last
  two generations only, so it loses nothing; TPE then models the newest trials (the job's front lives in
  the store, whole).
"""

from __future__ import annotations

import warnings

import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import NSGAIISampler, TPESampler

from supernas.predictors.direction import Direction
from supernas.search.strategies.base import Strategy, StrategySpec
from supernas.search.strategies.encoding import ArchEncoding
from supernas.spaces.architecture import Architecture, mutate, sample
from supernas.spaces.spec import SpaceSpec

MUTANT_TRIES = 100  # mutations of a repeat tried before a random architecture stands in
NSGA2_GENERATIONS_KEPT = 20  # nsga2's default history, in generations of ``population`` trials
TPE_HISTORY = 500  # tpe's and motpe's default history


class _GivenSearchSpace:
    """A sampler whose relative search space is given, not inferred from the study's trials on each ask."""

    search_space: dict[str, BaseDistribution]

    def infer_relative_search_space(self, study, trial) -> dict[str, BaseDistribution]:
        return self.search_space


class _NSGAIISampler(_GivenSearchSpace, NSGAIISampler):
    pass


class _TPESampler(_GivenSearchSpace, TPESampler):
    pass


def default_history(settings: StrategySpec) -> int:
    """Trials a sampler's study keeps when the job does not say."""
    return NSGA2_GENERATIONS_KEPT * settings.population if settings.name == "nsga2" else TPE_HISTORY


class OptunaStrategy(Strategy):
    """NSGA-II or (multi-objective) TPE from Optuna, through ask/tell, on a bounded history (module
    docstring)."""

    def __init__(
        self, spec: SpaceSpec, objectives: list[tuple[str, Direction]], settings: StrategySpec, seed: int
    ) -> None:
        super().__init__(spec, objectives, settings, seed)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        self.encoding = ArchEncoding(spec)
        self.history = settings.history or default_history(settings)
        # (Optuna samples a one-choice parameter outside the relative space, as its own inference does)
        self.search_space = {name: d for name, d in self.encoding.distributions().items() if not d.single()}
        self.study = self._new_study(seed)
        self.pending: dict[str, list] = {}  # arch_id -> asked Optuna trials not yet told
        self.mutants: dict[
            str, int | None
        ] = {}  # arch_id of a repeat's mutant -> the asked trial's NSGA-II generation
        self.seen: set[str] = set()  # every architecture asked or told
        self.rebuilds = 0

    def _new_study(self, seed: int) -> optuna.Study:
        if self.settings.name == "nsga2":
            sampler = _NSGAIISampler(population_size=self.settings.population, seed=seed)
        else:
            sampler = _TPESampler(seed=seed, n_startup_trials=self.settings.initial, multivariate=True)
        sampler.search_space = self.search_space
        return optuna.create_study(directions=[d for _, d in self.objectives], sampler=sampler)

    def ask(self, n: int) -> list[Architecture]:
        archs = []
        for _ in range(n):
            if len(self.study._storage.get_all_trials(self.study._study_id, deepcopy=False)) >= self.history:
                self._trim_history()
            trial = self.study.ask()
            arch = self.encoding.suggest(trial)
            if arch.arch_id in self.seen:
                arch = self._mutant(arch, trial)
            else:
                self.pending.setdefault(arch.arch_id, []).append(trial)
            self.seen.add(arch.arch_id)
            archs.append(arch)
        return archs

    def _mutant(self, repeat: Architecture, trial: optuna.Trial) -> Architecture:
        """A new architecture near ``repeat`` in place of the asked trial, which is closed as failed."""
        frozen = self.study.get_trials(deepcopy=False)[trial.number]
        generation = (
            self.study.sampler.get_trial_generation(self.study, frozen)
            if self.settings.name == "nsga2"
            else None
        )
        self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
        genes = len(self.encoding.distributions())  # one Optuna parameter per gene that mutate() resamples
        for _ in range(MUTANT_TRIES):
            arch = mutate(self.spec, repeat, self.rng, prob=1.0 / genes)
            if arch.arch_id not in self.seen:
                break
        else:
            arch = sample(self.spec, self.rng)
        self.mutants[arch.arch_id] = generation
        return arch

    def _trim_history(self) -> None:
        """A new study (and a new sampler, seeded in turn) holding the newest half of the finished trials.
        Trials still asked in the old one are added to the new one when told."""
        kept = [t for t in self.study.get_trials(deepcopy=False) if t.state.is_finished()][
            -(self.history // 2) :
        ]
        self.rebuilds += 1
        self.study = self._new_study(self.seed + self.rebuilds)
        self.study.add_trials(kept)
        if (
            self.settings.name == "nsga2"
        ):  # parents of the oldest kept generation: none (stops the parent recursion)
            key = _NSGAIISampler._get_generation_key()
            generations = [t.system_attrs[key] for t in kept if key in t.system_attrs]
            if generations:
                prefix = _NSGAIISampler._get_parent_cache_key_prefix()
                self.study._storage.set_study_system_attr(
                    self.study._study_id, prefix + str(min(generations)), []
                )

    def tell(self, arch: Architecture, values: dict[str, float] | None, violation: float) -> None:
        objective_values = None if values is None else [values[name] for name, _ in self.objectives]
        state = optuna.trial.TrialState.FAIL if values is None else optuna.trial.TrialState.COMPLETE
        self.seen.add(arch.arch_id)
        trials = [t for t in self.pending.pop(arch.arch_id, []) if t.study is self.study]
        if not trials:
            generation = self.mutants.pop(arch.arch_id, None)
            self.study.add_trial(
                optuna.trial.create_trial(
                    params=self.encoding.encode(arch),
                    distributions=self.encoding.distributions(),
                    values=objective_values,
                    state=state,
                    constraints={"violation": violation},
                    system_attrs={}
                    if generation is None
                    else {_NSGAIISampler._get_generation_key(): generation},
                )
            )
        for trial in trials:
            trial.set_constraint("violation", violation)
            self.study.tell(trial, objective_values, state=state)
