"""A job's block library: built once per (supernet, data, workload) and kept in the store for later jobs.

The key names what the costs depend on: the supernet's weights (a hash of its weight file, or the random
initialisation's seed), the held-out data they are scored on (the job's ``data``, else what the supernet
keeps, and how many batches) and the latency: the workload's key (machine, batch shape, clock, backend)
and the digest of the lookup table the blocks' latencies come from, so a library built before the table
was calibrated again is not reused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from supernas.core.errors import NotFoundError, SpecError
from supernas.core.weightfiles import weights_digest
from supernas.models.blocks import blocks_digest
from supernas.models.supernet import SUPERNET_WEIGHTS, Supernet
from supernas.predictors.base import MetricContext
from supernas.predictors.catalogue import get_metric
from supernas.predictors.latency.metrics import workload_option
from supernas.predictors.latency.predictors import LookupTablePredictor
from supernas.predictors.latency.workload import Workload
from supernas.search.puzzle.blocks import BlockLibrary, build_block_library
from supernas.spaces.spec import SpaceSpec

LATENCY_METRICS = ("latency_predicted_ms", "latency_ms")


def supernet_identity(supernet_dir: str | None, seed: int) -> str:
    """What the weights are: the SHA-256 of the weight file (and of the trained blocks kept with it), or
    the seed of a random initialisation."""
    if supernet_dir is None:
        return f"random-init-seed-{seed}"
    identity = f"sha256-{weights_digest(Path(supernet_dir) / SUPERNET_WEIGHTS)[:16]}"
    blocks = blocks_digest(supernet_dir)
    return identity if blocks is None else f"{identity} + blocks sha256-{blocks[:16]}"


def latency_workload(uses: dict[str, dict[str, object]]) -> tuple[str, Workload] | None:
    """The first latency metric the job uses, with the workload its options describe."""
    for name in LATENCY_METRICS:
        if name in uses:
            return name, workload_option(get_metric(name, **uses[name]))
    return None


def latency_table(spec: SpaceSpec, metric: str, workload: Workload) -> LookupTablePredictor:
    """The calibrated lookup table for ``latency_predicted_ms`` (its prediction is what the metric may use);
    for ``latency_ms`` the calibrated one if there is one, else a table profiled now (scale 1, offset 0)."""
    from supernas.predictors.latency.calibration import load_predictor

    try:
        return load_predictor(spec, workload, "lut")
    except NotFoundError:
        if metric == "latency_predicted_ms":
            raise
        return LookupTablePredictor(spec, workload)


def library_key(
    spec: SpaceSpec, supernet: str, data: str, batches: int, lut: LookupTablePredictor | None
) -> dict[str, str]:
    space = hashlib.sha256(spec.model_dump_json().encode()).hexdigest()[:12]
    return {
        "space": f"{spec.name}-{space}",
        "supernet": supernet,
        "data": f"{data} ({batches} batches)",
        "workload": "none" if lut is None else f"{lut.workload.key()} lut sha256-{lut.digest()}",
    }


def heldout_for(spec: SpaceSpec, supernet: Supernet, data: str | None, batches: int) -> list:
    """The held-out batches ``val_loss`` scores (the job's data, else what the supernet keeps); for an
    encoder, unlabeled text too."""
    context = MetricContext(spec, supernet_factory=lambda: supernet, data=data)
    try:
        held = get_metric("val_loss", batches=batches).heldout(context)
    except SpecError:  # unlabeled: an encoder's text is scored by its sentence embeddings
        if spec.task != "encoder_classification" or not context.heldout:
            raise
        held = context.heldout
    return held[:batches]


def obtain_library(
    store,
    spec: SpaceSpec,
    supernet_dir: str | None,
    data: str | None,
    uses: dict[str, dict[str, object]],
    batches: int = 4,
    seed: int = 0,
    progress: Callable[[], None] | None = None,
) -> tuple[BlockLibrary, bool]:
    """The stored library for this supernet, data and workload, or a new one built and stored; and whether
    it was reused."""
    latency = latency_workload(uses)
    lut = None if latency is None else latency_table(spec, *latency)
    key = library_key(
        spec, supernet_identity(supernet_dir, seed), data or "kept with the supernet", batches, lut
    )
    stored = store.get_block_library(key)
    if stored is not None:
        return BlockLibrary.from_json(stored), True
    supernet = Supernet.load(supernet_dir) if supernet_dir else Supernet(spec, seed=seed)
    library = build_block_library(supernet, heldout_for(spec, supernet, data, batches), lut, progress)
    store.save_block_library(key, library.to_json())
    return library, False
