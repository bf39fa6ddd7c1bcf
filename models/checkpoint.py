"""Subnet extraction and subnet checkpoints (``config.json`` + ``model.safetensors``).

``extract`` copies the active weights of a supernet into a dense ``Transformer`` of the subnet's size.
The checkpoint's config carries the whole space spec, so ``load_subnet`` needs neither the supernet nor
a built-in space of the same name. ``CheckpointAsSupernet`` presents a loaded checkpoint where code
expects a supernet, so metrics can re-measure a subnet on the weights a user actually loads.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

from supernas.core.errors import ArchitectureError, NotFoundError, SpecError
from supernas.core.weightfiles import save_weights
from supernas.data.types import HeldoutData
from supernas.models.dense import DenseLeaves, QuantLinear, check_backend, parameter_count
from supernas.models.model import Transformer
from supernas.models.quant import Scheme
from supernas.models.supernet import Supernet, active_slices
from supernas.spaces.analytic import weight_block
from supernas.spaces.architecture import Architecture, check
from supernas.spaces.spec import SpaceSpec, parse_spec, read_structured_file

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
FORMAT = "supernas-subnet"


@torch.no_grad()
def extract(supernet: Supernet, arch: Architecture, backend: str = "torch") -> Transformer:
    """A standalone dense model holding exactly the weights ``arch`` uses in ``supernet``.

    ``backend`` is how its integer layers compute (see :mod:`supernas.models.dense`).
    """
    model = Transformer(supernet.spec, check(supernet.spec, arch), DenseLeaves(backend))
    with supernet.active(arch):
        parameters = dict(supernet.named_parameters())
        active = {name: parameters[name][index] for name, index in active_slices(supernet)}
        for name, dense in model.named_modules():
            _fill(dense, f"{name}." if name else "", active)
    model.arch = arch
    model.provenance = supernet.provenance
    return model.eval()


def _fill(dense: nn.Module, prefix: str, active: dict[str, torch.Tensor]) -> None:
    """Copy one dense module's own weights from the supernet's active slices of the same names."""
    if isinstance(dense, QuantLinear):  # stored as its quantization policy says
        dense.load_dense(active[prefix + "weight"], active.get(prefix + "bias"))
        return
    for name, parameter in dense.named_parameters(recurse=False):
        parameter.copy_(active[prefix + name])


def quantization_summary(spec: SpaceSpec, arch: Architecture) -> list[dict]:
    """Per layer: weight storage, scale group size, activation quantization and the ONNX Runtime
    kernel that runs it, as written into config.json."""
    rows = []
    for i, layer in enumerate(arch.layers):
        block = weight_block(layer.weight_bits, spec.weight_group_size)
        scales = "fp32 row scales" if block is None else f"fp32 scales per {block} columns"
        storage = {32: "float32", 16: "float16", 8: f"int8 + {scales}", 4: f"int4 packed 2/byte + {scales}"}
        rows.append(
            {
                "layer": i,
                "weight_bits": layer.weight_bits,
                "act_bits": layer.act_bits,
                "weight_group_size": block,
                "weight_storage": storage[layer.weight_bits],
                "kernel": Scheme(layer.weight_bits, layer.act_bits, block).kernel,
            }
        )
    return rows


def save_subnet(model: Transformer, directory: str | Path, distilled: dict | None = None) -> Path:
    """Write ``config.json`` and ``model.safetensors``; returns the directory. ``distilled`` records how
    a checkpoint was distilled from its parent (``supernas distill``)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    arch: Architecture = model.arch
    config = {
        "format": FORMAT,
        "supernas_version": version("supernas"),
        "space": model.spec.model_dump(mode="json"),
        "architecture": arch.model_dump(mode="json"),
        "arch_id": arch.arch_id,
        "parameters": parameter_count(model),
        "dtype": "float32",
        "quantization": quantization_summary(model.spec, arch),
        "weights": getattr(model, "provenance", "unknown"),
    }
    if distilled is not None:
        config["distilled"] = distilled
    save_weights({k: v.contiguous() for k, v in model.state_dict().items()}, directory / WEIGHTS)
    (directory / CONFIG).write_text(json.dumps(config, indent=2))
    return directory


