"""Export for deployment: file sizes by weight policy, and latency in torch eager vs ONNX Runtime.

For gpt-tiny and bert-mini, runs a small search job (params vs FLOPs, analytic, through the real
`supernas run`) and takes 5 of its front subnets. Each subnet is exported at five policies
(every layer fp32; int8 or int4 weights with fp32 activations; int8 or int4 weights with 8-bit activations on
ONNX Runtime's integer kernels)
and timed, batch 1, 1 thread, median of --repeats runs after a warm-up, both runtimes warm:

- torch eager: the extracted subnet (``load_subnet``'s model, integer layers dequantized per call);
- ONNX Runtime: the exported ``model.onnx`` (CPU execution provider, all graph optimisations).

Ratios are torch / ONNX Runtime of the same subnet in the same run, and ONNX Runtime's speed-up of each
policy over the same subnet at fp32. Then the ONNX Runtime latency
predictors are calibrated for each space (`supernas calibrate SPACE --backend onnxruntime`) and scored
on held-out subnets: share within +-10 % and Spearman.

    python benchmarks/export.py [--seq-len 64] [--repeats 30] [--calibrate 60]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import torch
import yaml

from supernas.export.onnx import example_inputs, runtime_session, to_onnx, torch_outputs
from supernas.models.checkpoint import extract
from supernas.models.dense import parameter_count
from supernas.models.supernet import Supernet
from supernas.search.store.store import open_store
from supernas.spaces.architecture import Architecture, quantized
from supernas.spaces.spec import load_spec

POLICIES = {"fp32": (32, 32), "int8": (8, 32), "int4": (4, 32), "w8a8": (8, 8), "w4a8": (4, 8)}


def front_archs(space: str, home: Path, n: int = 5) -> list[Architecture]:
    """Five front subnets of a real job over the space (largest-first spread along the front)."""
    job = {
        "name": f"export-bench-{space}",
        "space": space,
        "strategy": "nsga2",
        "seed": 0,
        "workers": 2,
        "objectives": [{"metric": "params", "direction": "maximize"}, {"metric": "flops"}],
        "budget": {"trials": 60},
    }
    spec_file = home / f"{space}.yaml"
    spec_file.write_text(yaml.safe_dump(job))
    url = f"sqlite:///{home / 'bench.db'}"
    env = dict(os.environ, SUPERNAS_HOME=str(home))
    subprocess.run(
        ["supernas", "run", str(spec_file), "--db", url, "--no-progress"],
        check=True,
        env=env,
        capture_output=True,
    )
    store = open_store(url)
    record = store.list_jobs()[-1]
    front = sorted(store.front(record.id), key=lambda t: t.values["params"])
    picks = [front[round(i * (len(front) - 1) / (n - 1))] for i in range(n)] if len(front) >= n else front
    return [Architecture.model_validate(json.loads(t.arch_json)) for t in picks]


def median_ms(run, repeats: int) -> float:
    for _ in range(3):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def compare(space: str, archs: list[Architecture], seq_len: int, repeats: int) -> None:
    base = load_spec(space)
    spec = base.model_copy(
        update={"layer": base.layer.model_copy(update={"weight_bits": [4, 8, 32], "act_bits": [8, 32]})}
    )
    supernet = Supernet(spec, seed=0)
    print(f"\n{space}: 5 front subnets, batch 1 x {seq_len} tokens, 1 thread, median of {repeats}")
    print(
        f"{'subnet':>14} {'policy':>6} {'params':>10} {'onnx MB':>8} "
        f"{'torch ms':>9} {'ORT ms':>8} {'torch/ORT':>9}"
    )
    ratios: dict[str, list[float]] = {p: [] for p in POLICIES}
    ort: dict[str, list[float]] = {p: [] for p in POLICIES}
    for arch in archs:
        for policy, bits in POLICIES.items():
            chosen = quantized(arch.model_copy(update={"space": spec.name}), *bits)
            model = extract(supernet, chosen)
            data = to_onnx(model)
            inputs = example_inputs(spec, 1, seq_len)
            session = runtime_session(data, threads=1)
            with torch.inference_mode():
                torch_ms = median_ms(lambda model=model, inputs=inputs: torch_outputs(model, inputs), repeats)
            ort_ms = median_ms(lambda session=session, inputs=inputs: session.run(None, inputs), repeats)
            ratios[policy].append(torch_ms / ort_ms)
            ort[policy].append(ort_ms)
            params = parameter_count(model)
            print(
                f"{arch.arch_id:>14} {policy:>6} {params:>10,} {len(data) / 1e6:>8.2f} "
                f"{torch_ms:>9.2f} {ort_ms:>8.2f} {torch_ms / ort_ms:>8.2f}x"
            )
    for policy, values in ratios.items():
        speedups = [fp32 / ms for fp32, ms in zip(ort["fp32"], ort[policy])]
        print(
            f"  {policy}: torch / ONNX Runtime = {statistics.mean(values):.2f}x mean "
            f"(min {min(values):.2f}, max {max(values):.2f}); ONNX Runtime fp32 / {policy} = "
            f"{statistics.mean(speedups):.2f}x (min {min(speedups):.2f}, max {max(speedups):.2f})"
        )


def calibration(space: str, n: int, seq_len: int, home: Path) -> None:
    env = dict(os.environ, SUPERNAS_HOME=str(home))
    done = subprocess.run(
        [
            "supernas",
            "calibrate",
            space,
            "--backend",
            "onnxruntime",
            "-n",
            str(n),
            "--threads",
            "1",
            "--seq-len",
            str(seq_len),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    print(
        f"\n{space}: ONNX Runtime latency predictors, {n} subnets calibrated\n"
        f"{done.stdout.strip()}{done.stderr.strip()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument(
        "--calibrate", type=int, default=60, help="subnets timed per space for the predictor (0: skip)"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        for space in ("gpt-tiny", "bert-mini"):
            compare(space, front_archs(space, home), args.seq_len, args.repeats)
            if args.calibrate:
                calibration(space, args.calibrate, args.seq_len, home)


if __name__ == "__main__":
    main()
