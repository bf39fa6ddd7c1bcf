"""``distill-blocks``: blockwise local distillation (:mod:`supernas.training.blockwise`) on Ray workers.

Each worker is an actor holding the parent and the data, training one block at a time; the driver
stores every finished block in the output supernet directory at once, so an interrupted run loses at most
the blocks in flight. ``resume`` keeps every stored block trained with the same settings and trains the
rest: since a block depends only on its settings, key and data, the result is the one an uninterrupted run
gives.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from supernas.core.errors import SpecError
from supernas.core.progress import make_progress
from supernas.core.weightfiles import weights_digest
from supernas.models.blocks import TrainedBlocks
from supernas.models.parent import PARENT_WEIGHTS, save_parent
from supernas.models.supernet import SUPERNET_CONFIG, SUPERNET_WEIGHTS, Supernet
from supernas.training.blockwise import BlockJob, BlockSettings, ParentActivations, block_jobs, train_block
from supernas.training.examples import distillation_data
from supernas.workers.cluster import connect


class BlockTrainer:
    """A worker: the parent and the data, loaded once; trains the blocks it is given."""

    def __init__(self, supernet_dir: str, data: str | None, threads: int = 1) -> None:
        torch.set_num_threads(threads)
        supernet = Supernet.load(supernet_dir)
        self.data = distillation_data(supernet.spec, data)
        self.activations = ParentActivations(supernet)

    def train(self, job: BlockJob, settings: BlockSettings) -> tuple[str, dict[str, torch.Tensor], dict]:
        tensors, record = train_block(self.activations, job, settings, self.data)
        return job.key, tensors, record


@dataclass(frozen=True)
class BlockRun:
    """What a ``distill-blocks`` call did."""

    trained: int
    reused: int
    blocks: TrainedBlocks


def parent_fingerprint(directory: Path) -> str:
    parent = directory / PARENT_WEIGHTS
    return weights_digest(parent if parent.is_file() else directory / SUPERNET_WEIGHTS)[:16]


def prepare_output(source: Path, output: Path, resume: bool) -> Supernet:
    """The source supernet, saved to ``output`` with its parent beside it (once); refuses to overwrite
    another run's blocks unless resuming."""
    if output.resolve() == source.resolve():
        raise SpecError(f"-o {output}: write the blocks to a new directory, not the source supernet")
    if (output / SUPERNET_CONFIG).is_file() and not resume:
        raise SpecError(
            f"-o {output} already holds a supernet: --resume continues it (and reuses its blocks), "
            "or choose another directory"
        )
    supernet = Supernet.load(source)
    supernet.use_blocks(None)  # blocks are trained against the parent, from its slices
    if not (output / SUPERNET_CONFIG).is_file():
        supernet.save(output)
        if (source / PARENT_WEIGHTS).is_file():
            shutil.copyfile(source / PARENT_WEIGHTS, output / PARENT_WEIGHTS)
        else:
            save_parent(supernet, output)
    return supernet


def distill_blocks(
    source: str | Path,
    output: str | Path,
    data: str | None = None,
    steps: int = 100,
    lr: float = 1e-3,
    batch_size: int = 16,
    seed: int = 0,
    heldout_batches: int = 4,
    workers: int = 1,
    address: str | None = None,
    resume: bool = False,
    progress: bool = True,
) -> BlockRun:
    """Train every block of ``source``'s space (Puzzle's BLD) and keep them in ``output``, a copy of the
    supernet that computes with them."""
    import ray

    source, output = Path(source), Path(output)
    supernet = prepare_output(source, output, resume)
    loaded = distillation_data(supernet.spec, data)  # a data mistake fails here, before Ray starts
    settings = BlockSettings(
        steps, lr, batch_size, seed, loaded.source, heldout_batches, parent_fingerprint(output)
    )
    blocks = TrainedBlocks.load(output) or TrainedBlocks()
    jobs = block_jobs(supernet.spec)
    kept = {
        job.key
        for job in jobs
        if blocks.records.get(job.key, {}).get("settings") == settings.record() and job.key in blocks.tensors
    }
    stale = set(blocks.tensors) - kept
    for key in stale:  # trained with other settings, or not a block of this space: trained again
        blocks.tensors.pop(key), blocks.records.pop(key, None)
    todo = [job for job in jobs if job.key not in kept]
    base = supernet.provenance.split(" (loaded from")[0].split("; blocks")[0]

    def save() -> None:
        supernet.provenance = (
            f"{base}; blocks: {len(blocks)} of {len(jobs)} trained by blockwise distillation "
            f"({steps} steps of {batch_size} on {loaded.source})"
        )
        supernet.use_blocks(blocks)
        supernet.save(output)

    if todo:
        connect(address, workers)
        actor = ray.remote(num_cpus=1)(BlockTrainer)
        pool = [actor.remote(str(output), data) for _ in range(min(workers, len(todo)))]
        bar = make_progress(
            total=len(jobs), initial=len(kept), enabled=progress, desc="distill-blocks", unit="block"
        )
        queue, running = list(todo), {}
        for trainer in pool:
            if queue:
                running[trainer.train.remote(queue.pop(0), settings)] = trainer
        while running:
            done, _ = ray.wait(list(running), num_returns=1)
            trainer = running.pop(done[0])
            key, tensors, record = ray.get(done[0])
            blocks.add(key, tensors, record)
            save()
            bar.update(1)
            bar.set_postfix(block=key, loss=f"{record['heldout_loss_trained']:.4f}")
            if queue:
                running[trainer.train.remote(queue.pop(0), settings)] = trainer
        bar.close()
    elif stale:
        save()
    return BlockRun(len(todo), len(kept), blocks)
