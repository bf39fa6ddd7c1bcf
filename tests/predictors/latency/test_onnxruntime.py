"""Latency in the deployment runtime: subnets exported to ONNX and timed in a real ONNX Runtime session.

Nothing asserts how fast anything runs: only orderings that hold with a wide margin.
"""

import numpy as np
import pytest
import torch

from supernas.core.errors import NotFoundError, SpecError
from supernas.models.supernet import Supernet
from supernas.predictors.base import REGISTRY, MetricContext
from supernas.predictors.latency import metrics as latency_metrics  # noqa: F401  (registers latency_ms and latency_predicted_ms)
from supernas.predictors.latency.calibration import calibrate, load_predictor
from supernas.predictors.latency.measure import subnet_latency
from supernas.predictors.latency.parts import space_parts
from supernas.predictors.latency.predictors import LookupTablePredictor
from supernas.predictors.latency.report import format_report
from supernas.predictors.latency.workload import Workload, device_fingerprint, fingerprint_hash
from supernas.search.jobspec import validate_job
from supernas.spaces.architecture import largest, smallest
from supernas.spaces.spec import load_spec, parse_spec

ORT = dict(
    threads=1, clock="cpu", backend="onnxruntime"
)  # one intra-op thread: ONNX Runtime runs in the calling thread


@pytest.fixture(scope="module")
def gpt_tiny():
    spec = load_spec("gpt-tiny")
    return spec, Supernet(spec, seed=0)


@pytest.fixture
def small_space():
    """gpt-tiny with fewer choices: 34 lookup-table parts instead of 633, so calibrating takes seconds.

    Still dense and MoE layers, softmax and linear attention, int4 and fp16 weights.
    """
    data = load_spec("gpt-tiny").model_dump(mode="json")
    data.update(name="gpt-tiny-ort", depth=[1, 2, 4], embed_dim=[64, 128])
    data["layer"].update(
        attention=["mha", "linear"],
        heads=[2, 8],
        kv_heads=[],
        windows=[],
        ffn_dim=[128, 512],
        experts=[1, 2],
        top_k=[1],
        weight_bits=[4, 16],
        act_bits=[16],
    )
    return parse_spec(data, "small space")


@pytest.mark.timing
def test_measured_latency_orders_the_largest_above_the_smallest(gpt_tiny):
    """Bounds with room for a busy machine: the largest subnet measured ~12x the smallest (the bound is
    3x), and a one-thread session's CPU time is the forward pass, not the ~0 of a session that runs in
    another thread (the bound is a quarter of the wall time's 10th percentile, which a neighbour holding
    the core can stretch by 2-3x)."""
    spec, supernet = gpt_tiny
    workload = Workload(1, 64, warmup=2, repeats=15, **ORT)
    small, large = (subnet_latency(supernet, a, workload) for a in (smallest(spec), largest(spec)))
    for stats in (small, large):
        assert (
            np.isfinite([stats.median_ms, stats.p10, stats.p90]).all()
            and 0 < stats.p10 <= stats.median_ms <= stats.p90
        )
    assert large.median_ms > 3 * small.median_ms  # measured ~12x (4 layers of 128 wide vs 2 of 64)
    # with one thread the session runs in the calling thread: its CPU time is the forward pass, not ~0
    walled = Workload(1, 64, warmup=2, repeats=15, threads=1, backend="onnxruntime")
    wall = subnet_latency(supernet, largest(spec), walled)
    assert large.median_ms > 0.25 * wall.p10


def test_workload_keys_separate_backends_and_optimization_levels():
    torch_key = Workload(1, 16, threads=1).key()
    expected = fingerprint_hash(
        {**device_fingerprint("cpu", 1), "batch_size": 1, "seq_len": 16, "clock": "wall"}
    )
    assert (
        torch_key == expected
    )  # torch's key is what it was before other backends: calibrated files keep their name
    keys = {
        level: Workload(1, 16, threads=1, backend="onnxruntime", graph_optimization=level).key()
        for level in ("disable", "basic", "extended", "all")
    }
    assert len(set(keys.values())) == 4 and torch_key not in keys.values()
    assert keys["all"] == Workload(1, 16, threads=1, backend="onnxruntime").key()
    assert (
        keys["all"] == Workload(1, 16, threads=1, backend="onnxruntime", repeats=50).key()
    )  # effort is not in it
    # ONNX Runtime's default threads do not follow torch's setting
    default = Workload(1, 16, backend="onnxruntime")
    previous = torch.get_num_threads()
    try:
        before = default.key()
        torch.set_num_threads(2 if previous == 1 else 1)
        assert default.key() == before
    finally:
        torch.set_num_threads(previous)
    assert Workload(1, 16, backend="onnxruntime").fingerprint()["onnxruntime"]


