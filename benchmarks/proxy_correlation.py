"""Do zero-cost proxies rank subnets of a trained supernet as one-shot val_loss does?

For each seed, N random subnets of the supernet: every proxy's Spearman rho and Kendall tau against
``val_loss`` on the held-out stdlib text, with #params as the baseline in the same table; then each
metric's mean over seeds. Needs a trained supernet (``supernas train gpt-tiny -o DIR``). Prints
figures, asserts nothing.

    python benchmarks/proxy_correlation.py --supernet DIR [--n 60] [--seeds 0 1 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics

import torch

from supernas.predictors.correlation import format_agreement, rank_agreement
from supernas.spaces import Supernet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--supernet", required=True, help="trained supernet directory")
    parser.add_argument("--n", type=int, default=60, help="random subnets per seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    net = Supernet.load(args.supernet)
    print(f"{net.spec.name}: {net.provenance}")
    per_metric: dict[str, list[tuple[float, float]]] = {}
    for seed in args.seeds:
        rows, values = rank_agreement(net, args.n, seed)
        losses = values["val_loss"]
        print(f"\nseed {seed}: val_loss {min(losses):.4f} .. {max(losses):.4f} nats/byte")
        print(format_agreement(rows, args.n))
        for r in rows:
            per_metric.setdefault(r.metric, []).append((r.spearman, r.kendall))
    if len(args.seeds) > 1:
        print(f"\nmean over seeds {args.seeds}:")
        for name, pairs in sorted(per_metric.items(), key=lambda kv: statistics.mean(p[0] for p in kv[1])):
            rhos, taus = zip(*pairs)
            print(f"{name:<16} spearman {statistics.mean(rhos):>7.3f} (sd {statistics.stdev(rhos):.3f})  kendall {statistics.mean(taus):>7.3f}")


if __name__ == "__main__":
    main()
