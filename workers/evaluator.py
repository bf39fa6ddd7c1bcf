"""The evaluator: builds a supernet and the job's metrics once, then scores one architecture per call.

Plain Python class; ``pool.EvaluatorPool`` runs it as a Ray actor. It receives only JSON-able data
(the space spec, metric names and options, the job's data source, the architecture's canonical JSON),
never ORM objects.
"""

from __future__ import annotations

import math
import os
import socket

import torch

from supernas.data.inputs import random_batch
from supernas.models.supernet import Supernet
from supernas.predictors.base import MetricContext
from supernas.predictors.catalogue import get_metric
from supernas.predictors.plugins import load_plugins, plugin_module_name
from supernas.spaces.architecture import Architecture, check
from supernas.spaces.spec import parse_spec


class Evaluator:
    def __init__(
        self,
        space: dict,
        metrics: dict[str, dict],
        batch_size: int,
        seq_len: int,
        seed: int,
        supernet_dir: str | None = None,
        threads: int = 1,
        data: str | None = None,
        plugins: tuple[str, ...] | list[str] = (),
    ) -> None:
        torch.set_num_threads(threads)
        # by module name: the pool ships plugin files in Ray's runtime environment, importable on any node
        load_plugins([plugin_module_name(p) for p in plugins])
        self.spec = parse_spec(space, "job space")
        factory = (lambda: Supernet.load(supernet_dir)) if supernet_dir else None
        batch = random_batch(self.spec, batch_size, seq_len, seed)
        # a job's data (built-in name or absolute path): every worker splits it the same way, by position
        self.context = MetricContext(self.spec, batch=batch, seed=seed, supernet_factory=factory, data=data)
        self.metrics = {name: get_metric(name, **options) for name, options in metrics.items()}
        self.context.supernet.eval()  # built once, here, and reused for every candidate

    def evaluate(self, arch_json: str) -> dict[str, float]:
        arch = check(self.spec, Architecture.from_json(arch_json))
        values = {}
        for name, metric in self.metrics.items():
            value = float(metric.evaluate(arch, self.context))
            if not math.isfinite(value):
                raise ValueError(f"metric '{name}' gave {value} for arch {arch.arch_id}")
            values[name] = value
        return values

    def evaluate_signed(self, arch_json: str) -> tuple[str, dict[str, float]]:
        """The values and the process that computed them: a call queued while Ray restarted this actor
        runs in the new process, which the pool must credit instead of the dead one."""
        return self.where(), self.evaluate(arch_json)

    def where(self) -> str:
        """host:pid@node, to record which worker (and which Ray node) evaluated a trial."""
        import ray

        node = ray.get_runtime_context().get_node_id()[:8] if ray.is_initialized() else "local"
        return f"{socket.gethostname()}:{os.getpid()}@{node}"
