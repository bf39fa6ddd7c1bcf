"""The block library: each (layer, part option) measured against the largest subnet; resources exact."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from supernas.data.text import heldout_windows, stdlib_text
from supernas.models.supernet import Supernet
from supernas.predictors.latency.predictors import LookupTablePredictor
from supernas.predictors.latency.workload import Workload
from supernas.predictors.oneshot import heldout_loss
from supernas.search.puzzle.blocks import NO_ATTENTION, build_block_library
from supernas.spaces.analytic import checkpoint_bytes, count_non_embedding_params, count_params
from supernas.spaces.architecture import LayerArch, largest, sample_many
from supernas.spaces.spec import parse_spec

BLOCKS_SPACE = {
    "name": "gpt-blocks",
    "task": "causal_lm",
    "vocab_size": 256,
    "max_seq_len": 32,
    "head_dim": 8,
    "depth": [2, 3],
    "embed_dim": [32],
    "layer": {
        "attention": ["mha", "linear", "none"],
        "heads": [2, 4],
        "ffn_dim": [0, 32, 64],
        "weight_bits": [8, 32],
        "act_bits": [32],
    },
}


@pytest.fixture(scope="module")
def library_setup():
    spec = parse_spec(BLOCKS_SPACE, "test")
    supernet = Supernet(spec, seed=4)
    batches = heldout_windows(stdlib_text().heldout, seq_len=16, batch_size=2, n_batches=2)
    lut = LookupTablePredictor(
        spec, Workload(batch_size=1, seq_len=8, warmup=0, repeats=1), scale=1.5, offset=0.25, per_part=0.125
    )
    return spec, supernet, batches, lut, build_block_library(supernet, batches, lut)


def _choice_of(library, arch):
    """(attention, ffn, quant) option indices of each layer of ``arch``."""
    index = lambda options, layer, keys: next(  # noqa: E731
        i
        for i, o in enumerate(options)
        if all(
            o[k] == getattr(getattr(layer, k), "value", getattr(layer, k))
            or (k == "kv_heads" and o[k] is None)
            for k in keys
        )
    )
    return [
        (
            index(library.attention, x, ("attention", "heads", "window")),
            index(library.ffn, x, ("ffn_dim", "experts", "top_k")),
            index(library.quant, x, ("weight_bits", "act_bits")),
        )
        for x in arch.layers
    ]


def _resource(library, name, arch):
    r = library.resources[name]
    return r["base"] + sum(r["attention"][a][q] + r["ffn"][f][q] for a, f, q in _choice_of(library, arch))


def test_resources_are_exact_sums_of_parts(library_setup):
    spec, _, _, lut, library = library_setup
    archs = sample_many(spec, 30, seed=1)
    assert any(not x.has_attention for a in archs for x in a.layers) and any(
        not x.has_ffn for a in archs for x in a.layers
    )
    for arch in archs:
        assert _resource(library, "params", arch) == count_params(spec, arch)
        assert _resource(library, "non_embedding_params", arch) == count_non_embedding_params(spec, arch)
        assert _resource(library, "weight_bytes", arch) == checkpoint_bytes(spec, arch)
    predicted = lut.predict(archs)
    assert [_resource(library, "latency_ms", a) for a in archs] == pytest.approx(
        predicted.tolist(), rel=1e-12
    )


def test_quality_costs_are_the_replaced_blocks_measured_alone(library_setup):
    spec, supernet, batches, _, library = library_setup
    top = largest(spec)
    reference_loss = heldout_loss(supernet, top, batches)
    assert library.reference_loss == pytest.approx(reference_loss, rel=1e-6)
    none = library.attention.index({**NO_ATTENTION, "kv_heads": None})
    layers = list(top.layers)
    layers[1] = LayerArch(**{**layers[1].model_dump(), **NO_ATTENTION})
    skipped = top.model_copy(update={"layers": tuple(layers)})
    with torch.no_grad():
        with supernet.active(top):
            p = [F.log_softmax(supernet(b.inputs), -1) for b in batches]
        with supernet.active(skipped):
            q = [F.log_softmax(supernet(b.inputs), -1) for b in batches]
    kl = sum(
        F.kl_div(qi.flatten(0, 1), pi.flatten(0, 1), log_target=True, reduction="sum") for pi, qi in zip(p, q)
    )
    kl = float(kl) / sum(b.targets.numel() for b in batches)
    assert library.quality["kl"]["attention"][1][none] == pytest.approx(kl, rel=1e-5)
    assert library.quality["val_loss"]["attention"][1][none] == pytest.approx(
        heldout_loss(supernet, skipped, batches) - reference_loss, abs=1e-6
    )
    chosen = _choice_of(library, top)  # the largest subnet's own choices cost nothing
    for layer, (a, f, q) in enumerate(chosen):
        for score in ("kl", "val_loss"):
            assert (
                library.quality[score]["attention"][layer][a]
                == library.quality[score]["ffn"][layer][f]
                == 0.0
            )
            assert library.quality[score]["quant"][layer][q] == 0.0
    shallow = top.model_copy(update={"layers": top.layers[:2]})
    assert library.depth_quality["val_loss"]["2"] == pytest.approx(
        heldout_loss(supernet, shallow, batches) - reference_loss, abs=1e-6
    )
    n_options = len(library.attention) + len(library.ffn) + len(library.quant)
    assert (
        library.evaluations == 1 + 3 * (n_options - 3) + 1
    )  # the largest, every other option per layer, depth 2


def test_an_encoder_on_unlabeled_text_is_scored_by_its_sentence_embeddings():
    """Each cost is the mean cosine distance of the pooled embeddings to the largest subnet's, recomputed
    here on its own; kl and val_loss would need labels, so the library holds `embedding` alone."""
    from supernas.data.task import load_task_data
    from supernas.models.ops import mean_pool
    from supernas.search.puzzle.library import heldout_for
    from supernas.spaces.spec import load_spec

    data = load_spec("bert-mini").model_dump(mode="json")
    data["layer"] |= {"attention": ["mha"], "heads": [8, 12], "ffn_dim": [768, 1536]}
    data["layer"] |= {"weight_bits": [32], "act_bits": [32]}
    spec = parse_spec(data | {"depth": [5, 6], "embed_dim": [384]}, "test")
    supernet = Supernet(spec, seed=0)
    supernet.keep_heldout(load_task_data("stdlib-prose", spec))
    batches = heldout_for(spec, supernet, None, 2)
    assert all(b.targets is None for b in batches)
    library = build_block_library(supernet, batches)
    assert library.scores == ["embedding"] and library.check_score(None) == "embedding"
    with pytest.raises(Exception, match="holds embedding"):
        library.check_score("kl")

    def distance(arch) -> float:
        with torch.no_grad():
            pooled = []
            for a in (largest(spec), arch):
                with supernet.active(a):
                    pooled.append(
                        torch.cat(
                            [mean_pool(supernet.encode(b.inputs, b.padding), b.padding) for b in batches]
                        )
                    )
        return float((1 - F.cosine_similarity(*pooled, dim=-1)).mean())

    top = largest(spec)
    cut = top.model_copy(update={"layers": top.layers[:5]})
    narrow = top.model_copy(
        update={
            "layers": (
                LayerArch(**{**top.layers[0].model_dump(), "heads": 8, "kv_heads": None}),
                *top.layers[1:],
            )
        }
    )
    assert library.depth_quality["embedding"]["5"] == pytest.approx(distance(cut), rel=1e-5)
    assert library.quality["embedding"]["attention"][0][0] == pytest.approx(distance(narrow), rel=1e-5)
    assert library.depth_quality["embedding"]["6"] == 0.0 and library.quality["embedding"]["ffn"][3][1] == 0.0


def test_a_stored_library_is_built_again_when_calibration_fits_the_table_again(tmp_path, monkeypatch):
    """The stored library is keyed by the lookup table's fit and entries too: the same table reuses it,
    a new fit (as `supernas calibrate` run again saves) builds it again, so its latency stays the
    predictor's."""
    from supernas.predictors.latency.calibration import calibrate, load_predictor, predictor_path
    from supernas.search.puzzle.library import obtain_library
    from supernas.search.store.store import open_store

    monkeypatch.setenv("SUPERNAS_HOME", str(tmp_path / "home"))
    layer = {"attention": ["mha", "none"], "heads": [2, 4], "ffn_dim": [0, 32], "weight_bits": [32]}
    spec = parse_spec({**BLOCKS_SPACE, "name": "gpt-blocks-calibrated", "layer": layer}, "test")
    workload = calibrate(spec, 8, seq_len=16, warmup=1, repeats=3).workload
    uses = {"latency_predicted_ms": {"seq_len": 16}}
    archs = sample_many(spec, 20, seed=2)
    with open_store(f"sqlite:///{tmp_path / 'libraries.db'}") as store:
        first, reused = obtain_library(store, spec, None, None, uses, batches=1)
        assert not reused and obtain_library(store, spec, None, None, uses, batches=1)[1]
        lut_file = predictor_path(spec.name, workload, "lut")
        refitted = LookupTablePredictor.load(lut_file)
        refitted.scale, refitted.per_part = 2 * refitted.scale, refitted.per_part + 0.5
        refitted.save(lut_file)
        again, reused = obtain_library(store, spec, None, None, uses, batches=1)
        assert not reused
        predicted = load_predictor(spec, workload, "lut").predict(archs).tolist()
        assert [_resource(again, "latency_ms", a) for a in archs] == pytest.approx(predicted, rel=1e-12)
        assert [_resource(first, "latency_ms", a) for a in archs] != pytest.approx(predicted, rel=0.1)
        assert obtain_library(store, spec, None, None, uses, batches=1)[1]
