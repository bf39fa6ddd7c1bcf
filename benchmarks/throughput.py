"""Search throughput: trials per second with 1, 2 and 4 Ray workers, and weight sharing vs rebuilding.

Part 1 runs the same small job (gpt-tiny, hidden_cov + FLOPs, 24 trials, random strategy) on a local
Ray instance with 1, 2 and 4 evaluator actors and a fresh SQLite store, and prints trials per second
between the first trial's start and the last one's end (actor start-up excluded), as a ratio to 1
worker. On a 2-core machine, more than 2 workers cannot add compute.

Part 2 scores random architectures with the hidden-covariance and SNIP proxies in the weight-sharing
supernet (``supernet.active``) and on the baseline every sharing benchmark uses (``sharing.py``: the
subnet extracted from the same supernet), and prints milliseconds per candidate and the ratio
extract / shared, mean and spread over seeds.

    python benchmarks/throughput.py [--trials 24] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
import yaml

from sharing import BASELINE, Comparison, compare
from supernas.predictors.proxies import hidden_cov, snip
from supernas.search.jobspec import load_job_spec
from supernas.search.runner import create_job, execute
from supernas.search.store import open_store
from supernas.spaces import Supernet, get_space
from supernas.spaces.inputs import random_batch
from supernas.spaces.parent import full_precision
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


def proxy_costs(n: int, seeds: list[int]) -> list[tuple[str, Comparison]]:
    spec = full_precision(get_space("gpt-tiny"))
    supernet, batch = Supernet(spec), random_batch(spec, 4, 32)
    return [(name, compare(supernet, lambda model, f=proxy: f(model, batch), n, seeds))
            for name, proxy in (("hidden_cov", hidden_cov), ("snip", snip))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="part 2: architecture samples")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        connect(None, workers=4)
        rates = {w: trials_per_second(w, args.trials, Path(tmp)) for w in (1, 2, 4)}
        disconnect()
    print(f"{'workers':<9}{'trials/s':>10}{'vs 1 worker':>13}")
    for w, rate in rates.items():
        print(f"{w:<9}{rate:>10.2f}{rate / rates[1]:>12.2f}x")
    torch.set_num_threads(1)
    print(f"\n{'proxy':<12}{'shared ms':>11}{'extract ms':>12}{'extract/shared':>20}   (gpt-tiny, batch 4x32, "
          f"median of 10 per seed, seeds {args.seeds}; baseline: {BASELINE})")
    for name, result in proxy_costs(10, args.seeds):
        print(f"{name:<12}{result.mean('shared_ms'):>11.1f}{result.mean('extracted_ms'):>12.1f}{result.ratio_text():>20}")


if __name__ == "__main__":
    main()
