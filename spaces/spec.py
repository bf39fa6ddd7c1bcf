"""SpaceSpec: the declarative description of a supernet and of what may vary in it.

A spec is pure data (YAML or JSON on disk, a pydantic model in memory). It fixes the task framing
(vocabulary, image patches or, for speech, the waveform and conv front end in ``audio``; sequence
length, head size, normalisation) and lists the choices of every
elastic dimension. Global choices: depth (the first k layers are active) and embedding width (the first
k channels, MatFormer-style nesting). Per-layer choices: attention type, heads, GQA key/value heads,
sliding windows, FFN width, mixture-of-experts (experts, top-k) and the quantization policy
(weight bits, activation bits). ``experts == 1`` means a dense FFN. No-op blocks: attention ``none`` and
``ffn_dim`` 0 skip that sub-block of a layer entirely (the residual passes through, Puzzle-style).
``weight_group_size`` fixes how integer weights are scaled in every layer: one scale per output row
(null; 4-bit weights then use groups of 32) or per group of that many input columns.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from supernas.core.errors import NotFoundError, SpecError, did_you_mean, pydantic_message
from supernas.spaces.audio import AudioSpec


class AttentionType(str, Enum):
    """Attention choices; the four real ones share the same Q/K/V/O projections in the supernet."""

    mha = "mha"  # softmax attention, one K/V head per query head
    gqa = "gqa"  # softmax attention, fewer K/V heads shared by groups of query heads
    linear = "linear"  # kernelized attention, phi(x) = elu(x) + 1, O(n) in sequence length
    sliding_window = "sliding_window"  # softmax attention restricted to a local window
    none = "none"  # no attention sub-block in the layer (no norm, no projections): x passes through


Task = Literal["causal_lm", "encoder_classification", "vision", "speech"]  # speech: utterance classification
WEIGHT_BITS = (4, 8, 16, 32)
ACT_BITS = (8, 16, 32)
GROUP_SIZES = (16, 32, 64, 128, 256)  # the block sizes of ONNX Runtime's MatMulNBits integer kernels


def _choices(values: list[int], name: str) -> list[int]:
    if not values:
        raise ValueError(f"{name} needs at least one choice")
    if any(v <= 0 for v in values):
        raise ValueError(f"{name} choices must be positive, got {values}")
    return sorted(set(values))


class LayerChoices(BaseModel):
    """Choices open to every layer (all layers share one menu)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    attention: list[AttentionType] = Field(default_factory=lambda: [AttentionType.mha])
    heads: list[int]
    kv_heads: list[int] = Field(default_factory=list, description="GQA key/value head counts")
    windows: list[int] = Field(default_factory=list, description="sliding-window sizes in tokens")
    ffn_dim: list[int] = Field(description="FFN widths; 0 = no FFN sub-block (a no-op block)")
    experts: list[int] = Field(default_factory=lambda: [1], description="1 = dense FFN")
    top_k: list[int] = Field(default_factory=lambda: [1], description="experts used per token")
    weight_bits: list[int] = Field(default_factory=lambda: [32])
    act_bits: list[int] = Field(default_factory=lambda: [32])

    @field_validator("heads", "experts", "top_k")
    @classmethod
    def _nonempty_positive(cls, v: list[int], info) -> list[int]:
        return _choices(v, info.field_name)

    @field_validator("ffn_dim")
    @classmethod
    def _ffn_dims(cls, v: list[int]) -> list[int]:
        """Positive widths, plus 0 for a no-op FFN; at least one real width (the supernet needs weights)."""
        if any(d < 0 for d in v) or not any(d > 0 for d in v):
            raise ValueError(f"ffn_dim needs at least one positive width (0 = no FFN), got {v}")
        return sorted(set(v))

    @field_validator("kv_heads", "windows")
    @classmethod
    def _positive(cls, v: list[int], info) -> list[int]:
        return _choices(v, info.field_name) if v else []

    @field_validator("attention")
    @classmethod
    def _unique_attention(cls, v: list[AttentionType]) -> list[AttentionType]:
        if not [a for a in v if a is not AttentionType.none]:
            raise ValueError("attention needs at least one choice other than 'none'")
        order = list(AttentionType)
        return sorted(set(v), key=order.index)

    @field_validator("weight_bits")
    @classmethod
    def _weight_bits(cls, v: list[int]) -> list[int]:
        bad = [b for b in v if b not in WEIGHT_BITS]
        if bad:
            raise ValueError(f"weight_bits {bad} not supported, allowed: {', '.join(map(str, WEIGHT_BITS))}")
        return _choices(v, "weight_bits")

    @field_validator("act_bits")
    @classmethod
    def _act_bits(cls, v: list[int]) -> list[int]:
        bad = [b for b in v if b not in ACT_BITS]
        if bad:
            raise ValueError(f"act_bits {bad} not supported, allowed: {', '.join(map(str, ACT_BITS))}")
        return _choices(v, "act_bits")

    @model_validator(mode="after")
    def _consistent(self) -> LayerChoices:
        if AttentionType.gqa in self.attention:
            if not self.kv_heads:
                raise ValueError("attention choice 'gqa' needs kv_heads choices")
            if not self.gqa_pairs():
                raise ValueError(
                    f"attention choice 'gqa' has no valid (heads, kv_heads) pair: kv_heads must divide "
                    f"heads and be smaller; heads={self.heads}, kv_heads={self.kv_heads}"
                )
        if AttentionType.sliding_window in self.attention and not self.windows:
            raise ValueError("attention choice 'sliding_window' needs windows choices")
        if max(self.top_k) > max(self.experts):
            raise ValueError(f"top_k {max(self.top_k)} exceeds the largest expert count {max(self.experts)}")
        return self

    def gqa_pairs(self) -> list[tuple[int, int]]:
        """Valid (heads, kv_heads) pairs for GQA: kv divides heads and is strictly smaller."""
        return [(h, g) for h in self.heads for g in self.kv_heads if g < h and h % g == 0]

    def top_k_for(self, experts: int) -> list[int]:
        """Top-k choices open to a layer with this many experts (1 for a dense FFN)."""
        return [1] if experts == 1 else [k for k in self.top_k if k <= experts]


