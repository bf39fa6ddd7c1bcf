"""Search throughput: trials per second with 1, 2 and 4 Ray workers, and weight sharing vs rebuilding.

Part 1 runs the same small job (gpt-tiny, hidden_cov + FLOPs, 24 trials, random strategy) on a local
Ray instance with 1, 2 and 4 evaluator actors and a fresh SQLite store, and prints trials per second
between the first trial's start and the last one's end (actor start-up excluded), as a ratio to 1
worker. On a 2-core machine, more than 2 workers cannot add compute.

Part 2 scores random architectures with the hidden-covariance and SNIP proxies in the weight-sharing
supernet (``supernet.active``) and on the baseline every sharing benchmark uses (``sharing.py``: the
subnet extracted from the same supernet), and prints milliseconds per candidate and the ratio
extract / shared, mean and spread over seeds.

Part 3, the scale curve: jobs of ``--scale-trials`` (default 10,000) trials with two analytic objectives
(non-embedding parameters down, FLOPs down) on 2 workers, for nsga2, motpe and predictor, one per seed
(``--scale-seeds``). It prints trials/s in each 500-trial window (by finishing time) and the last
window's rate as a ratio to the first's, mean and spread over the seeds: an analytic trial takes about
a millisecond, so this is the controller's own cost per trial as the job grows.

Part 4: the same gpt2-small job (hidden_cov and FLOPs on a batch of 8 x 128 tokens, random strategy,
trials of about a second on one thread) on 1 and 2 workers, per job seed: trials/s and the ratio 2 / 1
(2 cores should give about 2x), mean and spread over the seeds.

    python benchmarks/throughput.py [--trials 24] [--seeds 0 1 2] [--scale-trials 10000] [--scale-seeds 0 1]
        [--gpt2-trials 24] [--gpt2-seeds 0 1 2] [--parts 1 2 3 4]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import torch
import yaml
from sharing import BASELINE, Comparison, compare

from supernas.data.inputs import random_batch
from supernas.models.parent import full_precision
from supernas.models.supernet import Supernet
from supernas.predictors.proxies import hidden_cov, snip
from supernas.search.jobspec import load_job_spec
from supernas.search.runner import create_job, execute
from supernas.search.store.store import open_store
from supernas.spaces.spec import load_spec
from supernas.workers.cluster import connect, disconnect

JOB = {
    "name": "throughput",
    "space": "gpt-tiny",
    "objectives": [{"metric": "hidden_cov"}, {"metric": "flops"}],
    "strategy": "random",
    "seed": 0,
}


def trials_per_second(workers: int, trials: int, directory: Path) -> float:
    path = directory / f"job-{workers}.yaml"
    path.write_text(yaml.safe_dump({**JOB, "budget": {"trials": trials}, "workers": workers}))
    spec = load_job_spec(path)
    store = open_store(f"sqlite:///{directory / f'throughput-{workers}.db'}")
    job_id = create_job(store, spec)
    execute(store, job_id, spec, workers, None, progress=False)
    done = store.trials(job_id, states=["complete", "infeasible"])
    span = max(t.finished_at for t in done) - min(t.started_at for t in done)
    return len(done) / span.total_seconds()


SCALE_JOB = {
    "name": "scale",
    "space": "gpt-tiny",
    "objectives": [{"metric": "non_embedding_params"}, {"metric": "flops"}],
}
GPT2_JOB = {
    "name": "gpt2",
    "space": "gpt2-small",
    "objectives": [{"metric": "hidden_cov"}, {"metric": "flops"}],
    "batch": {"batch_size": 8, "seq_len": 128},
    "strategy": "random",
}
WINDOW = 500


def run_job(job: dict, directory: Path, name: str, workers: int) -> list:
    """Run ``job`` on ``workers`` Ray actors in a fresh SQLite store; its finished trials."""
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump({**job, "workers": workers}))
    spec = load_job_spec(path)
    store = open_store(f"sqlite:///{directory / f'{name}.db'}")
    job_id = create_job(store, spec)
    execute(store, job_id, spec, workers, None, progress=False)
    return store.trials(job_id, states=["complete", "infeasible", "failed"])


def window_rates(trials: list) -> list[float]:
    """Trials per second in each full window of WINDOW trials, in finishing order."""
    done = sorted(t.finished_at for t in trials)
    return [
        (WINDOW - 1) / (done[i + WINDOW - 1] - done[i]).total_seconds()
        for i in range(0, len(done) - WINDOW + 1, WINDOW)
    ]


def scale_curve(strategy: str, n: int, seeds: list[int], directory: Path) -> list[list[float]]:
    """Per seed, the window rates of an ``n``-trial analytic job on 2 workers."""
    job = {**SCALE_JOB, "strategy": strategy, "budget": {"trials": n}}
    return [
        window_rates(run_job({**job, "seed": seed}, directory, f"scale-{strategy}-{seed}", 2))
        for seed in seeds
    ]


def gpt2_rates(trials: int, seed: int, directory: Path) -> list[float]:
    """Trials/s of the same gpt2-small job on 1 and 2 workers (first start to last finish)."""
    rates = []
    for workers in (1, 2):
        done = run_job(
            {**GPT2_JOB, "budget": {"trials": trials}, "seed": seed},
            directory,
            f"gpt2-{seed}-{workers}",
            workers,
        )
        rates.append(
            len(done) / (max(t.finished_at for t in done) - min(t.started_at for t in done)).total_seconds()
        )
    return rates


def mean_sd(values: list[float], digits: int = 1) -> str:
    return f"{statistics.mean(values):.{digits}f}" + (
        f"±{statistics.stdev(values):.{digits}f}" if len(values) > 1 else ""
    )


def proxy_costs(n: int, seeds: list[int]) -> list[tuple[str, Comparison]]:
    spec = full_precision(load_spec("gpt-tiny"))
    supernet, batch = Supernet(spec), random_batch(spec, 4, 32)
    return [
        (name, compare(supernet, lambda model, f=proxy: f(model, batch), n, seeds))
        for name, proxy in (("hidden_cov", hidden_cov), ("snip", snip))
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[0, 1, 2], help="part 2: architecture samples"
    )
    parser.add_argument("--scale-trials", type=int, default=10_000)
    parser.add_argument("--scale-strategies", nargs="+", default=["nsga2", "motpe", "predictor"])
    parser.add_argument("--scale-seeds", type=int, nargs="+", default=[0, 1], help="part 3: job seeds")
    parser.add_argument("--gpt2-trials", type=int, default=24)
    parser.add_argument("--gpt2-seeds", type=int, nargs="+", default=[0, 1, 2], help="part 4: job seeds")
    parser.add_argument("--parts", type=int, nargs="+", default=[1, 2, 3, 4])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        connect(None, workers=4)
        if 1 in args.parts:
            rates = {w: trials_per_second(w, args.trials, Path(tmp)) for w in (1, 2, 4)}
            print(f"{'workers':<9}{'trials/s':>10}{'vs 1 worker':>13}")
            for w, rate in rates.items():
                print(f"{w:<9}{rate:>10.2f}{rate / rates[1]:>12.2f}x")
        if 3 in args.parts:
            print(
                f"\nscale curve: trials/s per {WINDOW}-trial window, 2 workers, analytic objectives, "
                f"mean±sd over job seeds {args.scale_seeds}"
            )
            for strategy in args.scale_strategies:
                per_seed = scale_curve(strategy, args.scale_trials, args.scale_seeds, Path(tmp))
                windows = [mean_sd([rates[i] for rates in per_seed]) for i in range(min(map(len, per_seed)))]
                last = mean_sd([rates[-1] / rates[0] for rates in per_seed])
                print(
                    f"{strategy:<10} slowest window {min(map(min, per_seed)):.1f}/s, "
                    f"last/first {last}x: {' '.join(windows)}"
                )
        if 4 in args.parts:
            runs = [gpt2_rates(args.gpt2_trials, seed, Path(tmp)) for seed in args.gpt2_seeds]
            print(
                f"\ngpt2-small, {args.gpt2_trials} trials of about a second, job seeds {args.gpt2_seeds}: "
                f"1 worker {mean_sd([one for one, _ in runs], 3)}/s, "
                f"2 workers {mean_sd([two for _, two in runs], 3)}/s, "
                f"ratio {mean_sd([two / one for one, two in runs], 2)}x"
            )
        disconnect()
    if 2 not in args.parts:
        return
    torch.set_num_threads(1)
    print(
        f"\n{'proxy':<12}{'shared ms':>11}{'extract ms':>12}{'extract/shared':>20}   (gpt-tiny, batch 4x32, "
        f"median of 10 per seed, seeds {args.seeds}; baseline: {BASELINE})"
    )
    for name, result in proxy_costs(10, args.seeds):
        print(
            f"{name:<12}{result.mean('shared_ms'):>11.1f}{result.mean('extracted_ms'):>12.1f}{result.ratio_text():>20}"
        )


if __name__ == "__main__":
    main()
