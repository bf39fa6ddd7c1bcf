"""Architecture: one point of a search space, and the space-level operations on points.

An ``Architecture`` is immutable and validated; its canonical JSON (sorted keys, no spaces, defaults
filled in) is the only thing that crosses process and database boundaries, and its ``arch_id`` is a
short SHA-256 of that JSON. Only the active layers are listed: depth is ``len(layers)``.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import sys
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from supernas.core.errors import ArchitectureError, NotFoundError, allowed, pydantic_message
from supernas.spaces.spec import AttentionType, SpaceSpec


class LayerArch(BaseModel):
    """One active layer. Fields that do not apply to the attention type take their canonical value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    attention: AttentionType
    heads: int | None = None  # required, except for attention 'none' (canonical 0)
    kv_heads: int | None = None  # defaults to heads (one K/V head per query head)
    window: int | None = None  # sliding_window only
    ffn_dim: int  # 0 = no FFN (a no-op block)
    experts: int = 1
    top_k: int = 1
    weight_bits: int = 32
    act_bits: int = 32

    @model_validator(mode="after")
    def _canonical(self) -> LayerArch:
        if self.attention is AttentionType.none:
            if self.heads or self.kv_heads or self.window is not None:
                raise ValueError("attention 'none' has no heads, kv_heads or window (leave them out)")
            object.__setattr__(self, "heads", 0)
            object.__setattr__(self, "kv_heads", 0)
        elif self.heads is None or self.heads <= 0:
            raise ValueError(f"attention '{self.attention.value}' needs heads > 0, got {self.heads}")
        if self.ffn_dim < 0 or (self.ffn_dim == 0 and self.experts != 1):
            raise ValueError(
                "ffn_dim must be positive, or 0 (no FFN) with experts 1; "
                f"got ffn_dim={self.ffn_dim}, experts={self.experts}"
            )
        if self.kv_heads is None:
            object.__setattr__(self, "kv_heads", self.heads)
        if self.attention is AttentionType.gqa:
            if not (self.kv_heads < self.heads and self.heads % self.kv_heads == 0):
                raise ValueError(
                    "gqa needs kv_heads dividing heads and smaller than it, "
                    f"got heads={self.heads}, kv_heads={self.kv_heads}"
                )
        elif self.kv_heads != self.heads:
            raise ValueError(
                f"kv_heads applies to gqa only; attention '{self.attention.value}' uses kv_heads = heads"
            )
        if (self.attention is AttentionType.sliding_window) != (self.window is not None):
            raise ValueError("window is required for sliding_window attention and not allowed otherwise")
        if self.experts == 1 and self.top_k != 1:
            raise ValueError("top_k applies to MoE layers only (experts > 1)")
        if self.top_k > self.experts:
            raise ValueError(f"top_k={self.top_k} exceeds experts={self.experts}")
        return self

    @property
    def has_attention(self) -> bool:
        return self.attention is not AttentionType.none

    @property
    def has_ffn(self) -> bool:
        return self.ffn_dim > 0


class Architecture(BaseModel):
    """A subnet of a space: the embedding width and one ``LayerArch`` per active layer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    space: str
    embed_dim: int
    layers: tuple[LayerArch, ...]

    @property
    def depth(self) -> int:
        return len(self.layers)

    def to_json(self) -> str:
        """Canonical JSON: equal architectures give equal strings."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    @property
    def arch_id(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:12]

    @classmethod
    def from_data(cls, data: object, where: str = "architecture") -> Architecture:
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            raise ArchitectureError(pydantic_message(e, where, cls)) from None

    @classmethod
    def from_json(cls, text: str, where: str = "architecture") -> Architecture:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ArchitectureError(f"{where}: not valid JSON: {e}") from None
        return cls.from_data(data, where)


