"""Milliseconds per candidate for each zero-cost proxy: weight sharing vs extracting the subnet.

Weight sharing scores a candidate inside ``supernet.active(arch)`` (what the metrics do); the
alternative copies the subnet out with ``extract`` and scores the dense model. Both compute the same
value (quantization is turned off so that they do); this prints what each costs. Prints figures,
asserts nothing.

    python benchmarks/proxy_cost.py [--archs 10] [--threads 1] [--spaces gpt-tiny bert-mini]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from supernas.predictors import proxies
from supernas.predictors.base import MetricContext, get_metric
from supernas.spaces import extract, get_space, sample_many
from supernas.spaces.parent import full_precision

PROXIES = ["synflow", "snip", "grad_norm", "fisher", "naswot", "jacov", "hidden_cov", "zico"]


def median_ms(run: Callable[[], object], repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def bench_space(name: str, n_archs: int) -> list[tuple[str, float, float]]:
    """(proxy, shared ms, extracted ms), each the mean over ``n_archs`` candidates."""
    spec = full_precision(get_space(name))
    context = MetricContext(spec=spec, seed=0)
    supernet, batch = context.supernet, context.batch
    archs = sample_many(spec, n_archs, seed=0)
    rows = []
    for proxy in PROXIES:
        metric, function = get_metric(proxy), getattr(proxies, proxy)
        metric.evaluate(archs[0], context)  # warm-up
        shared = [median_ms(lambda: metric.evaluate(arch, context)) for arch in archs]
        alone = [median_ms(lambda: function(extract(supernet, arch), batch)) for arch in archs]
        rows.append((proxy, statistics.mean(shared), statistics.mean(alone)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=10, help="random candidates per space")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (tiny models: 1 is fastest)")
    parser.add_argument("--spaces", nargs="+", default=["gpt-tiny", "bert-mini"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), {args.archs} random archs per space, "
          "default batch (4 x 32), median of 3 runs per candidate, quantization off\n")
    print(f"{'space':<10} {'proxy':<11} {'shared ms':>10} {'extract ms':>11} {'extract/shared':>15}")
    for space in args.spaces:
        for proxy, shared, alone in bench_space(space, args.archs):
            print(f"{space:<10} {proxy:<11} {shared:>10.1f} {alone:>11.1f} {alone / shared:>15.2f}")


if __name__ == "__main__":
    main()
