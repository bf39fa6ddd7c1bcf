"""ONNX export of extracted subnets, each linear layer as the ONNX Runtime kernel its scheme names.

torch's exporter traces a twin of the subnet in which every linear layer is one operator whose ONNX form
is the layer's quantization scheme (:class:`supernas.models.quant.Scheme`), with its weights stored as the
checkpoint stores them:

- 8-bit weights per row, 8-bit activations: ``DynamicQuantizeLinear`` + ``MatMulInteger`` + scale, the
  pattern ``onnxruntime.quantization.quantize_dynamic`` writes and ONNX Runtime fuses into its integer
  kernels;
- any other 4/8-bit weight: ``MatMulNBits`` (com.microsoft) with accuracy level 4 (int8 compute) under
  8-bit activations, 1 (fp32 compute) otherwise; a per-row weight is one block as wide as the row rounded
  up to a power of two;
- 16-bit weights: a FLOAT16 initializer and a ``Cast`` to float;
- 8-bit activations on a 16/32-bit weight: ``DynamicQuantizeLinear`` + ``DequantizeLinear``; 16-bit
  activations: a ``Cast`` to fp16 and back.

MoE layers route statically (every expert sees every token, unchosen ones with gate 0). So the ``.onnx``
file's size follows the quantization policy, and the runtime computes what supernas computes.

Inputs and outputs by task (batch and sequence axes dynamic):

- causal_lm: ``input_ids`` (B, T) int64 -> ``logits`` (B, T, vocab);
- encoder_classification: ``input_ids``, ``attention_mask`` (1 at real tokens), ``token_type_ids``
  -> ``logits`` (B, classes) and ``last_hidden_state`` (B, T, C);
- vision: ``pixel_values`` (B, C, H, W) -> ``logits`` (B, classes);
- speech: ``input_values`` (B, samples) float waveforms, as Hugging Face's HuBERT names them -> ``logits``
  (B, classes).
"""

from __future__ import annotations

import copy
import io
import json
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from supernas.core.errors import SpecError, allowed
from supernas.models import ops
from supernas.models.dense import QuantLinear
from supernas.models.model import FeedForward, Transformer
from supernas.models.quant import Scheme, pack_int4
from supernas.spaces.spec import SpaceSpec

OPSET = 20  # the newest torch's TorchScript exporter writes
ONNX_FILE = "model.onnx"
_EXAMPLE_BATCH, _EXAMPLE_SEQ = 2, 5


class _KernelLinear(torch.autograd.Function):
    """One linear layer, traced as its scheme's ONNX operators (see the module docstring).

    Its value in torch is never used: the traced graph carries the operators, and the runtime computes
    them. So ``forward`` returns zeros of the output's shape (a subnet's shapes depend on no value).
    """

    @staticmethod
    def forward(ctx, x, weight, scale, bias, in_features, out_features, weight_bits, act_bits, block):
        return x.new_zeros(*x.shape[:-1], out_features)

    @staticmethod
    def symbolic(g, x, weight, scale, bias, in_features, out_features, weight_bits, act_bits, block):
        from onnx import TensorProto

        scheme = Scheme(weight_bits, act_bits, block)
        if act_bits == 16:
            x = g.op("Cast", g.op("Cast", x, to_i=TensorProto.FLOAT16), to_i=TensorProto.FLOAT)
        if scheme.nbits:
            y = g.op(
                "com.microsoft::MatMulNBits",
                x,
                weight,
                scale,
                K_i=in_features,
                N_i=out_features,
                bits_i=weight_bits,
                block_size_i=_nbits_block(scheme, in_features),
                accuracy_level_i=4 if scheme.integer else 1,
            )
        elif scheme.integer:
            codes, x_scale, x_zero = g.op("DynamicQuantizeLinear", x, outputs=3)
            accumulator = g.op("Cast", g.op("MatMulInteger", codes, weight, x_zero), to_i=TensorProto.FLOAT)
            y = g.op("Mul", accumulator, g.op("Mul", x_scale, scale))
        else:
            if act_bits == 8:
                x = g.op("DequantizeLinear", *g.op("DynamicQuantizeLinear", x, outputs=3))
            if weight_bits == 16:
                weight = g.op("Cast", weight, to_i=TensorProto.FLOAT)
            y = g.op("MatMul", x, weight)
        return y if bias is None else g.op("Add", y, bias)