class SpaceSpec(BaseModel):
    """A supernet search space. Load with :func:`load_spec`; built-in names come from ``builtin/``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    task: Task
    vocab_size: int | None = Field(default=None, gt=0)
    type_vocab_size: int = Field(default=0, ge=0, description="segment embeddings (BERT); 0 = none")
    max_seq_len: int = Field(default=128, gt=0)
    num_classes: int | None = Field(default=None, gt=0)
    image_size: int | None = Field(default=None, gt=0)
    audio: AudioSpec | None = Field(
        default=None, description="speech spaces: waveform format and conv front end"
    )
    patch_size: int | None = Field(default=None, gt=0)
    in_channels: int = Field(default=3, gt=0)
    head_dim: int = Field(gt=0)
    depth: list[int]
    embed_dim: list[int]
    layer: LayerChoices
    weight_group_size: int | None = Field(
        default=None,
        gt=0,
        description=(
            "integer weights: one scale per this many input columns (a power of two, 16 to 256, as "
            "ONNX Runtime's MatMulNBits takes); null = one per row for 8-bit weights, 32 for 4-bit"
        ),
    )
    norm: Literal["pre", "post"] = "pre"
    norm_eps: float = Field(default=1e-5, gt=0)
    activation: Literal["gelu", "gelu_tanh", "relu"] = "gelu"
    bias: bool = True
    tie_embeddings: bool = True

    @field_validator("weight_group_size")
    @classmethod
    def _group_size(cls, v: int | None) -> int | None:
        if v is not None and v not in GROUP_SIZES:
            raise ValueError(
                f"weight_group_size {v} not supported, allowed: null, {', '.join(map(str, GROUP_SIZES))}"
            )
        return v

    @field_validator("depth", "embed_dim")
    @classmethod
    def _nonempty_positive(cls, v: list[int], info) -> list[int]:
        return _choices(v, info.field_name)

    @model_validator(mode="after")
    def _task_fields(self) -> SpaceSpec:
        if self.task in ("causal_lm", "encoder_classification") and self.vocab_size is None:
            raise ValueError(f"task '{self.task}' needs vocab_size")
        if self.task == "speech" and self.audio is None:
            raise ValueError("task 'speech' needs audio (sample_rate, max_seconds, conv_layers)")
        if self.task != "speech" and self.audio is not None:
            raise ValueError("audio is for task 'speech' only")
        if self.task in ("encoder_classification", "vision", "speech") and self.num_classes is None:
            raise ValueError(f"task '{self.task}' needs num_classes")
        if self.task == "vision":
            if self.image_size is None or self.patch_size is None:
                raise ValueError("task 'vision' needs image_size and patch_size")
            if self.image_size % self.patch_size:
                raise ValueError(
                    f"image_size {self.image_size} is not a multiple of patch_size {self.patch_size}"
                )
        if self.task == "causal_lm" and self.type_vocab_size:
            raise ValueError("type_vocab_size is for encoder tasks only")
        widest = max(self.layer.heads) * self.head_dim
        if widest > 65536:
            raise ValueError(f"heads x head_dim = {widest} is unreasonably large")
        if self.layer.windows and AttentionType.sliding_window in self.layer.attention:
            if max(self.layer.windows) > self.seq_len:
                raise ValueError(
                    f"window {max(self.layer.windows)} exceeds the sequence length {self.seq_len}"
                )
        return self

    @property
    def seq_len(self) -> int:
        """Tokens the model sees: text length, or patches plus the class token for vision."""
        if self.task == "vision":
            return (self.image_size // self.patch_size) ** 2 + 1
        if self.task == "speech":  # frames of the longest clip
            return self.audio.frames(self.audio.max_samples)
        return self.max_seq_len

    @property
    def max_depth(self) -> int:
        return max(self.depth)

    @property
    def max_embed(self) -> int:
        return max(self.embed_dim)

    @property
    def causal(self) -> bool:
        return self.task == "causal_lm"


BUILTIN_DIR = Path(__file__).parent / "builtin"


def builtin_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))


def parse_spec(data: object, where: str) -> SpaceSpec:
    """Validate already-parsed YAML/JSON data; ``where`` names the source in the error."""
    if not isinstance(data, dict):
        raise SpecError(f"{where}: a space spec must be a mapping, got {type(data).__name__}")
    try:
        return SpaceSpec.model_validate(data)
    except ValidationError as e:
        raise SpecError(pydantic_message(e, where, SpaceSpec)) from None


def read_structured_file(path: Path) -> object:
    """Parse a YAML or JSON file (JSON is YAML) with a one-line error for syntax mistakes."""
    if path.is_dir():
        inside = sorted(p.name for p in path.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
        example = f"; for example {path / inside[0]}" if inside else " (it holds no .yaml or .json file)"
        raise NotFoundError(f"{path} is a directory: give one spec file inside it{example}")
    if not path.is_file():
        raise NotFoundError(f"{path}: no such file")
    text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as e:
        raise SpecError(f"{path}, line {e.lineno}, column {e.colno}: not valid JSON: {e.msg}") from None
    except yaml.YAMLError as e:
        raise SpecError(f"{path}: not valid YAML: {yaml_problem(e)}") from None


def yaml_problem(error: yaml.YAMLError) -> str:
    """Where and what, as 'line L, column C: problem' (PyYAML's own text spreads it over several lines)."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or " ".join(str(error).split())
    if mark is None:
        return problem
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"


def load_spec(name_or_path: str | Path) -> SpaceSpec:
    """A built-in space by name, or a spec file (YAML/JSON) by path."""
    text = str(name_or_path)
    if text in builtin_names():
        path = BUILTIN_DIR / f"{text}.yaml"
    else:
        path = Path(text)
        if not path.suffix:
            raise NotFoundError(
                f"unknown space '{text}'{did_you_mean(text, builtin_names())}; built-in spaces: "
                f"{', '.join(builtin_names())} (or a .yaml/.json spec file)"
            )
    return parse_spec(read_structured_file(path), str(path if path.parent != BUILTIN_DIR else text))
