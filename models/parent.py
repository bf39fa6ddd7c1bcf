"""The parent: the dense pretrained model a supernet came from, kept so fidelity can be measured against it.

``supernas from-pretrained`` writes the supernet's weights a second time as ``parent.safetensors``; they
are the parent (its largest subnet, heads and neurons reordered, which changes no output). Adapting the
supernet changes its weights but not that file, so fidelity is always measured against the model the
user brought. A supernet without the file (never adapted, or saved before the file existed) is its own
parent. The parent runs at full precision (32-bit weights and activations) whatever the space's
quantization choices are: it is the dense model, not a subnet of the space.
"""

from __future__ import annotations

from pathlib import Path

from safetensors.torch import load_file

from supernas.core.weightfiles import save_weights
from supernas.models.supernet import Supernet
from supernas.spaces.architecture import Architecture, largest
from supernas.spaces.spec import SpaceSpec

PARENT_WEIGHTS = "parent.safetensors"


def full_precision(spec: SpaceSpec) -> SpaceSpec:
    """The same space with only 32-bit weights and activations."""
    return spec.model_copy(
        update={"layer": spec.layer.model_copy(update={"weight_bits": [32], "act_bits": [32]})}
    )


def save_parent(supernet: Supernet, directory: str | Path) -> Path:
    """Keep ``supernet``'s current weights as the parent of every supernet later saved in ``directory``."""
    path = Path(directory) / PARENT_WEIGHTS
    save_weights({k: v.detach().contiguous() for k, v in supernet.state_dict().items()}, path)
    return path


def parent_supernet(supernet: Supernet) -> tuple[Supernet, Architecture]:
    """The parent of ``supernet`` as a full-precision supernet, and the architecture that is the parent."""
    cached = getattr(supernet, "_parent", None)
    if cached is not None:
        return cached
    spec = full_precision(supernet.spec)
    parent = Supernet(spec).eval()
    directory = getattr(supernet, "directory", None)
    stored = Path(directory) / PARENT_WEIGHTS if directory is not None else None
    parent.load_state_dict(
        load_file(stored) if stored is not None and stored.is_file() else supernet.state_dict()
    )
    supernet._parent = (parent, largest(spec))
    return supernet._parent
