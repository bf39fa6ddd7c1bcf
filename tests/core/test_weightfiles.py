"""Weights files follow the user's umask, as config.json does (safetensors alone writes 0600)."""

from __future__ import annotations

import os
import stat

import pytest

from supernas.models.checkpoint import extract, save_subnet
from supernas.models.supernet import Supernet
from supernas.spaces.architecture import smallest
from supernas.spaces.spec import load_spec


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_checkpoint_and_supernet_files_get_the_umask_mode(tmp_path, mask):
    previous = os.umask(mask)
    try:
        spec = load_spec("gpt-tiny")
        net = Supernet(spec, seed=0)
        net.save(tmp_path / "net")
        save_subnet(extract(net, smallest(spec)), tmp_path / "subnet")
    finally:
        os.umask(previous)
    files = [f for d in ("net", "subnet") for f in (tmp_path / d).iterdir()]
    assert any(f.suffix == ".safetensors" for f in files) and any(f.suffix == ".json" for f in files)
    assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in files} == {f.name: 0o666 & ~mask for f in files}