class _ExportLinear(nn.Module):
    """A QuantLinear's weights in the layout its ONNX operators take, and the operator that uses them."""

    def __init__(self, linear: QuantLinear) -> None:
        super().__init__()
        self.bias = linear.bias
        self.scheme = linear.scheme
        self.shape = (linear.in_features, linear.out_features)
        weight, scale = _operator_weights(linear)
        self.register_buffer("weight", weight)
        self.register_buffer("scale", scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.scheme
        return _KernelLinear.apply(
            x, self.weight, self.scale, self.bias, *self.shape, s.weight_bits, s.act_bits, s.block
        )


def _nbits_block(scheme: Scheme, in_features: int) -> int:
    """``MatMulNBits``'s block: the scheme's, or one power of two (at least 16) as wide as a row."""
    return scheme.block or max(16, 1 << (in_features - 1).bit_length())


def _operator_weights(linear: QuantLinear) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The weight (and scales) of ``linear`` as its scheme's ONNX operator takes them."""
    s = linear.scheme
    if not s.nbits:  # MatMul and MatMulInteger take (in, out), with one scale per column
        weight = linear.qweight if s.weight_bits == 8 else linear.weight.detach()
        return weight.t().contiguous(), (linear.scale[:, 0].contiguous() if s.weight_bits == 8 else None)
    # MatMulNBits: unsigned codes (offset 2^(bits-1), its default zero point), each row padded to whole
    # blocks, shaped (out, blocks, bytes per block); 4-bit codes two per byte, low nibble first
    q, block = linear.quantized_weight(), _nbits_block(s, linear.in_features)
    values = F.pad(q.values, (0, -linear.in_features % block))
    codes = pack_int4(values) if s.weight_bits == 4 else (values.to(torch.int16) + 128).to(torch.uint8)
    bytes_per_block = block * s.weight_bits // 8
    return codes.view(linear.out_features, -1, bytes_per_block), q.scale.reshape(-1).contiguous()


class _Graph(nn.Module):
    """The subnet with named inputs and outputs for its task; its weights are named ``model.{layer}...``."""

    def __init__(self, model: Transformer) -> None:
        super().__init__()
        self.model = model
        self.task = model.spec.task

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        if self.task != "encoder_classification":
            return self.model(inputs[0])
        ids, mask, types = inputs
        padding = mask > 0
        h = self.model.encode(ids, padding, types)
        return self.model.classifier(ops.mean_pool(h, padding)), h


def io_names(spec: SpaceSpec) -> tuple[list[str], list[str]]:
    if spec.task == "causal_lm":
        return ["input_ids"], ["logits"]
    if spec.task == "vision":
        return ["pixel_values"], ["logits"]
    if spec.task == "speech":
        return ["input_values"], ["logits"]
    return ["input_ids", "attention_mask", "token_type_ids"], ["logits", "last_hidden_state"]


def example_inputs(
    spec: SpaceSpec, batch: int = _EXAMPLE_BATCH, seq: int = _EXAMPLE_SEQ, seed: int = 0
) -> dict[str, np.ndarray]:
    """Inputs of the exported graph's signature, as numpy arrays (what a runtime is fed)."""
    rng = np.random.default_rng(seed)
    if spec.task == "vision":
        return {
            "pixel_values": rng.standard_normal(
                (batch, spec.in_channels, spec.image_size, spec.image_size)
            ).astype(np.float32)
        }
    if spec.task == "speech":
        return {
            "input_values": (0.1 * rng.standard_normal((batch, spec.audio.max_samples))).astype(np.float32)
        }
    seq = min(seq, spec.seq_len)
    ids = rng.integers(0, spec.vocab_size, (batch, seq), dtype=np.int64)
    if spec.task == "causal_lm":
        return {"input_ids": ids}
    mask = np.ones((batch, seq), dtype=np.int64)
    mask[0, max(1, seq - 2) :] = 0  # one padded row, so the mask's path is exercised
    types = rng.integers(0, max(spec.type_vocab_size, 1), (batch, seq), dtype=np.int64)
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def torch_outputs(model: Transformer, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The subnet's own outputs for the exported graph's inputs, in its output order."""
    with torch.no_grad():
        out = _Graph(model)(*(torch.from_numpy(v) for v in inputs.values()))
    return [t.numpy() for t in (out if isinstance(out, tuple) else (out,))]


def _export_twin(module: nn.Module) -> nn.Module:
    """A copy of ``module`` whose linear layers trace as their schemes' ONNX operators and whose MoE
    layers route statically."""
    twin = copy.deepcopy(module).eval()
    if isinstance(twin, QuantLinear):
        return _ExportLinear(twin)
    for name, leaf in list(twin.named_modules()):
        if isinstance(leaf, QuantLinear):
            parent, _, attr = name.rpartition(".")
            setattr(twin.get_submodule(parent) if parent else twin, attr, _ExportLinear(leaf))
        elif isinstance(leaf, FeedForward):
            leaf.static_routing = True
    return twin


class _Prefixed(nn.Module):
    """Any module under the name ``model``, as ``_Graph`` holds a subnet."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.model(*inputs)


def _uses_nbits(module: nn.Module) -> bool:
    return any(isinstance(m, QuantLinear) and m.scheme.nbits for m in module.modules())


def module_to_onnx(
    module: nn.Module, inputs: dict[str, torch.Tensor], outputs: list[str], axes: dict[str, dict[int, str]]
):
    """Trace a module built from supernas leaves (a subnet, one attention or FFN part) to an ONNX
    ``ModelProto`` whose weights are stored as the module stores them.

    ``inputs`` are example inputs by name; ``axes`` names the dynamic axes of inputs and outputs.
    """
    import onnx

    original = module.model if isinstance(module, _Graph) else module
    twin = (
        type(module)(_export_twin(original))
        if isinstance(module, _Graph)
        else _Prefixed(_export_twin(original))
    )
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's notes on tracing, which this graph does not need
        torch.onnx.export(
            twin,
            tuple(inputs.values()),
            buffer,
            input_names=list(inputs),
            output_names=outputs,
            dynamic_axes=axes,
            opset_version=OPSET,
            do_constant_folding=False,  # folding would store 16-bit weights' Cast to float as fp32 weights
            custom_opsets={"com.microsoft": 1} if _uses_nbits(original) else None,
            dynamo=False,
        )
    return onnx.load_from_string(buffer.getvalue())


def to_onnx(model: Transformer) -> bytes:
    """The subnet as a serialized ONNX model with its integer weights and its metadata."""
    import onnx

    spec, arch = model.spec, model.arch
    names, outputs = io_names(spec)
    inputs = {name: torch.from_numpy(v) for name, v in example_inputs(spec).items()}
    tokens = {0: "batch", 1: "sequence"}
    axes = {
        name: (
            {0: "batch"}
            if name == "pixel_values"
            else {0: "batch", 1: "samples"}
            if name == "input_values"
            else tokens
        )
        for name in names
    }
    axes |= {
        name: ({0: "batch"} if name == "logits" and spec.task != "causal_lm" else tokens) for name in outputs
    }
    proto = module_to_onnx(_Graph(model), inputs, outputs, axes)
    onnx.helper.set_model_props(
        proto,
        {
            "format": "supernas-subnet-onnx",
            "space": spec.name,
            "arch_id": arch.arch_id,
            "architecture": arch.to_json(),
            "space_spec": json.dumps(spec.model_dump(mode="json")),
            "weights": str(getattr(model, "provenance", "unknown")),
        },
    )
    proto.producer_name = "supernas"
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def runtime_session(model: bytes | str | Path, threads: int | None = None, optimization: str = "all"):
    """An ONNX Runtime CPU session for an exported subnet (or part), optimized at level ``optimization``."""
    import onnxruntime as ort

    levels = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }
    if optimization not in levels:
        raise SpecError(f"unknown ONNX Runtime graph optimization '{optimization}' ({allowed(levels)})")
    options = ort.SessionOptions()
    options.graph_optimization_level = levels[optimization]
    if threads is not None:
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.log_severity_level = 3
    source = str(model) if isinstance(model, Path) else model
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


class RuntimeModel(nn.Module):
    """An exported subnet file run in ONNX Runtime, called as a :class:`Transformer` is: ``forward`` gives
    the logits and ``encode`` the last hidden states, as torch tensors. So a metric written for the torch
    model measures the file a user deploys."""

    def __init__(self, path: str | Path, spec: SpaceSpec, arch, threads: int | None = None) -> None:
        super().__init__()
        self.session = runtime_session(Path(path), threads)
        self.spec, self.arch = spec, arch
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.outputs = [o.name for o in self.session.get_outputs()]

    def _run(
        self, inputs: torch.Tensor, padding: torch.Tensor | None, token_types: torch.Tensor | None
    ) -> dict[str, torch.Tensor]:
        feeds = {self.inputs[0]: inputs.numpy()}
        if self.spec.task == "encoder_classification":
            ids = feeds["input_ids"]
            feeds["attention_mask"] = (
                np.ones_like(ids) if padding is None else padding.numpy().astype(np.int64)
            )
            feeds["token_type_ids"] = np.zeros_like(ids) if token_types is None else token_types.numpy()
        results = self.session.run(None, feeds)
        return {name: torch.from_numpy(value) for name, value in zip(self.outputs, results)}

    def forward(
        self,
        inputs: torch.Tensor,
        padding: torch.Tensor | None = None,
        token_types: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return self._run(inputs, padding, token_types)["logits"]

    def encode(
        self,
        inputs: torch.Tensor,
        padding: torch.Tensor | None = None,
        token_types: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if "last_hidden_state" not in self.outputs:
            raise SpecError(f"an exported {self.spec.task} subnet has no last_hidden_state output")
        return self._run(inputs, padding, token_types)["last_hidden_state"]
