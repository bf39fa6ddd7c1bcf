"""The lookup table's refined fit: exact against a direct solution, and it finds entries that a whole
network times differently from the part alone. Tables are set by hand, so nothing is timed."""

from __future__ import annotations

import numpy as np
import pytest

from supernas.predictors.latency.parts import arch_parts, space_parts
from supernas.predictors.latency.predictors import LookupTablePredictor
from supernas.predictors.latency.refine import STRENGTHS, relative_ridge_fits
from supernas.predictors.latency.workload import Workload
from supernas.spaces.architecture import sample_many
from supernas.spaces.spec import parse_spec

SPACE = {
    "name": "gpt-refine",
    "task": "causal_lm",
    "vocab_size": 256,
    "max_seq_len": 32,
    "head_dim": 8,
    "depth": [2, 3, 4],
    "embed_dim": [32, 48],
    "layer": {"attention": ["mha", "none"], "heads": [2, 4], "ffn_dim": [0, 32, 64], "weight_bits": [8, 32]},
}


def direct_ridge(shared, entries, latencies, strength):
    """The stacked least-squares system that states the penalty outright, solved as it stands."""
    k = entries.shape[1] if strength is not None else 0
    scaled = np.column_stack([shared, entries[:, :k]]) / latencies[:, None]
    penalty = np.hstack([np.zeros((k, shared.shape[1])), np.sqrt(strength or 0) * np.eye(k)])
    target = np.concatenate([np.ones(len(latencies)), np.zeros(k)])
    solution, *_ = np.linalg.lstsq(np.vstack([scaled, penalty]), target, rcond=None)
    return solution[: shared.shape[1]], np.concatenate(
        [solution[shared.shape[1] :], np.zeros(entries.shape[1] - k)]
    )


def test_one_svd_gives_each_strengths_direct_ridge_solution():
    """Every strength's (a, g) is the stacked system's solution; the shared columns include a redundant
    one, as a count that every subnet shares would be."""
    rng = np.random.default_rng(1)
    shared = np.column_stack([rng.uniform(1, 2, 30), np.ones(30), np.full(30, 3.0)])
    entries = rng.uniform(0, 1, (30, 12))
    latencies = shared @ [1.2, 0.3, 0.1] + entries @ rng.normal(0, 0.2, 12) + rng.normal(0, 0.05, 30)
    fits = relative_ridge_fits(shared, entries, latencies)
    assert len(fits) == len(STRENGTHS) and not fits[STRENGTHS.index(None)][1].any()
    for strength, (a, g) in zip(STRENGTHS, fits):
        direct_a, direct_g = direct_ridge(shared, entries, latencies, strength)
        assert g == pytest.approx(direct_g, rel=1e-6, abs=1e-12)
        assert shared @ a == pytest.approx(shared @ direct_a, rel=1e-9)  # a itself is not unique


def test_the_fit_refines_the_entries_a_whole_network_times_differently():
    """Subnets are made of parts whose time inside the network is off from the table by +-20% for a third
    of them. The fit picks a ridge strength, refines those entries the right way, and predicts unseen
    subnets far better than the table's entries scaled alone."""
    spec = parse_spec(SPACE, "test")
    parts = space_parts(spec)
    rng = np.random.default_rng(0)
    table = dict(zip((p.key for p in parts), rng.uniform(0.05, 0.5, len(parts))))
    layer_parts = [p for p in parts if p.part != "base"]
    off = {p.key: 0.2 if i % 2 else -0.2 for i, p in enumerate(layer_parts[::3])}
    archs = sample_many(spec, 200, seed=2)
    latencies = np.array(
        [
            sum(1.1 * table[p.key] * (1 + off.get(p.key, 0.0)) + 0.01 for p in arch_parts(a)) + 0.05
            for a in archs
        ]
    )
    seen, unseen = slice(0, 150), slice(150, 200)
    lut = LookupTablePredictor(spec, Workload(), dict(table)).fit(archs[seen], latencies[seen])
    assert lut.ridge is not None
    refined = [k for k in off if k in lut.refinements]
    assert len(refined) >= 0.8 * len(off)
    assert all(np.sign(lut.refinements[k]) == np.sign(off[k]) for k in refined)
    error = np.abs(lut.predict(archs[unseen]) - latencies[unseen]) / latencies[unseen]
    terms = np.array([[sum(table[p.key] for p in arch_parts(a)), len(arch_parts(a)), 1.0] for a in archs])
    plain, *_ = np.linalg.lstsq(terms[seen] / latencies[seen, None], np.ones(150), rcond=None)
    plain_error = np.abs(terms[unseen] @ plain - latencies[unseen]) / latencies[unseen]
    assert error.mean() < plain_error.mean() / 5, (error.mean(), plain_error.mean())


def test_the_fit_summary_says_what_a_prediction_adds_up_and_how_far_entries_moved():
    spec = parse_spec(SPACE, "test")
    table = {"a": 1.0, "b": 2.0, "c": 4.0}
    refined = LookupTablePredictor(spec, Workload(), table, 1.1, 0.05, 0.01, {"a": 0.1, "b": -0.02}, 0.3)
    assert refined.fit_summary() == (
        "lookup table: 1.100 x entry +0.0100 ms per part +0.050 ms; 2 of 3 entries refined by the "
        "subnets' timings (ridge 0.3, median change 6.0%)"
    )
    plain = LookupTablePredictor(spec, Workload(), table, 0.9)
    assert plain.fit_summary() == (
        "lookup table: 0.900 x entry +0.0000 ms per part +0.000 ms; no entry refined (the subnets' "
        "timings tell no more than the parts timed alone)"
    )