@pytest.mark.timing
def test_calibrate_on_onnxruntime_predicts_heldout_subnets(small_space):
    report = calibrate(
        small_space,
        24,
        seq_len=64,
        seed=0,
        holdout=0.45,
        warmup=2,
        repeats=10,
        max_repeats=10,
        rounds=2,
        **ORT,
    )
    assert (report.n_train, report.n_heldout) == (13, 11)
    assert report.workload.backend == "onnxruntime" and report.fingerprint["graph_optimization"] == "all"
    assert "onnxruntime" in format_report(report)
    # the kernel lookup table orders held-out subnets as ONNX Runtime does, where their measured latencies
    # differ by more than the machine's two-pass disagreement in the same run
    assert report.scores["lut"].pairs_right >= 75
    lut = load_predictor(small_space, report.workload, "lut")
    assert isinstance(lut, LookupTablePredictor) and len(lut.table) == len(space_parts(small_space))
    context, options = MetricContext(small_space), dict(seq_len=64, **ORT)
    for kind in ("best", "lut", "regressor"):
        assert (
            REGISTRY["latency_predicted_ms"](kind=kind, **options).evaluate(smallest(small_space), context)
            > 0
        )
    # calibrated for ONNX Runtime only: torch's and another level's predictors are not there
    hints = [
        (dict(backend="torch"), "torch backend .* --threads 1 --clock cpu` first"),
        (dict(graph_optimization="basic"), "--backend onnxruntime --graph-optimization basic` first"),
    ]
    for other, hint in hints:
        with pytest.raises(NotFoundError, match=hint):
            REGISTRY["latency_predicted_ms"](**{**options, **other}).evaluate(smallest(small_space), context)


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(backend="tensorrt"), r"unknown backend 'tensorrt' \(allowed: torch, triton, onnxruntime\)"),
        (
            dict(backend="onnxruntime", graph_optimization="max"),
            r"unknown ONNX Runtime graph optimization 'max' \(allowed: disable, basic, extended, all\)",
        ),
        (
            dict(backend="onnxruntime", device="cuda"),
            r"backend onnxruntime runs on device cpu only .*got device 'cuda'",
        ),
        (
            dict(backend="torch", graph_optimization="basic"),
            r"graph_optimization 'basic' applies to backend onnxruntime only \(backend is 'torch'\)",
        ),
        (dict(backend="onnxruntime", clock="cpu"), r"clock 'cpu' .* needs device cpu and threads 1"),
    ],
)
def test_bad_options_are_one_line_errors(gpt_tiny, options, message):
    spec, supernet = gpt_tiny
    context = MetricContext(spec)
    context.supernet = supernet
    if "clock" not in options:
        with pytest.raises(SpecError, match=f"^{message}$") as raised:
            Workload(**options)
        assert "\n" not in str(raised.value)
    for name in ("latency_ms", "latency_predicted_ms"):
        with pytest.raises(SpecError, match=f"^metric '{name}': {message}"):
            REGISTRY[name](**options).evaluate(smallest(spec), context)


def test_job_metric_on_onnxruntime_evaluates(gpt_tiny):
    spec, supernet = gpt_tiny
    options = dict(
        backend="onnxruntime",
        graph_optimization="extended",
        threads=1,
        clock="cpu",
        seq_len=16,
        warmup=1,
        repeats=3,
    )
    job = {
        "name": "ort",
        "space": "gpt-tiny",
        "budget": {"trials": 2},
        "objectives": [{"metric": "params"}, {"metric": "latency_ms", "options": options}],
    }
    uses = validate_job(job, "job.yaml").metric_uses()
    context = MetricContext(spec)
    context.supernet = supernet
    metric = REGISTRY["latency_ms"](**uses["latency_ms"])
    assert (
        np.isfinite(metric.evaluate(smallest(spec), context)) and metric.evaluate(smallest(spec), context) > 0
    )
    # a bad level is caught with the job spec, before any trial runs
    job["objectives"][1]["options"] = {**options, "graph_optimization": "max"}
    with pytest.raises(
        SpecError,
        match=r"^job.yaml: field 'objectives\[1\]': metric 'latency_ms': unknown ONNX Runtime graph",
    ):
        validate_job(job, "job.yaml")
