"""The one mapping between an ``Architecture`` and Optuna's parameters.

Every architecture is a fixed set of categorical parameters: ``depth``, ``embed_dim`` and, for each of
the space's ``max_depth`` layers, one choice each of attention (type, heads, K/V heads, window), FFN
(width, experts, top-k) and quantization (weight bits, activation bits); a no-op attention or FFN
block is the option labelled ``none`` of its group. Layers past ``depth`` are
sampled but unused, which keeps the parameter set fixed (NSGA-II's crossover needs that); when an
architecture is turned back into parameters, unused layers repeat the last active one.
"""

from __future__ import annotations

from optuna.distributions import CategoricalDistribution
from optuna.trial import BaseTrial

from supernas.spaces.architecture import (
    Architecture,
    LayerArch,
    attention_options,
    ffn_options,
    quant_options,
)
from supernas.spaces.spec import AttentionType, SpaceSpec


def _attention_label(o: dict) -> str:
    kind = AttentionType(o["attention"])
    if kind is AttentionType.none:
        return "none"
    extra = f":kv{o['kv_heads']}" if kind is AttentionType.gqa else f":w{o['window']}" if o["window"] else ""
    return f"{kind.value}:h{o['heads']}{extra}"


def _ffn_label(o: dict) -> str:
    return f"ffn{o['ffn_dim']}:e{o['experts']}:k{o['top_k']}" if o["ffn_dim"] else "none"


def _quant_label(o: dict) -> str:
    return f"w{o['weight_bits']}a{o['act_bits']}"


class ArchEncoding:
    def __init__(self, spec: SpaceSpec) -> None:
        self.spec = spec
        self.groups = {
            "attn": {_attention_label(o): o for o in attention_options(spec)},
            "ffn": {_ffn_label(o): o for o in ffn_options(spec)},
            "quant": {_quant_label(o): o for o in quant_options(spec)},
        }

    def distributions(self) -> dict[str, CategoricalDistribution]:
        dists = {
            "depth": CategoricalDistribution(self.spec.depth),
            "embed_dim": CategoricalDistribution(self.spec.embed_dim),
        }
        for i in range(self.spec.max_depth):
            for group, options in self.groups.items():
                dists[f"layer{i}.{group}"] = CategoricalDistribution(list(options))
        return dists

    def suggest(self, trial: BaseTrial) -> Architecture:
        params = {
            name: trial.suggest_categorical(name, dist.choices) for name, dist in self.distributions().items()
        }
        return self.decode(params)

    def decode(self, params: dict[str, object]) -> Architecture:
        layers = []
        for i in range(int(params["depth"])):
            fields: dict = {}
            for group, options in self.groups.items():
                fields.update(options[params[f"layer{i}.{group}"]])
            layers.append(LayerArch(**fields))
        return Architecture(space=self.spec.name, embed_dim=int(params["embed_dim"]), layers=tuple(layers))

    def encode(self, arch: Architecture) -> dict[str, object]:
        params: dict[str, object] = {"depth": arch.depth, "embed_dim": arch.embed_dim}
        for i in range(self.spec.max_depth):
            layer = arch.layers[min(i, arch.depth - 1)].model_dump()
            params[f"layer{i}.attn"] = _attention_label(layer)
            params[f"layer{i}.ffn"] = _ffn_label(layer)
            params[f"layer{i}.quant"] = _quant_label(layer)
        return params
