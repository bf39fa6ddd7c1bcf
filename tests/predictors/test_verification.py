"""Re-measuring metrics on a reloaded checkpoint: every rule against the value the search computes
through the supernet, on real extracted checkpoints."""

from __future__ import annotations

import pytest

from supernas.core.errors import ArchitectureError
from supernas.data.inputs import random_batch
from supernas.models.checkpoint import (
    WEIGHTS,
    CheckpointAsSupernet,
    extract,
    load_subnet,
    save_subnet,
    tensor_bytes_on_disk,
)
from supernas.models.parent import full_precision
from supernas.models.supernet import Supernet
from supernas.predictors.base import CostClass, MetricContext
from supernas.predictors.catalogue import get_metric, metric_names
from supernas.predictors.verification import WEIGHT_GRADIENT_PROXIES, CheckpointMeasurer, embedding_parameters
from supernas.spaces.analytic import checkpoint_bytes
from supernas.spaces.architecture import sample_many
from supernas.spaces.spec import SpaceSpec, load_spec

TOLERANCE = 1e-5
TIMED = ("latency_ms", "latency_predicted_ms")
SKIPPED_HERE = ("embedding_fidelity", "similarity_rank")  # encoder-only: tested with their own spaces


def deterministic_lm_metrics(spec: SpaceSpec) -> list[str]:
    names = []
    for name in metric_names():
        metric = get_metric(name)
        if name in TIMED or name in SKIPPED_HERE or spec.task not in metric.tasks:
            continue
        names.append(name)
    return names


def checkpoints(spec: SpaceSpec, tmp_path, n: int, seed: int = 3):
    net = Supernet(spec, seed=0).eval()
    for i, arch in enumerate(sample_many(spec, n, seed)):
        directory = save_subnet(extract(net, arch), tmp_path / f"subnet-{i}")
        yield net, arch, directory


@pytest.mark.parametrize(
    "space", [load_spec("gpt-tiny"), full_precision(load_spec("gpt-tiny"))], ids=["quantized", "fp32"]
)
def test_every_deterministic_metric_equals_the_supernets_value(space, tmp_path):
    batch = random_batch(space, 4, 32, seed=0)
    for net, arch, directory in checkpoints(space, tmp_path, 3):
        searched = MetricContext(space, batch=batch, seed=0)
        searched.supernet = net
        measurer = CheckpointMeasurer(directory, batch=batch, seed=0, beside=net)
        quantized = any(layer.weight_bits < 32 for layer in arch.layers)
        for name in deterministic_lm_metrics(space):
            expected = get_metric(name).evaluate(arch, searched)
            got = measurer.measure(name, {})
            assert got.deterministic, name
            if quantized and name in WEIGHT_GRADIENT_PROXIES:
                assert got.value is None and "no gradients" in got.note, name
                continue
            assert got.note is None, (name, got.note)
            assert got.value == pytest.approx(expected, rel=TOLERANCE, abs=1e-12), (name, arch.arch_id)


def test_size_and_counts_come_from_the_checkpoint_itself(tmp_path):
    spec = load_spec("gpt-tiny")
    for _net, arch, directory in checkpoints(spec, tmp_path, 3, seed=5):
        measurer = CheckpointMeasurer(directory)
        weights = directory / WEIGHTS
        assert (
            measurer.measure("weight_bytes", {}).value
            == tensor_bytes_on_disk(weights)
            == checkpoint_bytes(spec, arch)
        )
        assert tensor_bytes_on_disk(weights) < weights.stat().st_size  # the header is not counted
        assert measurer.measure("weight_bytes", {}).method == "tensor bytes of model.safetensors on disk"
        model = load_subnet(directory)
        assert measurer.measure("non_embedding_params", {}).value == measurer.measure(
            "params", {}
        ).value - embedding_parameters(model)
        assert (
            measurer.measure("flops", {"seq_len": 64}).method == "analytic, from the checkpoint's config.json"
        )


