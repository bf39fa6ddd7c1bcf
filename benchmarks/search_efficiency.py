"""Search efficiency on objectives no strategy can compute from the encoding.

Task: gpt-tiny, minimize one-shot ``val_loss`` (held-out cross-entropy of each subnet through a supernet
trained here on the stdlib text) and ``latency_predicted_ms`` (the lookup-table predictor calibrated here,
on one thread with the CPU clock). ``val_loss`` depends on trained weights, so a strategy learns it only
from evaluations; latency is a function of the architecture for every strategy alike (``mip`` models it
exactly, as a sum of the table's parts; ``predictor``'s surrogate learns it from MACs, bytes and counts).

Strategies run through the same ask/tell interface the controller drives; evaluation is in-process with
the real metrics (the same values a Ray worker computes, cached by architecture since they are
deterministic). ``mip`` first builds its block library: one subnet scored per (layer, block option), on
``--library-batches`` of the ``--batches`` held-out batches an evaluation scores, so each library entry
costs that fraction of an evaluation and the library's cost is counted in evaluations before mip's first
proposal. The hypervolume reference point is fixed from a separate random sample (worst values + 10 %).

Prints, per strategy, hypervolume after 50, 100, 200 and 500 evaluations (mean and standard deviation
over seeds, as a ratio to random search's mean at 500) and the evaluations needed to reach random
search's hypervolume at 500 of the same seed.

    python benchmarks/search_efficiency.py [--evals 500] [--seeds 5] [--steps 300] [--out benchmarks/results]
        [--strategies random,nsga2]   # only these; each run's curve is kept, so runs can be split
                                      # over processes
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

OBJECTIVES = [("val_loss", "minimize"), ("latency_predicted_ms", "minimize")]
CHECKPOINTS = (50, 100, 200, 500)
WORKLOAD = {"batch_size": 1, "seq_len": 64, "threads": 1, "clock": "cpu"}


def strategies():
    from supernas.search.strategies.base import StrategySpec

    return {
        "random": StrategySpec(name="random"),
        "nsga2": StrategySpec(name="nsga2", population=24),
        "motpe": StrategySpec(name="motpe", initial=24),
        "predictor": StrategySpec(name="predictor", initial=24, population=24, generations=30),
        "mip": StrategySpec(name="mip", population=16, solutions=2),
    }


def trained_supernet(directory: Path, steps: int):
    """gpt-tiny trained ``steps`` steps on the stdlib text (kept in ``directory`` and reused)."""
    from supernas.data.text import stdlib_text
    from supernas.models.supernet import Supernet
    from supernas.spaces.spec import load_spec
    from supernas.training.sandwich import train_supernet

    if not (directory / "supernet.json").is_file():
        supernet = Supernet(load_spec("gpt-tiny"), seed=0)
        train_supernet(
            supernet,
            stdlib_text(),
            steps=steps,
            batch_size=16,
            seq_len=64,
            checkpoint_dir=directory,
            progress=True,
        )
    return Supernet.load(directory)


class Evaluator:
    """The job's metrics in-process, cached by architecture (both are deterministic)."""

    def __init__(self, supernet, batches: int) -> None:
        from supernas.predictors.base import MetricContext
        from supernas.predictors.catalogue import get_metric

        self.context = MetricContext(supernet.spec, supernet_factory=lambda: supernet)
        self.metrics = {
            "val_loss": get_metric("val_loss", batches=batches, batch_size=8, seq_len=64),
            "latency_predicted_ms": get_metric("latency_predicted_ms", kind="lut", **WORKLOAD),
        }
        self.cache: dict[str, dict[str, float]] = {}

    def __call__(self, arch) -> dict[str, float]:
        if arch.arch_id not in self.cache:
            self.cache[arch.arch_id] = {
                name: m.evaluate(arch, self.context) for name, m in self.metrics.items()
            }
        return self.cache[arch.arch_id]


