"""`distill-blocks` on Ray workers: every block trained once, stored with the supernet, reused on
resume, and a resumed run equal to an uninterrupted one."""

from __future__ import annotations

import json

import pytest
import torch

from supernas.core.errors import SpecError
from supernas.models.blocks import BLOCKS_INDEX, TrainedBlocks
from supernas.models.supernet import Supernet
from supernas.search.puzzle.library import supernet_identity
from supernas.training.blockwise import block_jobs
from supernas.workers.blockwise import distill_blocks
from supernas.workers.cluster import disconnect
from tests.training.test_blockwise import small_space


def test_distill_blocks_trains_every_block_and_resumes_exactly(tmp_path):
    source = Supernet(small_space(), seed=2).save(tmp_path / "source")
    try:
        run = distill_blocks(source, tmp_path / "lib", steps=4, batch_size=4, workers=2, progress=False)
        jobs = block_jobs(small_space())
        assert (
            run.trained == len(jobs) and run.reused == 0 and set(run.blocks.tensors) == {j.key for j in jobs}
        )
        with pytest.raises(SpecError, match="--resume"):
            distill_blocks(source, tmp_path / "lib", steps=4, batch_size=4, progress=False)
        again = distill_blocks(source, tmp_path / "lib", steps=4, batch_size=4, resume=True, progress=False)
        assert again.trained == 0 and again.reused == len(jobs)

        # an interrupted run: two blocks missing from the library; resuming trains exactly those
        partial = TrainedBlocks.load(tmp_path / "lib")
        for key in sorted(partial.tensors)[:2]:
            partial.tensors.pop(key), partial.records.pop(key)
        partial.save(tmp_path / "lib")
        resumed = distill_blocks(source, tmp_path / "lib", steps=4, batch_size=4, resume=True, progress=False)
        assert resumed.trained == 2
        final = TrainedBlocks.load(tmp_path / "lib")
        for key, tensors in run.blocks.tensors.items():
            assert all(torch.equal(tensors[n], final.tensors[key][n]) for n in tensors), key
        changed = distill_blocks(source, tmp_path / "lib", steps=5, batch_size=4, resume=True, progress=False)
        assert changed.trained == len(jobs)  # other settings: no stored block matches
    finally:
        disconnect()
    index = json.loads((tmp_path / "lib" / BLOCKS_INDEX).read_text())
    assert all(r["settings"]["steps"] == 5 for r in index["blocks"].values())
    # the block library of `blocks`/`mip` is keyed by the trained blocks too, never reused from the source
    assert supernet_identity(str(tmp_path / "lib"), 0) != supernet_identity(str(source), 0)
    assert len(Supernet.load(tmp_path / "lib").trained_blocks) == len(jobs)
