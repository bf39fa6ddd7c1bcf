"""Latency backends: which runtime a timed forward pass runs in.

- ``torch``: the extracted subnet in eager PyTorch (integer layers dequantize, then matmul);
- ``triton``: the same subnet with the fused int4/int8 kernels of :mod:`supernas.models.kernels`;
- ``onnxruntime``: the deployment runtime. The subnet is extracted with torch leaves, exported by
  :func:`supernas.export.onnx.to_onnx` (integer weights kept as integers behind
  ``DequantizeLinear``, MoE layers routed statically: every expert runs on every token) and run in an
  ONNX Runtime CPU session that computes in fp32, with the workload's threads and graph optimization
  level. Only ``session.run`` is timed: exporting (0.2-1.5 s per subnet on gpt-tiny and bert-mini) and
  building the session come before the warm-up runs.

ONNX Runtime threads: ``threads`` sets the intra-op pool (inter-op 1); None leaves ONNX Runtime's default
(one thread per physical core), whatever torch's own setting is. With one intra-op thread ONNX Runtime
runs the graph in the calling thread, so the thread CPU clock (``clock: cpu``, which needs threads 1)
counts the whole forward pass: on gpt-tiny and bert-mini subnets it was within 1 % of the wall time on
an idle machine.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from supernas.core.errors import SpecError, allowed
from supernas.models.dense import BACKENDS
from supernas.models.model import Transformer
from supernas.spaces.spec import SpaceSpec

ONNXRUNTIME = "onnxruntime"
LATENCY_BACKENDS = (*BACKENDS, ONNXRUNTIME)
GRAPH_OPTIMIZATIONS = ("disable", "basic", "extended", "all")  # runtime_session's levels, lowest first
DEFAULT_GRAPH_OPTIMIZATION = "all"


def check_latency_backend(backend: str, device: str, graph_optimization: str) -> None:
    """One-line errors for a backend, a graph optimization level or a device the backend cannot use."""
    if backend not in LATENCY_BACKENDS:
        raise SpecError(f"unknown backend '{backend}' ({allowed(LATENCY_BACKENDS)})")
    if graph_optimization not in GRAPH_OPTIMIZATIONS:
        raise SpecError(
            f"unknown ONNX Runtime graph optimization '{graph_optimization}' ({allowed(GRAPH_OPTIMIZATIONS)})"
        )
    if backend != ONNXRUNTIME and graph_optimization != DEFAULT_GRAPH_OPTIMIZATION:
        raise SpecError(
            f"graph_optimization '{graph_optimization}' applies to backend onnxruntime only "
            f"(backend is '{backend}')"
        )
    if backend == ONNXRUNTIME and str(device).split(":")[0] != "cpu":
        raise SpecError(
            f"backend onnxruntime runs on device cpu only (its CPU execution provider); got device '{device}'"
        )


def leaf_backend(backend: str) -> str:
    """The backend of the extracted model's leaves: ONNX Runtime is fed a subnet with torch leaves."""
    return "torch" if backend == ONNXRUNTIME else backend


def runtime_fingerprint(backend: str, threads: int | None, graph_optimization: str) -> dict:
    """What an ONNX Runtime latency depends on besides the machine; nothing for the torch-run backends."""
    if backend != ONNXRUNTIME:
        return {}
    import onnxruntime

    return {
        "backend": backend,
        "graph_optimization": graph_optimization,
        "onnxruntime": onnxruntime.__version__,
        "threads": threads or "default",  # ONNX Runtime's own default, not torch's current setting
    }


def graph_feeds(spec: SpaceSpec, inputs: torch.Tensor) -> dict[str, np.ndarray]:
    """The exported graph's inputs for a batch the torch model gets as ``model(inputs)``.

    An encoder gets a mask of real tokens only and token type 0, as the torch model assumes without them.
    """
    from supernas.export.onnx import io_names

    names, _ = io_names(spec)
    first = inputs.cpu().numpy()
    if spec.task != "encoder_classification":
        return {names[0]: first}
    return {"input_ids": first, "attention_mask": np.ones_like(first), "token_type_ids": np.zeros_like(first)}


def session_runner(
    model: bytes, feeds: dict[str, np.ndarray], threads: int | None, optimization: str
) -> Callable[[], object]:
    """A closure running the serialized ONNX ``model`` once on ``feeds`` in its own CPU session."""
    from supernas.export.onnx import runtime_session

    session = runtime_session(model, threads, optimization)
    return lambda: session.run(None, feeds)


def subnet_runner(
    model: Transformer, inputs: torch.Tensor, threads: int | None, optimization: str
) -> Callable[[], object]:
    """An extracted subnet (torch leaves) exported whole and run in ONNX Runtime on ``inputs``."""
    from supernas.export.onnx import to_onnx

    return session_runner(to_onnx(model), graph_feeds(model.spec, inputs), threads, optimization)


def part_runner(
    module: nn.Module, input_name: str, inputs: torch.Tensor, threads: int | None, optimization: str
) -> Callable[[], object]:
    """One part of a forward pass (a module of one input, built from supernas leaves) run in ONNX Runtime.

    Batch and token axes stay dynamic, as in the whole subnet's graph, so the runtime optimizes both alike.
    """
    from supernas.export.onnx import module_to_onnx

    dynamic = {0: "batch"} if input_name == "pixel_values" else {0: "batch", 1: "sequence"}
    proto = module_to_onnx(
        module, {input_name: inputs.cpu()}, ["output"], {input_name: dynamic, "output": {0: "batch"}}
    )
    return session_runner(
        proto.SerializeToString(), {input_name: inputs.cpu().numpy()}, threads, optimization
    )