def check(spec: SpaceSpec, arch: Architecture) -> Architecture:
    """Raise ``ArchitectureError`` naming the first field whose value the space does not offer."""
    if not isinstance(arch, Architecture):
        raise ArchitectureError(
            f"expected an Architecture, got {type(arch).__name__}; build one with "
            "Architecture.model_validate(data) or parse_architecture(spec, text)"
        )

    def need(ok: bool, field: str, value: object, choices: object) -> None:
        if not ok:
            raise ArchitectureError(
                f"architecture field '{field}' = {value} is not in space '{spec.name}' ({allowed(choices)})"
            )

    need(arch.space == spec.name, "space", arch.space, [spec.name])
    need(arch.depth in spec.depth, "depth (number of layers)", arch.depth, spec.depth)
    need(arch.embed_dim in spec.embed_dim, "embed_dim", arch.embed_dim, spec.embed_dim)
    c = spec.layer
    for i, layer in enumerate(arch.layers):
        at = f"layers[{i}]"
        need(
            layer.attention in c.attention,
            f"{at}.attention",
            layer.attention.value,
            [a.value for a in c.attention],
        )
        if layer.has_attention:
            need(layer.heads in c.heads, f"{at}.heads", layer.heads, c.heads)
        if layer.attention is AttentionType.gqa:
            need(layer.kv_heads in c.kv_heads, f"{at}.kv_heads", layer.kv_heads, c.kv_heads)
        if layer.window is not None:
            need(layer.window in c.windows, f"{at}.window", layer.window, c.windows)
        need(layer.ffn_dim in c.ffn_dim, f"{at}.ffn_dim", layer.ffn_dim, c.ffn_dim)
        if layer.has_ffn:
            need(layer.experts in c.experts, f"{at}.experts", layer.experts, c.experts)
            need(
                layer.top_k in c.top_k_for(layer.experts),
                f"{at}.top_k",
                layer.top_k,
                c.top_k_for(layer.experts),
            )
        need(layer.weight_bits in c.weight_bits, f"{at}.weight_bits", layer.weight_bits, c.weight_bits)
        need(layer.act_bits in c.act_bits, f"{at}.act_bits", layer.act_bits, c.act_bits)
    return arch