def test_latency_is_timed_on_the_checkpoint_with_the_metrics_workload(tmp_path):
    ((_, _, directory),) = checkpoints(load_spec("gpt-tiny"), tmp_path, 1)
    measurer = CheckpointMeasurer(directory)
    options = {"batch_size": 2, "seq_len": 16, "repeats": 3, "warmup": 1, "threads": 1, "clock": "cpu"}
    timed = measurer.measure("latency_ms", options)
    assert timed.value > 0 and not timed.deterministic and timed.spread is not None
    assert timed.method == (
        "timed on the loaded checkpoint: batch 2 x 16, cpu, 1 thread, median of 3 to 9 probe-normalised "
        "cpu-clock runs (more while its standard error > 2%), backend torch"
    )
    predicted = measurer.measure(
        "latency_predicted_ms", {"seq_len": 16, "threads": 1}
    )  # no predictor needed: it is measured
    assert (
        predicted.value > 0
        and "(the searched value was predicted)" in predicted.method
        and "median of 10" in predicted.method
    )


def test_a_metric_that_cannot_run_on_a_checkpoint_gives_a_reason_not_a_value(tmp_path):
    ((_, _, directory),) = checkpoints(load_spec("vit-tiny"), tmp_path, 1)
    got = CheckpointMeasurer(directory).measure("val_accuracy", {})
    assert (
        got.value is None
        and got.method == "not re-measured"
        and "val_accuracy" in got.note
        and "held-out" in got.note
    )


def test_checkpoint_as_supernet_holds_one_architecture(tmp_path):
    spec = load_spec("gpt-tiny")
    net = Supernet(spec, seed=0)
    first, other = sample_many(spec, 2, seed=1)
    model = load_subnet(save_subnet(extract(net, first), tmp_path / "c"))
    adapted = CheckpointAsSupernet(model, net)
    inputs = random_batch(spec, 2, 8).inputs
    with adapted.active(first) as active, net.active(first):
        assert active is adapted and (active(inputs) == net(inputs)).all()
        assert (active.encode(inputs) == net.encode(inputs)).all()
    assert adapted.blocks is model.blocks and adapted.depth == first.depth
    assert adapted.heldout.text is net.heldout.text and adapted.provenance == net.provenance
    with pytest.raises(
        ArchitectureError, match=f"holds architecture {first.arch_id} only; cannot activate {other.arch_id}"
    ):
        adapted.activate(other)
    assert sum(p.numel() for p in adapted.parameters()) == sum(p.numel() for p in model.parameters())


def test_cost_classes_decide_determinism():
    assert {get_metric(n).cost for n in ("params", "hidden_cov", "val_loss")} == {
        CostClass.analytic,
        CostClass.proxy,
        CostClass.one_shot,
    }


def test_fidelity_is_re_measured_against_the_parent_of_the_supernet(tmp_path):
    """Fidelity compares with the parent kept beside the supernet, never with the checkpoint's own weights."""
    spec = load_spec("bert-mini")
    for net, arch, directory in checkpoints(spec, tmp_path, 2, seed=0):
        searched = MetricContext(spec, seed=0)
        searched.supernet = net
        measurer = CheckpointMeasurer(directory, seed=0, beside=net)
        for name in SKIPPED_HERE:
            expected = get_metric(name, sentences=32).evaluate(arch, searched)
            got = measurer.measure(name, {"sentences": 32})
            assert got.deterministic and got.value == pytest.approx(expected, rel=TOLERANCE), (name, got)


def test_one_shot_quality_of_a_classifier_on_the_jobs_data_or_the_data_kept_with_its_supernet(tmp_path):
    """val_loss/val_accuracy on task data: the job's (``data``) or the held-out split kept beside the
    supernet."""
    from supernas.data.task import load_task_data
    from supernas.spaces.spec import parse_spec

    vit = load_spec("vit-tiny").model_dump(mode="json")
    spec = parse_spec(
        {
            **vit,
            "name": "vit-digits",
            "depth": [1, 2],
            "embed_dim": [32, 64],
            "layer": {**vit["layer"], "heads": [1, 2], "ffn_dim": [64, 128]},
        },
        "vit-digits",
    )
    for net, arch, directory in checkpoints(spec, tmp_path, 2):
        from_job = MetricContext(spec, seed=0, data="digits")
        from_job.supernet = net
        measurer = CheckpointMeasurer(directory, seed=0, beside=net, data="digits")
        kept = Supernet(spec, seed=0).eval()
        kept.keep_heldout(load_task_data("digits", spec))
        beside_only = CheckpointMeasurer(directory, seed=0, beside=kept)
        for name in ("val_loss", "val_accuracy"):
            expected = get_metric(name).evaluate(arch, from_job)
            assert measurer.measure(name, {}).value == pytest.approx(expected, rel=TOLERANCE)
            assert beside_only.measure(name, {}).value == pytest.approx(expected, rel=TOLERANCE)
