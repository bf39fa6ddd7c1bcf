"""Calibration: time a sample of subnets on this machine, fit both latency predictors, score them on
held-out subnets, and save them (under ``supernas_home()/predictors``, keyed by the workload) for
``latency_predicted_ms`` to load."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from supernas.core.errors import NotFoundError, SpecError, allowed
from supernas.core.paths import supernas_home
from supernas.models.supernet import Supernet
from supernas.predictors.latency.measure import subnet_latencies, two_pass_disagreement
from supernas.predictors.latency.parts import space_parts
from supernas.predictors.latency.predictors import (
    PREDICTORS,
    LatencyPredictor,
    LookupTablePredictor,
    RegressorPredictor,
)
from supernas.predictors.latency.probe import statistic_name
from supernas.predictors.latency.report import CalibrationReport, score
from supernas.predictors.latency.runtimes import DEFAULT_GRAPH_OPTIMIZATION
from supernas.predictors.latency.timing import Clock, check_clock, resolve_device
from supernas.predictors.latency.workload import Workload
from supernas.spaces.architecture import sample_many
from supernas.spaces.spec import SpaceSpec


def predictor_path(space: str, workload: Workload, kind: str) -> Path:
    """``supernas_home()/predictors/{space}-{workload key}-{kind}{suffix}``; kind 'report' is JSON."""
    suffix = PREDICTORS[kind].suffix if kind in PREDICTORS else ".json"
    folder = supernas_home() / "predictors"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{space}-{workload.key()}-{kind}{suffix}"


def heldout_split(n: int, n_heldout: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Which of calibration's ``n`` subnets (``sample_many(spec, n, seed)``) are held out, which fitted."""
    order = np.random.default_rng(seed).permutation(n)
    return order[:n_heldout], order[n_heldout:]


def calibrate(
    spec: SpaceSpec,
    n: int,
    device: str = "cpu",
    batch_size: int = 1,
    seq_len: int = 64,
    seed: int = 0,
    holdout: float = 0.3,
    threads: int | None = None,
    clock: Clock = "wall",
    warmup: int = 3,
    repeats: int = 10,
    rounds: int = 2,
    backend: str = "torch",
    graph_optimization: str = DEFAULT_GRAPH_OPTIMIZATION,
    max_repeats: int | None = None,
    accuracy: float = 0.10,
) -> CalibrationReport:
    """Time ``n`` random subnets, fit both predictors on part, score them on the rest, save them all.

    Subnets and forward parts are each timed in ``rounds`` passes, those whose passes disagree timed
    again (see :func:`subnet_latencies`); the first two passes over the held-out subnets measure the
    machine's repeatability, which the scores are judged against. The lookup table is profiled for every
    forward part of the space, so the saved predictor never times anything later.
    """
    n_heldout = round(n * holdout)
    if not 2 <= n_heldout <= n - 2:
        raise SpecError(
            "calibrate needs at least 2 subnets to fit and 2 to hold out; "
            f"n={n}, holdout={holdout} gives {n_heldout} held out"
        )
    if rounds < 2:
        raise SpecError(f"calibrate needs rounds >= 2 (two passes measure the machine's noise), got {rounds}")
    workload = Workload(
        batch_size,
        seq_len,
        device,
        threads,
        clock,
        warmup,
        repeats,
        backend,
        graph_optimization,
        max_repeats=max_repeats,
    )
    check_clock(clock, resolve_device(device), threads)
    archs = sample_many(spec, n, seed)
    supernet = Supernet(spec, seed=seed)
    passes, measured = subnet_latencies(supernet, archs, workload, rounds, seed)
    held, fitted = heldout_split(n, n_heldout, seed)
    noise = two_pass_disagreement(passes[0, held], passes[1, held])
    lut = LookupTablePredictor(spec, workload)
    lut.profile(space_parts(spec), rounds)
    scores, files = {}, []
    for predictor in (lut, RegressorPredictor(spec, workload)):
        predictor.fit([archs[i] for i in fitted], measured[fitted])
        scores[predictor.kind] = score(predictor.predict([archs[i] for i in held]), measured[held], noise)
        files.append(str(predictor.save(predictor_path(spec.name, workload, predictor.kind))))
    report_file = predictor_path(spec.name, workload, "report")
    report = CalibrationReport(
        spec.name,
        workload.fingerprint(),
        workload.key(),
        workload,
        len(fitted),
        n_heldout,
        scores,
        min(scores, key=lambda kind: scores[kind].mape),
        files + [str(report_file)],
        noise,
        statistic_name(workload),
        accuracy,
        measured[held].tolist(),
        lut.fit_summary(),
    )
    report.save(report_file)
    return report


def calibrate_command(space: str, w: Workload) -> str:
    """The ``supernas calibrate`` command line that calibrates for ``w`` (options other than defaults)."""
    args = [f"supernas calibrate {space} --device {w.device}"]
    defaults = Workload()
    for option, value, default in [
        ("threads", w.threads, None),
        ("clock", w.clock, "wall"),
        ("batch-size", w.batch_size, defaults.batch_size),
        ("seq-len", w.seq_len, defaults.seq_len),
        ("backend", w.backend, "torch"),
        ("graph-optimization", w.graph_optimization, DEFAULT_GRAPH_OPTIMIZATION),
    ]:
        if value != default:
            args.append(f"--{option} {value}")
    return " ".join(args)


def load_predictor(spec: SpaceSpec, workload: Workload, kind: str = "best") -> LatencyPredictor:
    """The predictor calibrated for ``spec`` and ``workload`` on this machine; 'best': lower held-out MAPE."""
    if kind != "best" and kind not in PREDICTORS:
        raise SpecError(f"unknown latency predictor kind '{kind}' ({allowed(['best', *PREDICTORS])})")
    w = workload
    check_clock(w.clock, resolve_device(w.device), w.threads)
    report_file = predictor_path(spec.name, workload, "report")
    if not report_file.is_file():
        raise NotFoundError(
            f"no latency predictor calibrated for space '{spec.name}' on this machine for device {w.device}, "
            f"{w.threads_label()} threads, {w.clock} clock, batch {w.batch_size} x {w.seq_len} tokens, "
            f"{w.backend} backend (key {w.key()}); run `{calibrate_command(spec.name, w)}` first"
        )
    if kind == "best":
        kind = CalibrationReport.load(report_file).best
    predictor = PREDICTORS[kind].load(predictor_path(spec.name, workload, kind))
    if predictor.spec != spec:
        raise SpecError(
            f"the latency predictors for space '{spec.name}' were calibrated on a different definition "
            f"of it; run `{calibrate_command(spec.name, w)}` again"
        )
    return predictor
