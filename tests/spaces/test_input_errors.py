"""The Python API's common mistakes get one clear line, not a torch error from inside an embedding."""

from __future__ import annotations

import pytest
import torch

from supernas.core.errors import ArchitectureError, InputError
from supernas.models.supernet import Supernet
from supernas.spaces.architecture import sample_many
from supernas.spaces.spec import load_spec


@pytest.fixture(scope="module")
def gpt_tiny():
    spec = load_spec("gpt-tiny")
    return spec, Supernet(spec, seed=0), sample_many(spec, 1, seed=0)[0]


@pytest.mark.parametrize(
    "inputs, message",
    [
        (
            torch.zeros(5, dtype=torch.long),
            r"2-D \(batch, sequence\) tensor, got shape \(5,\) \(add a batch dimension",
        ),
        (torch.zeros(1, 4), "token ids must be integers, got torch.float32"),
        (torch.full((1, 4), 256), r"token id 256 is outside the vocabulary of space 'gpt-tiny' \(0 to 255\)"),
        (torch.full((1, 4), -1), r"token id -1 is outside the vocabulary"),
        (
            torch.zeros(1, 129, dtype=torch.long),
            r"sequence of 129 tokens is longer than space 'gpt-tiny' allows \(128\)",
        ),
    ],
)
def test_bad_token_tensors(gpt_tiny, inputs, message):
    _, net, arch = gpt_tiny
    with net.active(arch), pytest.raises(InputError, match=message):
        net(inputs)


def test_an_architecture_as_a_dict(gpt_tiny):
    _, net, arch = gpt_tiny
    with pytest.raises(ArchitectureError, match="expected an Architecture, got dict"):
        net.activate(arch.model_dump())


def test_good_inputs_still_run(gpt_tiny):
    spec, net, arch = gpt_tiny
    with net.active(arch):
        assert net(torch.randint(0, 256, (2, spec.max_seq_len))).shape == (2, spec.max_seq_len, 256)