def run(
    spec, settings, evaluate, evals: int, seed: int, reference: np.ndarray, library=None, offset: int = 0
) -> np.ndarray:
    """Hypervolume after each evaluation (the first ``offset`` are the library's cost: nothing
    evaluated yet)."""
    from supernas.search.pareto import hypervolume, minimization_vector, non_dominated
    from supernas.search.strategies import make_strategy

    strategy = make_strategy(spec, OBJECTIVES, settings, seed, [], library)
    seen: set[str] = set()
    points: list[list[float]] = []
    curve = [0.0] * min(offset, evals)
    while len(curve) < evals:
        for arch in strategy.ask(1):
            values = evaluate(arch)
            strategy.tell(arch, values, 0.0)
            if arch.arch_id in seen:  # duplicates are answered from the store: no evaluation spent
                continue
            seen.add(arch.arch_id)
            points.append(minimization_vector(values, OBJECTIVES))
            front = np.asarray(points)[non_dominated(np.asarray(points))]
            curve.append(hypervolume(front, reference))
    return np.asarray(curve[:evals])


def evaluations_to_reach(curve: np.ndarray, target: float) -> int | None:
    reached = np.nonzero(curve >= target)[0]
    return int(reached[0]) + 1 if reached.size else None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--evals", type=int, default=500)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--steps", type=int, default=300, help="supernet training steps (batch 16 x 64 bytes)"
    )
    parser.add_argument(
        "--batches", type=int, default=4, help="held-out batches (8 x 64 bytes) val_loss scores"
    )
    parser.add_argument(
        "--library-batches", type=int, default=1, help="held-out batches each library entry scores"
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument(
        "--strategies",
        default=",".join(strategies()),
        help="comma-separated; the others' kept curves are read",
    )
    args = parser.parse_args()
    cache = (args.out / "search_efficiency").resolve()
    os.environ["SUPERNAS_HOME"] = str(
        cache / "home"
    )  # the calibrated predictor stays with the benchmark's files

    import torch

    from supernas.core.errors import NotFoundError
    from supernas.predictors.latency.calibration import calibrate, load_predictor
    from supernas.predictors.latency.metrics import workload_option
    from supernas.search.pareto import minimization_vector
    from supernas.search.puzzle.blocks import build_block_library
    from supernas.search.puzzle.library import heldout_for
    from supernas.spaces.architecture import sample_many

    torch.set_num_threads(1)
    supernet = trained_supernet(cache / f"gpt-tiny-{args.steps}-steps", args.steps)
    spec = supernet.spec
    evaluate = Evaluator(supernet, args.batches)
    workload = workload_option(evaluate.metrics["latency_predicted_ms"])
    try:
        lut = load_predictor(spec, workload, "lut")
    except NotFoundError:  # first run: calibrate on this machine (parts and 40 subnets, one round)
        calibrate(spec, 40, threads=1, clock="cpu", warmup=1, repeats=5, rounds=2)
        lut = load_predictor(spec, workload, "lut")

    runs_dir = (
        cache
        / f"runs-{args.steps}-steps-{args.batches}-batches-{args.library_batches}-library-{args.evals}-evals"
    )
    runs_dir.mkdir(parents=True, exist_ok=True)
    chosen = args.strategies.split(",")
    library, library_cost, library_seconds = None, 0, 0.0
    if "mip" in chosen:
        start = time.perf_counter()
        library = build_block_library(
            supernet, heldout_for(spec, supernet, None, args.batches)[: args.library_batches], lut
        )
        library_seconds = time.perf_counter() - start
        library_cost = int(np.ceil(library.evaluations * args.library_batches / args.batches))
        (runs_dir / "library.json").write_text(
            json.dumps({"evaluations": library.evaluations, "cost": library_cost, "seconds": library_seconds})
        )

    sample = np.array(
        [minimization_vector(evaluate(a), OBJECTIVES) for a in sample_many(spec, 200, seed=10_000)]
    )
    worst, span = sample.max(axis=0), sample.max(axis=0) - sample.min(axis=0)
    reference = worst + 0.1 * span

    for name, settings in strategies().items():
        if name not in chosen:
            continue
        for seed in range(args.seeds):
            path = runs_dir / f"{name}-seed{seed}.json"
            if path.is_file():
                continue
            begin = time.perf_counter()
            extra = {"library": library, "offset": library_cost} if name == "mip" else {}
            curve = run(spec, settings, evaluate, args.evals, seed, reference, **extra)
            seconds = time.perf_counter() - begin + (library_seconds if name == "mip" else 0.0)
            path.write_text(json.dumps({"curve": curve.tolist(), "seconds": seconds}))

    curves: dict[str, dict[int, np.ndarray]] = {}  # strategy -> seed -> hypervolume after each evaluation
    seconds: dict[str, float] = {}
    for name in strategies():  # every kept run of seeds 0..seeds-1 (a run cut short by a deadline is missing)
        data = {
            seed: json.loads(p.read_text())
            for seed in range(args.seeds)
            if (p := runs_dir / f"{name}-seed{seed}.json").is_file()
        }
        if data:
            curves[name] = {seed: np.asarray(d["curve"]) for seed, d in data.items()}
            seconds[name] = sum(d["seconds"] for d in data.values()) / len(data)
    if "random" not in curves:
        print(f"curves kept in {runs_dir}; the summary needs random search's too")
        return
    if "mip" in curves:
        kept_library = json.loads((runs_dir / "library.json").read_text())
        library_evaluations, library_cost, library_seconds = (
            kept_library["evaluations"],
            kept_library["cost"],
            kept_library["seconds"],
        )

    scale = float(np.mean([c[-1] for c in curves["random"].values()]))
    marks = [m for m in CHECKPOINTS if m <= args.evals]
    print(
        f"gpt-tiny trained {args.steps} steps; "
        f"minimize val_loss ({args.batches} held-out batches of 8 x 64 bytes) and "
        "latency_predicted_ms (lookup table, batch 1 x 64, 1 thread, CPU clock); "
        f"seeds 0..{args.seeds - 1}"
    )
    if "mip" in curves:
        print(
            f"mip's block library: {library_evaluations} subnets on "
            f"{args.library_batches}/{args.batches} of the held-out "
            f"batches = {library_cost} evaluations, "
            f"counted before its first proposal ({library_seconds:.0f} s)"
        )
    print(
        f"hypervolume as a ratio to random search's mean at {args.evals} evaluations (mean ± std over seeds)"
    )
    header = (
        f"{'strategy':<10}{'runs':>5}"
        + "".join(f"{f'N={m}':>16}" for m in marks)
        + f"{'evals to random@' + str(args.evals):>26}{'s/run':>7}"
    )
    print(header)
    for name, by_seed in curves.items():
        runs = list(by_seed.values())
        cells = "".join(
            f"{np.mean([c[m - 1] for c in runs]) / scale:>9.3f} ± "
            f"{np.std([c[m - 1] for c in runs]) / scale:<4.3f}"
            for m in marks
        )
        needed = [
            evaluations_to_reach(c, curves["random"][seed][-1])
            for seed, c in by_seed.items()
            if seed in curves["random"]
        ]
        reached = [n for n in needed if n is not None]
        text = (
            f"{np.mean(reached):.0f} ± {np.std(reached):.0f}" if reached else "-"
        ) + f" ({len(reached)}/{len(needed)} seeds)"
        print(f"{name:<10}{len(runs):>5}{cells}{text:>26}{seconds[name]:>7.0f}")

    import plotly.graph_objects as go

    figure = go.Figure()
    for name, by_seed in curves.items():
        runs = list(by_seed.values())
        mean, std = np.mean(runs, axis=0) / scale, np.std(runs, axis=0) / scale
        x = np.arange(1, len(mean) + 1)
        figure.add_scatter(x=x, y=mean, name=name, mode="lines", error_y=None)
        figure.add_scatter(
            x=np.concatenate([x, x[::-1]]),
            y=np.concatenate([mean + std, (mean - std)[::-1]]),
            fill="toself",
            opacity=0.15,
            line_width=0,
            showlegend=False,
            name=f"{name} ± std",
        )
    figure.add_hline(y=1.0, line_dash="dot", annotation_text=f"random search after {args.evals}")
    figure.update_layout(
        title="Hypervolume vs evaluations (gpt-tiny: val_loss vs predicted latency)",
        xaxis_title="evaluations",
        yaxis_title="hypervolume / random@N",
        xaxis_type="log",
    )
    path = args.out / "search_efficiency.html"
    figure.write_html(path, include_plotlyjs=True)
    print(f"figure: {path}")


if __name__ == "__main__":
    main()