def read_subnet_config(directory: str | Path) -> tuple[SpaceSpec, Architecture, dict]:
    directory = Path(directory)
    path = directory / CONFIG
    if not path.is_file():
        raise NotFoundError(f"{directory}: not a subnet checkpoint (no {CONFIG})")
    config = read_structured_file(path)
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise SpecError(f"{path}: not a supernas subnet config (expected field 'format' = '{FORMAT}')")
    spec = parse_spec(config.get("space"), f"{path}: space")
    arch = check(spec, Architecture.from_data(config.get("architecture"), f"{path}: architecture"))
    return spec, arch, config


def load_subnet(directory: str | Path, backend: str = "torch") -> Transformer:
    """Rebuild a subnet from its checkpoint directory, without the supernet.

    ``backend="triton"`` runs its integer layers with the fused dequantize-matmul kernels.
    """
    check_backend(backend)
    directory = Path(directory)
    spec, arch, config = read_subnet_config(directory)
    weights = directory / WEIGHTS
    if not weights.is_file():
        raise NotFoundError(f"{directory}: checkpoint has no {WEIGHTS}")
    model = Transformer(spec, arch, DenseLeaves(backend))
    model.load_state_dict(load_file(weights))
    model.arch = arch
    model.provenance = config.get("weights", "unknown")
    return model.eval()


def tensor_bytes_on_disk(path: str | Path) -> int:
    """Bytes of tensor data in a ``.safetensors`` file: its size less the 8-byte length and the JSON
    header."""
    path = Path(path)
    with path.open("rb") as handle:
        (header,) = struct.unpack("<Q", handle.read(8))
    return path.stat().st_size - 8 - header


class CheckpointAsSupernet(nn.Module):
    """A loaded subnet checkpoint standing where a :class:`Supernet` with that one architecture active is
    expected.

    Code written against the supernet (``with supernet.active(arch):`` then ``supernet(inputs, padding)``,
    ``encode``, ``blocks``, ``spec``, parameters) runs unchanged on the checkpoint's own weights, which is
    how a metric re-measures a subnet on what a user loads rather than on the supernet. ``active(arch)``
    checks that ``arch`` is the checkpoint's architecture and changes nothing; any other architecture is an
    error, since the checkpoint holds no other weights.

    What a supernet keeps *beside* its weights is not in a subnet checkpoint: the held-out text or task
    data one-shot metrics score, the directory it was loaded from, and its parent (the dense model
    fidelity metrics compare with). ``beside`` is the supernet the checkpoint was extracted from, read for
    those only, never for computing the subnet's outputs.
    """

    BESIDE = ("directory", "trained_on")

    def __init__(self, model: Transformer, beside: Supernet | None = None) -> None:
        super().__init__()
        self.model = model
        self.spec: SpaceSpec = model.spec
        self.arch: Architecture = model.arch
        self.provenance = getattr(model, "provenance", "unknown")
        for name in self.BESIDE:
            setattr(self, name, getattr(beside, name, None))
        self.heldout = beside.heldout if beside is not None else HeldoutData()
        self.__dict__["_beside"] = beside  # not a submodule: its parameters are not the checkpoint's
        self.eval()

    @property
    def _parent(self) -> tuple[Supernet, Architecture] | None:
        """The parent of the supernet the checkpoint came from (:func:`supernas.models.parent.parent_supernet`
        reads this), never one made from the checkpoint's own weights."""
        from supernas.models.parent import parent_supernet

        beside = self.__dict__["_beside"]
        return None if beside is None else parent_supernet(beside)

    def activate(self, arch: Architecture) -> None:
        if arch.arch_id != self.arch.arch_id:
            raise ArchitectureError(
                f"this checkpoint holds architecture {self.arch.arch_id} only; cannot activate {arch.arch_id}"
            )

    @contextmanager
    def active(self, arch: Architecture) -> Iterator[CheckpointAsSupernet]:
        self.activate(arch)
        yield self

    def forward(self, *args, **kwargs) -> torch.Tensor:
        return self.model(*args, **kwargs)

    def encode(self, *args, **kwargs) -> torch.Tensor:
        return self.model.encode(*args, **kwargs)

    def __getattr__(self, name: str):
        """Modules and attributes of the loaded model (``blocks``, ``depth``, ``wte``...) as the supernet's
        own."""
        try:
            return super().__getattr__(name)
        except AttributeError:
            model = self.__dict__.get("_modules", {}).get("model")
            if model is None:
                raise
            return getattr(model, name)
