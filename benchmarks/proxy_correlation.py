"""Do zero-cost proxies rank subnets of a trained supernet as their trained quality does?

For each seed, N random subnets of the supernet: every proxy's Spearman rho and Kendall tau against
one-shot ``val_loss`` (held-out text of the supernet's training corpus) and against val_loss after a
short standalone fine-tuning of each subnet, with #params as the baseline in the same table and a
leave-one-out ridge combination of all metrics beside them; then each metric's mean over seeds. Needs a
trained supernet (``supernas train gpt-tiny -o DIR``). Prints figures, asserts nothing.

    python benchmarks/proxy_correlation.py --supernet DIR [--data FILE] [--n 60] [--seeds 0 1 2]
        [--finetune-steps 30] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics

import torch

from supernas.models.supernet import Supernet
from supernas.predictors.correlation import (
    FINETUNED,
    TARGET,
    Finetuning,
    format_agreement,
    rank_agreement,
    training_text,
)


def _mean(xs: list[float | None]) -> str:
    known = [x for x in xs if x is not None]
    if not known:
        return f"{'-':>7}{'':<11}"
    spread = f" (sd {statistics.stdev(known):.3f})" if len(known) > 1 else ""
    return f"{statistics.mean(known):>7.3f}{spread:<11}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--supernet", required=True, help="trained supernet directory")
    parser.add_argument(
        "--data", default=None, help="the text it was trained on (default: the Python stdlib sources)"
    )
    parser.add_argument("--n", type=int, default=60, help="random subnets per seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument(
        "--finetune-steps",
        type=int,
        default=30,
        help="standalone fine-tuning steps per subnet (0: one-shot only)",
    )
    parser.add_argument("--finetune-lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    net = Supernet.load(args.supernet)
    text = training_text(net, args.data)
    tuning = Finetuning(args.finetune_steps, args.finetune_lr) if args.finetune_steps else None
    print(f"{net.spec.name}: {net.provenance}")
    per_metric: dict[str, list[tuple[float | None, ...]]] = {}
    for seed in args.seeds:
        rows, values = rank_agreement(net, args.n, seed, text=text, finetuning=tuning)
        ranges = [
            f"{name} {min(values[name]):.4f} .. {max(values[name]):.4f}"
            for name in (TARGET, FINETUNED)
            if name in values
        ]
        print(f"\nseed {seed}: {'; '.join(ranges)} nats/byte")
        print(format_agreement(rows, args.n, tuning))
        for r in rows:
            per_metric.setdefault(r.metric, []).append(
                (r.spearman, r.kendall, r.finetuned_spearman, r.finetuned_kendall)
            )
    if len(args.seeds) > 1:
        print(
            f"\nmean over seeds {args.seeds}: rho 1shot, tau 1shot"
            + (", rho tuned, tau tuned" if tuning else "")
        )
        for name, runs in per_metric.items():
            columns = list(zip(*runs))[: 4 if tuning else 2]
            print(f"{name:<18} " + "  ".join(_mean(list(c)) for c in columns))


if __name__ == "__main__":
    main()
