"""ONNX export of extracted subnets, with integer weights kept as integers in the file.

torch's exporter traces a float twin of the subnet: every linear holds its weight dequantized and
transposed as ``{layer}.weight_t`` (in, out), MoE layers route statically (every expert sees every token,
unchosen ones with gate 0), and activation fake-quant is plain tensor ops. The file is then rewritten so
each such initializer becomes what the checkpoint stores:

- 8-bit: an INT8 initializer and a ``DequantizeLinear`` (per output channel, or blocked over input
  columns with the space's group size);
- 4-bit: the same with the INT4 type of opset 21 (two values per byte in the file);
- 16-bit: a FLOAT16 initializer and a ``Cast`` to float.

So the ``.onnx`` file's size follows the quantization policy, and the runtime computes with exactly the
weights supernas computes with. Inputs and outputs by task (batch and sequence axes dynamic):

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
from torch import nn

from supernas.core.errors import SpecError, allowed
from supernas.models import ops
from supernas.models.dense import QuantLinear
from supernas.models.model import FeedForward, Transformer
from supernas.models.quant import round_activation, unpack_int4
from supernas.spaces.spec import SpaceSpec

OPSET = 21  # INT4 tensors and blocked DequantizeLinear
_TRACE_OPSET = 20  # torch's TorchScript exporter stops at 20; see module_to_onnx
ONNX_FILE = "model.onnx"
_EXAMPLE_BATCH, _EXAMPLE_SEQ = 2, 5


class _FloatLinear(nn.Module):
    """A QuantLinear's computation with its weight as one fp32 (in, out) tensor the exporter names."""

    def __init__(self, linear: QuantLinear) -> None:
        super().__init__()
        self.weight_t = nn.Parameter(linear.dense_weight().detach().t().contiguous(), requires_grad=False)
        self.bias = linear.bias
        self.act_bits = linear.act_bits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = round_activation(x, self.act_bits) @ self.weight_t
        return y if self.bias is None else y + self.bias


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


def _float_twin(module: nn.Module) -> nn.Module:
    twin = copy.deepcopy(module).float().eval()
    if isinstance(twin, QuantLinear):
        return _FloatLinear(twin)
    for name, leaf in list(twin.named_modules()):
        if isinstance(leaf, QuantLinear):
            parent, _, attr = name.rpartition(".")
            setattr(twin.get_submodule(parent) if parent else twin, attr, _FloatLinear(leaf))
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


def module_to_onnx(
    module: nn.Module, inputs: dict[str, torch.Tensor], outputs: list[str], axes: dict[str, dict[int, str]]
):
    """Trace a module built from supernas leaves (a subnet, one attention or FFN part) to an ONNX
    ``ModelProto`` of opset 21 whose weights are stored as the module stores them.

    ``inputs`` are example inputs by name; ``axes`` names the dynamic axes of inputs and outputs.
    """
    import onnx

    original = module.model if isinstance(module, _Graph) else module
    twin = (
        type(module)(_float_twin(original))
        if isinstance(module, _Graph)
        else _Prefixed(_float_twin(original))
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
            opset_version=_TRACE_OPSET,
            dynamo=False,
        )
    proto = onnx.load_from_string(buffer.getvalue())
    # Opset 21 changed no operator this exporter emits except by adding the 4-bit types (Cast, Reshape,
    # Shape, Transpose, ...: each now also takes int4/uint4), so the opset-20 graph is an opset-21 graph
    # as it stands. (onnx's version converter gives the same graph but copies the whole model, weights
    # included, which took a third of the export time of GPT-2 124M.)
    (default,) = [entry for entry in proto.opset_import if entry.domain in ("", "ai.onnx")]
    default.version = OPSET
    _store_weights_as_checkpoint(proto, original)
    return proto


def _integer_tensor(name: str, values: np.ndarray, bits: int):
    """An INT8 tensor, or an INT4 one packed two per byte (low nibble first), as raw bytes."""
    from onnx import TensorProto, helper, numpy_helper

    if bits == 8:
        return numpy_helper.from_array(values.astype(np.int8), name)
    flat = values.astype(np.int8).ravel()
    flat = np.concatenate([flat, np.zeros(flat.size % 2, dtype=np.int8)])
    packed = (flat[0::2] & 0x0F) | ((flat[1::2] & 0x0F) << 4)
    return helper.make_tensor(
        name, TensorProto.INT4, values.shape, packed.astype(np.uint8).tobytes(), raw=True
    )


def _stored_weight(name: str, linear: QuantLinear) -> tuple[list, list]:
    """Initializers and nodes that produce ``name`` (fp32, (in, out)) from what ``linear`` stores."""
    from onnx import TensorProto, helper, numpy_helper

    if linear.weight_bits == 16:
        half = numpy_helper.from_array(linear.weight.detach().t().contiguous().numpy(), f"{name}_fp16")
        return [half], [helper.make_node("Cast", [half.name], [name], to=TensorProto.FLOAT)]
    values = linear.qweight if linear.weight_bits == 8 else unpack_int4(linear.qweight, linear.in_features)
    integers = _integer_tensor(f"{name}_q", values.t().contiguous().numpy(), linear.weight_bits)  # (in, out)
    if linear.group_size is None:  # one scale per output channel: axis 1 of the (in, out) weight
        scale = numpy_helper.from_array(linear.scale.detach()[:, 0].contiguous().numpy(), f"{name}_scale")
        attrs = {"axis": 1}
    else:  # one scale per group of input rows
        scale = numpy_helper.from_array(linear.scale.detach().t().contiguous().numpy(), f"{name}_scale")
        attrs = {"axis": 0, "block_size": linear.group_size}
    return [integers, scale], [
        helper.make_node("DequantizeLinear", [integers.name, scale.name], [name], **attrs)
    ]


def _store_weights_as_checkpoint(proto, model: nn.Module) -> None:
    """Replace each 4/8/16-bit layer's fp32 initializer by its stored integers (or halves) and a
    dequantize node."""
    initializers = {t.name: i for i, t in enumerate(proto.graph.initializer)}
    replaced, nodes = [], []
    for layer, linear in model.named_modules():
        if not isinstance(linear, QuantLinear) or linear.weight_bits == 32:
            continue
        name = ".".join(filter(None, ("model", layer, "weight_t")))
        if name not in initializers:
            raise RuntimeError(f"ONNX export: the traced graph has no initializer {name}")
        tensors, dequantize = _stored_weight(name, linear)
        replaced.append(initializers[name])
        proto.graph.initializer.extend(tensors)
        nodes += dequantize
    for index in sorted(replaced, reverse=True):
        del proto.graph.initializer[index]
    for node in reversed(nodes):  # dequantize first: nodes must be topologically sorted
        proto.graph.node.insert(0, node)


def to_onnx(model: Transformer) -> bytes:
    """The subnet as a serialized ONNX model (opset 21) with its integer weights and its metadata."""
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
    """An ONNX Runtime CPU session that computes in fp32, as the search scored the subnet.

    ONNX Runtime would otherwise fuse DequantizeLinear + MatMul into kernels that also quantize the
    activations to int8 (``accuracy_level`` 4), which changes the outputs by up to 50% on small models.
    """
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
    options.add_session_config_entry("session.qdq_matmulnbits_accuracy_level", "1")
    if threads is not None:
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.log_severity_level = 3
    source = str(model) if isinstance(model, Path) else model
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
