"""The block library: what each (layer, block choice) of a supernet costs, measured once (Puzzle-style).

A layer's choice is split into three parts that vary independently: its attention block (type, heads,
K/V heads, window, or none), its FFN block (width, experts, top-k, or none) and its quantization
(weight and activation bits). The quality cost of a part at a layer is measured by replacing only that
part of that layer in the largest subnet and scoring the result on held-out data against the largest
subnet itself: the KL divergence of the largest subnet's output distribution to the modified one's
(per target, averaged) and the change in held-out loss; for an encoder on unlabeled text, the mean cosine
distance of each sentence's mean-pooled embedding to the largest subnet's (``embedding``). Keeping fewer
layers is measured the same way (the largest subnet cut to each allowed depth). The largest subnet's own
choices cost 0. A supernet with trained blocks (``distill-blocks``) is scored with them.

Resources are exact and additive over parts: parameters, non-embedding parameters and checkpoint bytes
(analytic counts), and, given a latency workload, the lookup-table latency predictor's part times (its
prediction is the sum of its parts' ``part_ms`` plus ``offset``, so the library's latency of an
architecture is the predictor's). All at the largest embedding width: the library describes per-layer
choices only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F

from supernas.core.errors import SpecError
from supernas.data.inputs import Batch
from supernas.models.ops import mean_pool
from supernas.models.supernet import Supernet
from supernas.predictors.latency.parts import ForwardPart
from supernas.predictors.latency.predictors import LookupTablePredictor
from supernas.spaces.analytic import checkpoint_bytes, count_params, embedding_params, layer_linears
from supernas.spaces.architecture import (
    Architecture,
    LayerArch,
    attention_options,
    ffn_options,
    largest,
    quant_options,
    with_layer,
)
from supernas.spaces.spec import SpaceSpec
from supernas.training.losses import task_loss

NO_ATTENTION = {"attention": "none", "heads": 0, "kv_heads": None, "window": None}
NO_FFN = {"ffn_dim": 0, "experts": 1, "top_k": 1}
LABELED_SCORES = ("kl", "val_loss")  # outputs against the largest's, and the task loss: need labels
EMBEDDING_SCORES = ("embedding",)  # an encoder's sentence embeddings, for unlabeled text


def _jsonable(option: dict) -> dict:
    return {k: getattr(v, "value", v) for k, v in option.items()}


@dataclass
class BlockLibrary:
    """Plain data: options, per-layer quality costs, additive resources.
    ``quality[score][part][layer][option]`` for part in attention/ffn/quant,
    ``depth_quality[score][str(depth)]``; ``resources[name]`` holds ``base`` and ``attention``/``ffn``
    tables indexed [option][quant]."""

    space: str
    embed_dim: int
    depths: list[int]
    attention: list[dict]
    ffn: list[dict]
    quant: list[dict]
    quality: dict[str, dict[str, list[list[float]]]]
    depth_quality: dict[str, dict[str, float]]
    resources: dict[str, dict] = field(default_factory=dict)
    reference_loss: float = 0.0  # held-out loss of the largest subnet
    evaluations: int = 0  # subnets scored on the held-out data to build it (the largest included)

    def to_json(self) -> dict:
        return asdict(self)

    @property
    def scores(self) -> list[str]:
        """The quality costs this library holds (``embedding`` alone for an encoder on unlabeled text)."""
        return list(self.quality)

    def check_score(self, score: str | None) -> str:
        """``score``, or the library's first one when None; one line when it does not hold it."""
        if score is None:
            return self.scores[0]
        if score not in self.quality:
            raise SpecError(
                f"score '{score}': this block library holds {', '.join(self.scores)} "
                "(kl and val_loss need labeled held-out data; embedding is for encoders on unlabeled text)"
            )
        return score

    @classmethod
    def from_json(cls, data: dict) -> BlockLibrary:
        return cls(**data)

    def architecture(self, depth: int, layers: list[tuple[int, int, int]]) -> Architecture:
        """The architecture of a choice: (attention option, FFN option, quant) indices per active layer."""
        return Architecture(
            space=self.space,
            embed_dim=self.embed_dim,
            layers=tuple(
                LayerArch(**self.attention[a], **self.ffn[f], **self.quant[q]) for a, f, q in layers[:depth]
            ),
        )

    def rows(self, score: str = "kl") -> list[tuple[str, int, str, list[float]]]:
        """(part, option index, option label, cost per layer) for printing; a depth's one cost in a list
        of one."""
        out = [("depth", i, str(d), [self.depth_quality[score][str(d)]]) for i, d in enumerate(self.depths)]
        for part, options in (("attention", self.attention), ("ffn", self.ffn), ("quant", self.quant)):
            per_layer = self.quality[score][part]
            for i, option in enumerate(options):
                out.append((part, i, option_label(part, option), [row[i] for row in per_layer]))
        return out


