"""Keyword spotting on speech-tiny: accuracy vs measured latency of its subnets, and the latency predictors.

Per seed: synthesise nothing new (one keyword set, ``supernas data keywords``, made once), train a
speech-tiny supernet on it with the sandwich rule, then score ``--n`` random subnets plus the largest and
the smallest on the held-out voices (accuracy) and time each extracted subnet (median latency, one
thread, thread CPU time). From their accuracy-vs-latency Pareto front three subnets are reported (the
fastest, the middle and the most accurate front point), with the largest and the smallest. Figures are
ratios against the largest subnet of the same run (its accuracy and latency = 1.00); the spread is over
seeds. Then the latency predictors are calibrated on the speech space (their base part is the conv
front end) and scored on held-out subnets: the share of predictions within ±10 % of the measured
latency.

    python benchmarks/speech.py [--seeds 0 1] [--steps 300] [--n 30] [--calibrate-n 60] [--data DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from supernas.data.keywords import make_keywords
from supernas.data.task import load_task_data
from supernas.data.types import heldout_batches
from supernas.models.supernet import Supernet
from supernas.predictors.latency.calibration import calibrate
from supernas.predictors.latency.measure import subnet_latencies
from supernas.predictors.latency.workload import Workload
from supernas.predictors.oneshot import heldout_accuracy
from supernas.search.pareto import non_dominated
from supernas.spaces.architecture import largest, sample_many, smallest
from supernas.spaces.spec import load_spec
from supernas.training.sandwich import train_supernet


def front_picks(accuracy: list[float], latency: list[float]) -> list[int]:
    """Indices of the fastest, the middle and the most accurate point of the accuracy/latency front."""
    front = sorted(non_dominated([(-a, t) for a, t in zip(accuracy, latency)]), key=lambda i: latency[i])
    return [front[0], front[len(front) // 2], front[-1]]


def one_seed(spec, data, seed: int, args) -> dict[str, tuple[float, float]]:
    net = Supernet(spec, seed=seed)
    start = time.perf_counter()
    train_supernet(
        net,
        data,
        steps=args.steps,
        lr=args.lr,
        batch_size=args.batch_size,
        sandwich_k=args.sandwich_k,
        progress=False,
        seed=seed,
    )
    print(f"seed {seed}: trained {args.steps} steps in {time.perf_counter() - start:.0f} s", flush=True)
    heldout = heldout_batches(data.heldout)
    archs = [largest(spec), smallest(spec)] + sample_many(spec, args.n, seed=1000 + seed)
    workload = Workload(threads=1, clock="cpu", warmup=2, repeats=args.repeats)
    latency = list(subnet_latencies(net, archs, workload, rounds=2)[1])
    accuracy = [heldout_accuracy(net, arch, heldout) for arch in archs]
    picks = {"largest": 0, "smallest": 1}
    for name, i in zip(
        ("front, fastest", "front, middle", "front, most accurate"), front_picks(accuracy, latency)
    ):
        picks[name] = i
    for name, i in picks.items():
        print(
            f"  {name:<22} accuracy {accuracy[i]:.3f}  latency {latency[i]:.2f} ms  "
            f"{archs[i].depth} layers, embed {archs[i].embed_dim}"
        )
    return {
        name: (accuracy[i] / accuracy[0], latency[i] / latency[0], accuracy[i]) for name, i in picks.items()
    }


def spread(values: list[float], digits: int = 2) -> str:
    return f"{statistics.fmean(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sandwich-k", type=int, default=1)
    parser.add_argument(
        "--n", type=int, default=30, help="random subnets scored per seed (besides largest and smallest)"
    )
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument(
        "--calibrate-n", type=int, default=60, help="subnets timed to fit and score the latency predictors"
    )
    parser.add_argument("--data", type=Path, help="a keyword set (default: made here, 24 voices x 4 takes)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    spec = load_spec("speech-tiny")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SUPERNAS_HOME"] = str(Path(tmp) / "home")  # predictors go there, not to the user's home
        directory = args.data or Path(tmp) / "keywords"
        if args.data is None:
            make_keywords(directory, seed=0)
        data = load_task_data(directory, spec)
        print(f"{data.source}; chance 1/{spec.num_classes} = {1 / spec.num_classes:.3f}")
        runs = [one_seed(spec, data, seed, args) for seed in args.seeds]
        print(f"\nratios to the largest subnet of the same run, mean (min-max) over seeds {args.seeds}:")
        print(f"{'subnet':<22} {'accuracy':>18} {'latency':>18} {'accuracy (abs)':>21}")
        for name in runs[0]:
            a, t, absolute = ([r[name][k] for r in runs] for k in range(3))
            print(f"{name:<22} {spread(a):>18} {spread(t):>18} {spread(absolute, 3):>21}")
        within = {"lut": [], "regressor": []}
        for seed in args.seeds:
            report = calibrate(spec, args.calibrate_n, "cpu", 1, 64, seed, 0.4, 1, "cpu", 2, args.repeats, 2)
            for name in within:
                within[name].append(report.scores[name].within_10)
        print(
            f"\nlatency predictors on speech-tiny ({args.calibrate_n} subnets per seed, 40% held out), "
            "% within ±10%:"
        )
        for name, values in within.items():
            print(f"  {name:<10} {np.mean(values):.1f} ({min(values):.1f}-{max(values):.1f})")


if __name__ == "__main__":
    main()
