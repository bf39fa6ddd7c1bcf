"""Strategies propose valid, new architectures and accept history they did not propose."""

import pytest

from supernas.search.jobspec import Constraint
from supernas.search.strategies import make_strategy
from supernas.search.strategies.base import StrategySpec
from supernas.search.strategies.encoding import ArchEncoding
from supernas.spaces.analytic import checkpoint_bytes, count_params
from supernas.spaces.architecture import check, largest, sample_many
from supernas.spaces.spec import builtin_names, load_spec

OBJECTIVES = [("params", "minimize"), ("bytes", "maximize")]


def values(spec, arch):
    return {"params": float(count_params(spec, arch)), "bytes": float(checkpoint_bytes(spec, arch))}


@pytest.mark.parametrize("name", builtin_names())
def test_encoding_round_trips(name):
    spec = load_spec(name)
    enc = ArchEncoding(spec)
    for arch in sample_many(spec, 40, seed=1):
        params = enc.encode(arch)
        assert set(params) == set(enc.distributions())
        assert all(params[k] in d.choices for k, d in enc.distributions().items())
        assert enc.decode(params) == arch


@pytest.mark.parametrize("strategy", ["random", "nsga2", "tpe", "motpe", "predictor"])
def test_ask_tell_loop_gives_valid_architectures(strategy):
    spec = load_spec("gpt-tiny")
    constraint = Constraint(metric="params", max=600_000)
    s = make_strategy(
        spec,
        OBJECTIVES,
        StrategySpec(name=strategy, population=8, initial=8, generations=5),
        seed=0,
        constraints=[constraint],
    )
    seen = []
    for _ in range(6):
        batch = s.ask(4)
        assert len(batch) == 4
        for arch in batch:
            check(spec, arch)
            v = values(spec, arch)
            s.tell(arch, v, constraint.violation(v["params"]))
            seen.append(arch.arch_id)
    again = make_strategy(
        spec,
        OBJECTIVES,
        StrategySpec(name=strategy, population=8, initial=8, generations=5),
        seed=0,
        constraints=[constraint],
    )
    assert [a.arch_id for a in again.ask(4)] == seen[:4]  # same seed, same first proposals


@pytest.mark.parametrize("strategy", ["nsga2", "motpe", "predictor"])
def test_history_from_the_store_is_accepted(strategy):
    spec = load_spec("gpt-tiny")
    s = make_strategy(spec, OBJECTIVES, StrategySpec(name=strategy, population=8, initial=8), seed=1)
    history = sample_many(spec, 12, seed=5)
    for arch in history:
        s.tell(arch, values(spec, arch), 0.0)
    s.tell(history[0], None, 0.0)  # a failed trial is accepted too
    proposals = s.ask(3)
    assert len(proposals) == 3 and all(check(spec, a) for a in proposals)


def test_predictor_proposes_unseen_architectures_that_beat_random():
    spec = load_spec("gpt-tiny")
    objectives = [("params", "minimize"), ("bytes", "maximize")]
    s = make_strategy(
        spec, objectives, StrategySpec(name="predictor", population=8, initial=16, generations=10), seed=0
    )
    history = sample_many(spec, 16, seed=2)
    for arch in history:
        s.tell(arch, values(spec, arch), 0.0)
    proposals = s.ask(8)
    assert not {a.arch_id for a in proposals} & {a.arch_id for a in history}
    # bytes/params is what the surrogate can learn: the proposals' ratio beats the random history's median
    ratio = lambda a: values(spec, a)["bytes"] / values(spec, a)["params"]  # noqa: E731
    assert sorted(map(ratio, proposals))[4] > sorted(map(ratio, history))[8]


