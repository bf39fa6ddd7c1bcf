"""Architectures as the pages show them: one line for tables, a few lines for chart hovers, and the
numeric dimensions of the parallel-coordinates plot."""

from __future__ import annotations

import json
from dataclasses import dataclass

from supernas.spaces.spec import SpaceSpec

ATTENTION_SHORT = {"mha": "mha", "gqa": "gqa", "linear": "lin", "sliding_window": "swa", "none": "none"}
SKIPPED = "–"  # a no-op block's heads, FFN width or experts
DIMENSIONS = (
    "depth",
    "embed",
    "avg heads",
    "avg FFN",
    "avg experts",
    "avg w-bits",
)  # per-layer ones averaged


@dataclass(frozen=True)
class ArchView:
    line: str  # "depth 3 · embed 96 · mha/swa/swa"
    hover: str  # several lines joined by <br> (plotly hover text)
    dims: tuple[float, ...]  # DIMENSIONS, in that order


def _per_layer(values: list[object]) -> str:
    return "/".join(str(v) for v in values)


def arch_view(arch_json: str) -> ArchView:
    """The view of a stored architecture. Stored JSON is canonical (``Architecture.to_json``: every field,
    validated when it was stored), so it is read as plain data: validating it again was most of a chart's
    cost on a big job."""
    arch = json.loads(arch_json)
    layers = arch["layers"]
    attention = _per_layer([ATTENTION_SHORT[layer["attention"]] for layer in layers])
    heads = _per_layer(
        [
            SKIPPED
            if layer["attention"] == "none"
            else layer["heads"]
            if layer["kv_heads"] == layer["heads"]
            else f"{layer['heads']}:{layer['kv_heads']}"
            for layer in layers
        ]
    )
    experts = _per_layer(
        [
            SKIPPED
            if not layer["ffn_dim"]
            else layer["experts"]
            if layer["experts"] == 1
            else f"{layer['experts']}k{layer['top_k']}"
            for layer in layers
        ]
    )
    ffn = _per_layer([layer["ffn_dim"] or SKIPPED for layer in layers])
    head = f"depth {len(layers)} · embed {arch['embed_dim']}"
    hover = "<br>".join(
        [
            head,
            f"attention {attention}",
            f"heads {heads} · FFN {ffn}",
            f"experts {experts}",
            f"bits w{_per_layer([layer['weight_bits'] for layer in layers])} "
            f"a{_per_layer([layer['act_bits'] for layer in layers])}",
        ]
    )
    depth = len(layers)
    dims = (
        float(depth),
        float(arch["embed_dim"]),
        sum(layer["heads"] for layer in layers) / depth,
        sum(layer["ffn_dim"] for layer in layers) / depth,
        sum(layer["experts"] for layer in layers) / depth,
        sum(layer["weight_bits"] for layer in layers) / depth,
    )
    return ArchView(f"{head} · {attention}", hover, dims)


def front_end_line(space: SpaceSpec, embed_dim: int) -> str | None:
    """What a speech subnet computes before its layers (shared whole by every subnet), or None for other
    tasks."""
    if space.task != "speech":
        return None
    return (
        f"{space.audio.summary()} · projection to {embed_dim} · "
        f"depthwise position convolution, kernel {space.audio.pos_conv_kernel}"
    )
