"""Search spaces, architectures, the weight-sharing supernet and subnet extraction."""

from .architecture import Architecture, LayerArch, check, crossover, largest, mutate, n_subnets, parse_architecture, sample, sample_many, smallest
from .checkpoint import extract, load_subnet, save_subnet
from .errors import ArchitectureError, NotFoundError, SpecError, SupernasError
from .model import Transformer
from .spec import AttentionType, SpaceSpec, builtin_names, load_spec
from .subnet import parameter_count
from .supernet import Supernet


def get_space(name_or_path: str) -> SpaceSpec:
    """A built-in space by name, or a spec file by path."""
    return load_spec(name_or_path)


__all__ = [
    "Architecture", "ArchitectureError", "AttentionType", "LayerArch", "NotFoundError", "SpaceSpec", "SpecError",
    "Supernet", "SupernasError", "Transformer", "builtin_names", "check", "crossover", "extract", "get_space",
    "largest", "load_spec", "load_subnet", "mutate", "n_subnets", "parameter_count", "parse_architecture",
    "sample", "sample_many", "save_subnet", "smallest",
]