@pytest.mark.parametrize("strategy", ["nsga2", "motpe"])
def test_optuna_history_is_bounded_and_evolution_goes_on(strategy):
    """Past ``history`` trials the sampler's study is rebuilt from the newest half (with their NSGA-II
    generations), so asks stop slowing down; trials asked before a rebuild and told after still count."""
    spec = load_spec("gpt-tiny")
    s = make_strategy(
        spec, OBJECTIVES, StrategySpec(name=strategy, population=8, initial=8, history=40), seed=0
    )
    for _ in range(30):
        batch = s.ask(4)
        for arch in batch:
            check(spec, arch)
            s.tell(arch, values(spec, arch), 0.0)
        assert len(s.study.trials) <= 40 + 4
    assert s.rebuilds >= 4
    assert all(t.state.is_finished() for t in s.study.trials) and not s.pending
    if strategy == "nsga2":  # later generations still breed from parents (not a restart at generation 0)
        key = type(s.study.sampler)._get_generation_key()
        assert min(t.system_attrs[key] for t in s.study.trials if key in t.system_attrs) >= 6


@pytest.mark.parametrize("strategy", ["nsga2", "motpe"])
def test_optuna_strategies_never_propose_an_architecture_twice(strategy):
    """A converging population repeats known children; each repeat is replaced by a new mutant of it, which
    joins the study when told (for NSGA-II in the asked trial's generation), and the repeat's own trial is
    closed as failed: every proposal is new, and every told architecture is a complete trial of the study."""
    import optuna

    spec = load_spec("gpt-tiny")  # one precision: a smaller space, where both models converge
    spec = spec.model_copy(
        update={"layer": spec.layer.model_copy(update={"weight_bits": [4], "act_bits": [8]})}
    )
    s = make_strategy(
        spec,
        [("params", "minimize"), ("bytes", "minimize")],  # one small corner: many repeats
        StrategySpec(name=strategy, population=4, initial=4, history=1000),
        seed=0,
    )
    proposed = []
    for _ in range(60):
        for arch in s.ask(2):
            check(spec, arch)
            proposed.append(arch.arch_id)
            v = values(spec, arch)
            s.tell(arch, {"params": v["params"], "bytes": v["bytes"]}, 0.0)
    assert len(set(proposed)) == len(proposed) == 120
    trials = s.study.get_trials(deepcopy=False)
    failed = [t for t in trials if t.state == optuna.trial.TrialState.FAIL]
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(failed) >= 5, "the models converged: some proposals repeated"
    assert len(complete) == 120 and not s.pending and not s.mutants
    assert sorted(s.encoding.decode(t.params).arch_id for t in complete) == sorted(proposed)
    if strategy == "nsga2":
        key = type(s.study.sampler)._get_generation_key()
        assert all(key in t.system_attrs for t in complete)  # mutants breed like the sampler's own children


@pytest.mark.parametrize("strategy", ["random", "nsga2", "predictor"])
def test_start_architectures_come_first_once_each(strategy):
    """``start: [largest, ARCH]``: the largest subnet at every quantization scheme, then ARCH, then the
    strategy's own proposals; one a resumed job already evaluated is not proposed again."""
    spec = load_spec("gpt-tiny")
    mine = sample_many(spec, 1, seed=9)[0]
    settings = StrategySpec(
        name=strategy, population=8, initial=8, generations=2, start=["largest", mine.model_dump(mode="json")]
    )
    s = make_strategy(spec, OBJECTIVES, settings, seed=0)
    top = largest(spec)
    schemes = [(w, a) for w in spec.layer.weight_bits for a in spec.layer.act_bits]
    told = top.model_copy(
        update={"layers": tuple(x.model_copy(update={"weight_bits": 32, "act_bits": 32}) for x in top.layers)}
    )
    s.tell(told, values(spec, told), 0.0)  # as a resume tells the stored trials
    first = s.ask(len(schemes) - 1) + s.ask(1)
    assert [(a.layers[0].weight_bits, a.layers[0].act_bits) for a in first[:-1]] == [
        x for x in schemes if x != (32, 32)
    ]
    assert all(a.embed_dim == top.embed_dim and a.layers[0].heads == top.layers[0].heads for a in first[:-1])
    assert first[-1] == mine
    for arch in first:
        s.tell(arch, values(spec, arch), 0.0)
    later = s.ask(8)
    assert len(later) == 8 and not {a.arch_id for a in later} & {a.arch_id for a in [*first, told]}
