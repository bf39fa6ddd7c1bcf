"""Milliseconds per candidate for each zero-cost proxy: weight sharing vs extracting the subnet.

Weight sharing scores a candidate inside ``supernet.active(arch)`` (what the metrics do); the baseline
is the one every sharing benchmark uses (``sharing.py``: extract the subnet from the same supernet and
score the dense model). Both compute the same value (full precision). Prints each side's time and the
ratio extract / shared, mean and spread over seeds; asserts nothing.

    python benchmarks/proxy_cost.py [--archs 10] [--seeds 0 1 2] [--threads 1] [--spaces gpt-tiny bert-mini]
"""

from __future__ import annotations

import argparse

import torch
from sharing import BASELINE, Comparison, compare

from supernas.models.parent import full_precision
from supernas.predictors import proxies
from supernas.predictors.base import MetricContext
from supernas.predictors.proxies import PROXIES
from supernas.spaces.spec import load_spec


def bench_space(name: str, n_archs: int, seeds: list[int]) -> list[tuple[str, Comparison]]:
    """(proxy, its comparison) for every zero-cost proxy."""
    context = MetricContext(spec=full_precision(load_spec(name)), seed=0)
    supernet, batch = context.supernet, context.batch
    return [
        (proxy, compare(supernet, lambda model, f=getattr(proxies, proxy): f(model, batch), n_archs, seeds))
        for proxy in PROXIES
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=10, help="random candidates per seed and space")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--threads", type=int, default=1, help="torch intra-op threads (tiny models: 1 is fastest)"
    )
    parser.add_argument("--spaces", nargs="+", default=["gpt-tiny", "bert-mini"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), {args.archs} random archs per seed, "
        f"seeds {args.seeds}, "
        f"default batch (4 x 32), full precision; baseline: {BASELINE}\n"
    )
    print(f"{'space':<10} {'proxy':<11} {'shared ms':>10} {'extract ms':>11} {'extract/shared':>20}")
    for space in args.spaces:
        for proxy, result in bench_space(space, args.archs, args.seeds):
            print(
                f"{space:<10} {proxy:<11} {result.mean('shared_ms'):>10.1f} "
                f"{result.mean('extracted_ms'):>11.1f} "
                f"{result.ratio_text():>20}"
            )


if __name__ == "__main__":
    main()
