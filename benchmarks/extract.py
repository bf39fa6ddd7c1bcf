"""Weight sharing vs extracting each subnet: time per candidate, and supernet memory per space.

For random architectures of each built-in space, compares ``supernet.active(arch)`` + one forward pass
with the baseline every sharing benchmark uses (``sharing.py``: extract the subnet from the same
supernet, then the same forward pass), and prints the ratio extract / shared, mean and spread over
seeds. Then, per space in a fresh process, the peak resident memory of a supernet with its largest
subnet run once, above the interpreter's baseline.

    python benchmarks/extract.py [--archs 10] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import subprocess
import sys

import torch
from sharing import BASELINE, Comparison, compare

from supernas.data.inputs import random_batch
from supernas.models.parent import full_precision
from supernas.models.supernet import Supernet
from supernas.spaces.spec import builtin_names, load_spec


def forward_pass(name: str, n: int, seeds: list[int]) -> Comparison:
    spec = full_precision(load_spec(name))
    supernet = Supernet(spec).eval()
    batch = random_batch(spec, 1, 32, seed=0)
    with torch.inference_mode():
        return compare(supernet, lambda model: model(batch.inputs), n, seeds)


# VmHWM (peak RSS of this process image) rather than ru_maxrss, which a child inherits from its parent.
PEAK = """
import re, torch
from supernas.spaces import Supernet, load_spec
from supernas.data.inputs import random_batch
def hwm(): return int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1))
base = hwm()
spec = load_spec({name!r})
net = Supernet(spec).eval()
with torch.inference_mode():
    net(random_batch(spec, 1, 32).inputs)
print((hwm() - base) / 1024)
"""


def peak_mib(name: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", PEAK.format(name=name)], capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--archs", type=int, default=10, help="random subnets per seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"baseline: {BASELINE}")
    print(
        f"{'space':<12}{'shared ms':>11}{'extract ms':>12}{'extract/shared':>22}"
        f"{'supernet peak MiB':>20}{'weights MiB':>13}"
    )
    for name in builtin_names():
        result = forward_pass(name, args.archs, args.seeds)
        weights = sum(p.numel() for p in Supernet(load_spec(name)).parameters()) * 4 / 2**20
        print(
            f"{name:<12}{result.mean('shared_ms'):>11.2f}{result.mean('extracted_ms'):>12.2f}{result.ratio_text():>22}"
            f"{peak_mib(name):>20.0f}{weights:>13.0f}"
        )
    print(
        f"(per seed the median over {args.archs} random subnets, then mean and sd over seeds {args.seeds}; "
        "batch 1 x 32 tokens, 1 thread, full precision)"
    )


if __name__ == "__main__":
    main()