def parse_architecture(spec: SpaceSpec, data: object, where: str = "architecture") -> Architecture:
    """Validate data (a dict, or JSON text) as an architecture of ``spec``.

    ``space`` may be omitted in the data; it then defaults to the spec's name.
    """
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as e:
            raise ArchitectureError(f"{where}: not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise ArchitectureError(f"{where}: an architecture must be a JSON object, got {type(data).__name__}")
    data = {"space": spec.name, **data}
    return check(spec, Architecture.from_data(data, where))


# ---------------------------------------------------------------- enumerating a layer's options


def attention_options(spec: SpaceSpec) -> list[dict]:
    """Every (attention, heads, kv_heads, window) combination a layer may take."""
    c = spec.layer
    out: list[dict] = []
    for kind in c.attention:
        if kind is AttentionType.none:
            out.append(dict(attention=kind, heads=0, kv_heads=None, window=None))
        elif kind is AttentionType.gqa:
            out += [dict(attention=kind, heads=h, kv_heads=g, window=None) for h, g in c.gqa_pairs()]
        elif kind is AttentionType.sliding_window:
            out += [
                dict(attention=kind, heads=h, kv_heads=None, window=w) for h in c.heads for w in c.windows
            ]
        else:
            out += [dict(attention=kind, heads=h, kv_heads=None, window=None) for h in c.heads]
    return out


def ffn_options(spec: SpaceSpec) -> list[dict]:
    """Every (ffn_dim, experts, top_k) combination a layer may take (ffn_dim 0, no FFN, once)."""
    c = spec.layer
    widths = [f for f in c.ffn_dim if f > 0]
    none = [dict(ffn_dim=0, experts=1, top_k=1)] if 0 in c.ffn_dim else []
    return none + [
        dict(ffn_dim=f, experts=e, top_k=k) for e in c.experts for k in c.top_k_for(e) for f in widths
    ]


def quant_options(spec: SpaceSpec) -> list[dict]:
    c = spec.layer
    return [dict(weight_bits=w, act_bits=a) for w in c.weight_bits for a in c.act_bits]


def with_layer(arch: Architecture, layer: int, fields: dict) -> Architecture:
    """``arch`` with the given fields of one layer replaced."""
    layers = list(arch.layers)
    layers[layer] = LayerArch(**{**layers[layer].model_dump(), **fields})
    return arch.model_copy(update={"layers": tuple(layers)})


def quantized(arch: Architecture, weight_bits: int, act_bits: int) -> Architecture:
    """``arch`` with every layer at ``weight_bits`` weights and ``act_bits`` activations."""
    scheme = {"weight_bits": weight_bits, "act_bits": act_bits}
    return arch.model_copy(update={"layers": tuple(layer.model_copy(update=scheme) for layer in arch.layers)})


def layer_count(spec: SpaceSpec) -> int:
    """Number of distinct configurations of one layer."""
    return len(attention_options(spec)) * len(ffn_options(spec)) * len(quant_options(spec))


def n_subnets(spec: SpaceSpec) -> int:
    """Exact number of distinct architectures: |embed| * sum over depths d of layer_count ** d."""
    per_layer = layer_count(spec)
    return len(spec.embed_dim) * sum(per_layer**d for d in spec.depth)


def log10_subnets(spec: SpaceSpec) -> float:
    return math.log10(n_subnets(spec))


# ---------------------------------------------------------------- sampling and variation


def _random_layer(spec: SpaceSpec, rng: random.Random) -> LayerArch:
    """Uniform over attention options, FFN options and quantization options, independently."""
    return LayerArch(
        **rng.choice(attention_options(spec)),
        **rng.choice(ffn_options(spec)),
        **rng.choice(quant_options(spec)),
    )


def sample(spec: SpaceSpec, rng: random.Random) -> Architecture:
    """A random architecture; the same ``rng`` state gives the same architecture."""
    depth = rng.choice(spec.depth)
    return Architecture(
        space=spec.name,
        embed_dim=rng.choice(spec.embed_dim),
        layers=tuple(_random_layer(spec, rng) for _ in range(depth)),
    )


def sample_many(spec: SpaceSpec, n: int, seed: int) -> list[Architecture]:
    rng = random.Random(seed)
    return [sample(spec, rng) for _ in range(n)]


def mutate(spec: SpaceSpec, arch: Architecture, rng: random.Random, prob: float = 0.2) -> Architecture:
    """Resample each gene (depth, width, each layer's attention/FFN/quant group) with probability ``prob``."""
    embed = rng.choice(spec.embed_dim) if rng.random() < prob else arch.embed_dim
    depth = rng.choice(spec.depth) if rng.random() < prob else arch.depth
    layers = []
    for i in range(depth):
        base = arch.layers[i].model_dump() if i < arch.depth else _random_layer(spec, rng).model_dump()
        for options in (attention_options(spec), ffn_options(spec), quant_options(spec)):
            if rng.random() < prob:
                base = {**base, **rng.choice(options)}
        layers.append(LayerArch(**base))
    return Architecture(space=spec.name, embed_dim=embed, layers=tuple(layers))


def crossover(spec: SpaceSpec, a: Architecture, b: Architecture, rng: random.Random) -> Architecture:
    """Uniform crossover: global genes from either parent, each layer from either parent where both
    have it."""
    depth = rng.choice([a.depth, b.depth])
    layers = []
    for i in range(depth):
        donors = [p.layers[i] for p in (a, b) if i < p.depth]
        layers.append(rng.choice(donors))
    return Architecture(
        space=spec.name, embed_dim=rng.choice([a.embed_dim, b.embed_dim]), layers=tuple(layers)
    )


def _extreme(spec: SpaceSpec, pick) -> Architecture:
    c = spec.layer
    attn = pick(
        attention_options(spec), key=lambda o: (o["heads"], o["kv_heads"] or o["heads"], -(o["window"] or 0))
    )
    ffn_dim = pick(c.ffn_dim)
    experts = pick(c.experts) if ffn_dim else 1
    layer = LayerArch(
        **attn,
        ffn_dim=ffn_dim,
        experts=experts,
        top_k=pick(c.top_k_for(experts)),
        weight_bits=pick(c.weight_bits),
        act_bits=pick(c.act_bits),
    )
    return Architecture(space=spec.name, embed_dim=pick(spec.embed_dim), layers=(layer,) * pick(spec.depth))


def largest(spec: SpaceSpec) -> Architecture:
    """Every dimension at its maximum: uses every weight of the supernet."""
    return _extreme(spec, max)


def smallest(spec: SpaceSpec) -> Architecture:
    return _extreme(spec, min)


def read_arch(spec, value: str):
    """An architecture from a file path, inline JSON, or '-' for standard input."""
    if value == "-":
        return parse_architecture(spec, sys.stdin.readline(), "architecture on standard input")
    if value.lstrip().startswith("{"):
        return parse_architecture(spec, value, "--arch")
    path = Path(value)
    if not path.is_file():
        raise NotFoundError(f"--arch {value}: no such file")
    return parse_architecture(spec, path.read_text(), str(path))