def option_label(part: str, option: dict) -> str:
    if part == "attention":
        if option["attention"] == "none":
            return "none"
        extra = (
            f" kv{option['kv_heads']}"
            if option["kv_heads"]
            else f" w{option['window']}"
            if option["window"]
            else ""
        )
        return f"{option['attention']} h{option['heads']}{extra}"
    if part == "ffn":
        return (
            "none"
            if not option["ffn_dim"]
            else f"ffn{option['ffn_dim']}"
            + (f" e{option['experts']}k{option['top_k']}" if option["experts"] > 1 else "")
        )
    return f"w{option['weight_bits']}a{option['act_bits']}"


def scored_by_embeddings(batches: list[Batch]) -> bool:
    """Unlabeled held-out examples (an encoder's text): blocks are scored on sentence embeddings."""
    return any(b.targets is None for b in batches)


@torch.no_grad()
def _outputs(supernet: Supernet, arch: Architecture, batches: list[Batch]) -> list[torch.Tensor]:
    """Per batch: the logits, or the mean-pooled sentence embeddings for unlabeled text."""
    with supernet.active(arch):
        if scored_by_embeddings(batches):
            return [mean_pool(supernet.encode(b.inputs, b.padding), b.padding) for b in batches]
        return [supernet(b.inputs, b.padding) for b in batches]


def embedding_cost(reference: list[torch.Tensor], outputs: list[torch.Tensor]) -> tuple[float]:
    """(mean cosine distance of each sentence's embedding to the reference's,)."""
    distances = torch.cat([1 - F.cosine_similarity(o, r, dim=-1) for r, o in zip(reference, outputs)])
    return (float(distances.mean()),)


