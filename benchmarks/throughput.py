"""Search throughput: trials per second with 1, 2 and 4 Ray workers, and weight sharing vs rebuilding.

Part 1 runs the same small job (gpt-tiny, hidden_cov + FLOPs, 24 trials, random strategy) on a local
Ray instance with 1, 2 and 4 evaluator actors and a fresh SQLite store, and prints trials per second
between the first trial's start and the last one's end (actor start-up excluded), as a ratio to 1
worker. On a 2-core machine, more than 2 workers cannot add compute.

Part 2 scores the same architectures with the hidden-covariance and SNIP proxies (a) in the
weight-sharing supernet (``supernet.active``) and (b) by building each candidate as a fresh dense
model, and prints milliseconds per candidate and the ratio b / a.

    python benchmarks/throughput.py [--trials 24]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
import yaml

from supernas.predictors.proxies import hidden_cov, snip
from supernas.search.jobspec import load_job_spec
from supernas.search.runner import create_job, execute
from supernas.search.store import open_store
from supernas.spaces import Supernet, Transformer, get_space, sample_many
from supernas.spaces.inputs import random_batch
from supernas.spaces.subnet import DenseLeaves
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


def fresh_model(spec, arch) -> Transformer:
    model = Transformer(spec, arch, DenseLeaves())
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.02)
    return model


def proxy_costs(n: int) -> list[tuple[str, float, float]]:
    spec = get_space("gpt-tiny")
    spec = spec.model_copy(update={"layer": spec.layer.model_copy(update={"weight_bits": [32], "act_bits": [32]})})
    supernet, batch = Supernet(spec), random_batch(spec, 4, 32)
    rows = []
    for name, proxy in (("hidden_cov", hidden_cov), ("snip", snip)):
        shared, rebuilt = [], []
        for arch in sample_many(spec, n, seed=1):
            start = time.perf_counter()
            with supernet.active(arch):
                proxy(supernet, batch)
            shared.append(time.perf_counter() - start)
            start = time.perf_counter()
            proxy(fresh_model(spec, arch), batch)
            rebuilt.append(time.perf_counter() - start)
        rows.append((name, 1000 * statistics.median(shared), 1000 * statistics.median(rebuilt)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=24)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        connect(None, workers=4)
        rates = {w: trials_per_second(w, args.trials, Path(tmp)) for w in (1, 2, 4)}
        disconnect()
    print(f"{'workers':<9}{'trials/s':>10}{'vs 1 worker':>13}")
    for w, rate in rates.items():
        print(f"{w:<9}{rate:>10.2f}{rate / rates[1]:>12.2f}x")
    torch.set_num_threads(1)
    print(f"\n{'proxy':<12}{'shared ms':>11}{'rebuild ms':>12}{'ratio':>8}   (gpt-tiny, batch 4x32, median of 20)")
    for name, shared, rebuilt in proxy_costs(20):
        print(f"{name:<12}{shared:>11.1f}{rebuilt:>12.1f}{rebuilt / shared:>7.1f}x")


if __name__ == "__main__":
    main()
