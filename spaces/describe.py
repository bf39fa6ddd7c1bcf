"""Human-readable views of a space: its elastic dimensions and their choices."""

from __future__ import annotations

from supernas.spaces.architecture import (
    attention_options,
    ffn_options,
    layer_count,
    log10_subnets,
    quant_options,
)
from supernas.spaces.spec import SpaceSpec


def elastic_dimensions(spec: SpaceSpec) -> tuple[dict[str, list], dict[str, list]]:
    """(global dimensions, per-layer dimensions) that have more than one choice, with their choices."""
    c = spec.layer
    global_dims = {"depth": spec.depth, "embed_dim": spec.embed_dim}
    layer_dims = {
        "attention": [a.value for a in c.attention],
        "heads": c.heads,
        "kv_heads (gqa)": c.kv_heads,
        "window (sliding_window)": c.windows,
        "ffn_dim": c.ffn_dim,
        "experts": c.experts,
        "top_k (moe)": c.top_k,
        "weight_bits": c.weight_bits,
        "act_bits": c.act_bits,
    }
    keep = lambda dims: {k: v for k, v in dims.items() if len(v) > 1}  # noqa: E731
    return keep(global_dims), keep(layer_dims)


def describe(spec: SpaceSpec) -> str:
    global_dims, layer_dims = elastic_dimensions(spec)
    lines = [
        f"{spec.name}: {spec.description}".rstrip(": "),
        (
            f"task: {spec.task}, sequence length {spec.seq_len}, head_dim {spec.head_dim}, "
            f"{spec.norm}-norm, {spec.activation}"
        ),
    ]
    if spec.audio is not None:
        lines.append(f"front end (every subnet shares it): {spec.audio.summary()}")
    lines.append("global dimensions:")
    lines += [f"  {k:<24} {', '.join(map(str, v))}" for k, v in global_dims.items()]
    lines.append("per-layer dimensions:")
    lines += [f"  {k:<24} {', '.join(map(str, v))}" for k, v in layer_dims.items()]
    lines.append(
        f"per layer: {len(attention_options(spec))} attention x {len(ffn_options(spec))} FFN x "
        f"{len(quant_options(spec))} quantization = {layer_count(spec)} configurations; "
        f"log10(#subnets) = {log10_subnets(spec):.2f}"
    )
    return "\n".join(lines)