def _targets_mask(logits: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Which predictions count (real tokens of a causal LM; every sample of a classifier)."""
    if logits.dim() == 2 or batch.padding is None:
        return torch.ones(logits.shape[:-1], dtype=torch.bool)
    return batch.padding.bool()


def quality_cost(
    reference: list[torch.Tensor], outputs: list[torch.Tensor], batches: list[Batch]
) -> tuple[float, float]:
    """(mean KL(reference || outputs) per counted prediction, mean loss of ``outputs``)."""
    kl_sum, loss_sum, count = 0.0, 0.0, 0
    for ref, out, batch in zip(reference, outputs, batches):
        mask = _targets_mask(out, batch)
        p_log, q_log = F.log_softmax(ref, dim=-1), F.log_softmax(out, dim=-1)
        kl = (p_log.exp() * (p_log - q_log)).sum(-1)
        n = int(mask.sum())
        kl_sum += float(kl[mask].sum())
        loss_sum += float(task_loss(out, batch)) * n
        count += n
    return kl_sum / count, loss_sum / count


def measure_quality(supernet: Supernet, batches: list[Batch], progress=None) -> tuple[dict, dict, float, int]:
    """Quality costs of every (layer, part option) and of each shorter depth, against the largest subnet."""
    spec = supernet.spec
    top = largest(spec)
    was_training = supernet.training
    supernet.eval()
    reference = _outputs(supernet, top, batches)
    embeddings = scored_by_embeddings(batches)
    scores = EMBEDDING_SCORES if embeddings else LABELED_SCORES
    reference_loss = 0.0 if embeddings else quality_cost(reference, reference, batches)[1]
    evaluations = 1
    quality = {s: {} for s in scores}

    def score(arch: Architecture) -> tuple[float, ...]:
        nonlocal evaluations
        if arch == top:
            return (0.0,) * len(scores)
        evaluations += 1
        if progress is not None:
            progress()
        outputs = _outputs(supernet, arch, batches)
        if embeddings:
            return embedding_cost(reference, outputs)
        kl, loss = quality_cost(reference, outputs, batches)
        return kl, loss - reference_loss

    try:
        groups = {
            "attention": attention_options(spec),
            "ffn": ffn_options(spec),
            "quant": quant_options(spec),
        }
        for part, options in groups.items():
            table = [
                [score(with_layer(top, layer, option)) for option in options] for layer in range(top.depth)
            ]
            for k, s in enumerate(scores):
                quality[s][part] = [[cell[k] for cell in row] for row in table]
        depth_quality = {s: {} for s in scores}
        for d in spec.depth:
            cell = score(top.model_copy(update={"layers": top.layers[:d]}))
            for k, s in enumerate(scores):
                depth_quality[s][str(d)] = cell[k]
    finally:
        supernet.train(was_training)
    return quality, depth_quality, reference_loss, evaluations


def part_resources(spec: SpaceSpec, embed: int, lut: LookupTablePredictor | None) -> dict[str, dict]:
    """Each resource as ``base`` + per-(option, quant) parts; exact: ``base + sum of parts`` of an
    architecture equals its analytic count (and its lookup-table prediction)."""
    att, ffn, quant = attention_options(spec), ffn_options(spec), quant_options(spec)
    empty = Architecture(space=spec.name, embed_dim=embed, layers=())
    norm = 2 * embed  # each present part brings its LayerNorm

    def layers(part: str, option: dict, q: dict) -> LayerArch:
        return (
            LayerArch(**option, **NO_FFN, **q)
            if part == "attention"
            else LayerArch(**NO_ATTENTION, **option, **q)
        )

    def table(part: str, options: list[dict], value) -> list[list[float]]:
        return [[value(part, layers(part, o, q)) for q in quant] for o in options]

    def present(part: str, layer: LayerArch) -> bool:
        return layer.has_attention if part == "attention" else layer.has_ffn

    def params(part: str, layer: LayerArch) -> float:
        return float(
            sum(lin.params for lin in layer_linears(spec, embed, layer)) + norm * present(part, layer)
        )

    def bytes_(part: str, layer: LayerArch) -> float:
        return float(
            sum(lin.bytes for lin in layer_linears(spec, embed, layer)) + 4 * norm * present(part, layer)
        )

    base_params = float(count_params(spec, empty))
    resources = {
        "params": {
            "base": base_params,
            "attention": table("attention", att, params),
            "ffn": table("ffn", ffn, params),
        },
        "non_embedding_params": {
            "base": base_params - embedding_params(spec, embed),
            "attention": table("attention", att, params),
            "ffn": table("ffn", ffn, params),
        },
        "weight_bytes": {
            "base": float(checkpoint_bytes(spec, empty)),
            "attention": table("attention", att, bytes_),
            "ffn": table("ffn", ffn, bytes_),
        },
    }
    if lut is not None:

        def part_of(part: str, layer: LayerArch) -> ForwardPart | None:
            return ForwardPart(part, embed, layer) if present(part, layer) else None

        every = [
            p
            for part, options in (("attention", att), ("ffn", ffn))
            for o in options
            for q in quant
            if (p := part_of(part, layers(part, o, q))) is not None
        ]
        base = ForwardPart("base", embed)
        lut.profile([base, *every])

        def ms(part: str, layer: LayerArch) -> float:
            p = part_of(part, layer)
            return 0.0 if p is None else lut.part_ms(p)

        resources["latency_ms"] = {
            "base": lut.part_ms(base) + lut.offset,
            "attention": table("attention", att, ms),
            "ffn": table("ffn", ffn, ms),
        }
    return resources


def build_block_library(
    supernet: Supernet, batches: list[Batch], lut: LookupTablePredictor | None = None, progress=None
) -> BlockLibrary:
    """Measure every (layer, part option) of ``supernet`` on ``batches`` (held-out data) once."""
    spec = supernet.spec
    quality, depth_quality, reference_loss, evaluations = measure_quality(supernet, batches, progress)
    embed = spec.max_embed
    return BlockLibrary(
        space=spec.name,
        embed_dim=embed,
        depths=list(spec.depth),
        attention=[_jsonable(o) for o in attention_options(spec)],
        ffn=[_jsonable(o) for o in ffn_options(spec)],
        quant=[_jsonable(o) for o in quant_options(spec)],
        quality=quality,
        depth_quality=depth_quality,
        resources=part_resources(spec, embed, lut),
        reference_loss=reference_loss,
        evaluations=evaluations,
    )
