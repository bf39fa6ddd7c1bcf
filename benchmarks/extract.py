"""Weight sharing vs building each subnet: time per candidate, and supernet memory per space.

For random architectures of each built-in space, compares
  (a) ``supernet.activate(arch)`` + one forward pass, with
  (b) building that subnet as a fresh dense module (allocation + initialisation) + one forward pass,
and prints the ratio b / a measured in the same run. Then, per space in a fresh process, the peak
resident memory of a supernet with its largest subnet run once, above the interpreter's baseline.

    python benchmarks/extract.py [--archs 10]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import torch

from supernas.spaces import Supernet, Transformer, builtin_names, get_space, sample_many
from supernas.spaces.inputs import random_batch
from supernas.spaces.subnet import DenseLeaves


def fresh_subnet(spec, arch) -> Transformer:
    model = Transformer(spec, arch, DenseLeaves())
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.02)
    return model


def time_ms(fn) -> float:
    start = time.perf_counter()
    fn()
    return 1000 * (time.perf_counter() - start)


def compare(name: str, n: int) -> tuple[float, float]:
    spec = get_space(name)
    supernet = Supernet(spec).eval()
    batch = random_batch(spec, 1, 32, seed=0)
    shared, fresh = [], []
    with torch.inference_mode():
        for arch in sample_many(spec, n, seed=0):
            def run_shared():
                supernet.activate(arch)
                supernet(batch.inputs)

            shared.append(time_ms(run_shared))
            fresh.append(time_ms(lambda: fresh_subnet(spec, arch)(batch.inputs)))
    return statistics.median(shared), statistics.median(fresh)


# VmHWM (peak RSS of this process image) rather than ru_maxrss, which a child inherits from its parent.
PEAK = """
import re, torch
from supernas.spaces import Supernet, get_space
from supernas.spaces.inputs import random_batch
def hwm(): return int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1))
base = hwm()
spec = get_space({name!r})
net = Supernet(spec).eval()
with torch.inference_mode():
    net(random_batch(spec, 1, 32).inputs)
print((hwm() - base) / 1024)
"""


def peak_mib(name: str) -> float:
    out = subprocess.run([sys.executable, "-c", PEAK.format(name=name)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{'space':<12}{'activate+run ms':>17}{'build+run ms':>15}{'ratio':>8}{'supernet peak MiB':>20}{'weights MiB':>13}")
    for name in builtin_names():
        shared, fresh = compare(name, args.archs)
        weights = sum(p.numel() for p in Supernet(get_space(name)).parameters()) * 4 / 2**20
        print(f"{name:<12}{shared:>17.2f}{fresh:>15.2f}{fresh / shared:>7.1f}x{peak_mib(name):>20.0f}{weights:>13.0f}")
    print(f"(median over {args.archs} random subnets each, batch 1 x 32 tokens, 1 thread; ratio = build / activate)")


if __name__ == "__main__":
    main()
