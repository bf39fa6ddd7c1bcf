"""Search efficiency: hypervolume vs number of evaluations for each strategy on one fixed task.

Task: gpt-tiny, maximize decoder (non-embedding) parameters (LiteTransformerSearch's training-free
quality proxy) and minimize FLOPs per token, both analytic, so a thousand evaluations take seconds and
the comparison measures the strategies, not the machine. The strategies are driven through the same
ask/tell interface the controller uses. The reference point is fixed from the space's extremes.

Prints the hypervolume each strategy reaches after 50, 100, 200, 500, 1000 evaluations (mean over
seeds), and how many evaluations the others need to reach random search's final hypervolume; writes an
interactive plotly HTML figure.

    python benchmarks/search_efficiency.py [--evals 1000] [--seeds 2] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from supernas.search.jobspec import StrategySpec
from supernas.search.pareto import hypervolume, minimization_vector, non_dominated
from supernas.search.strategies import make_strategy
from supernas.spaces import get_space, largest
from supernas.predictors.costs import flops_per_token
from supernas.spaces.analytic import count_non_embedding_params

OBJECTIVES = [("decoder_params", "maximize"), ("flops", "minimize")]
STRATEGIES = {
    "random": StrategySpec(name="random"),
    "nsga2": StrategySpec(name="nsga2", population=24),
    "motpe": StrategySpec(name="motpe", initial=24),
    "predictor": StrategySpec(name="predictor", initial=24, population=24, generations=30),
}
CHECKPOINTS = (50, 100, 200, 500, 1000)


def evaluate(spec, arch) -> dict[str, float]:
    return {"decoder_params": float(count_non_embedding_params(spec, arch)), "flops": float(flops_per_token(spec, arch, 128))}


def run(spec, settings: StrategySpec, evals: int, seed: int, reference: np.ndarray) -> np.ndarray:
    """Hypervolume after each evaluation."""
    strategy = make_strategy(spec, OBJECTIVES, settings, seed)
    seen: set[str] = set()
    points: list[list[float]] = []
    curve = []
    while len(curve) < evals:
        for arch in strategy.ask(1):
            values = evaluate(spec, arch)
            strategy.tell(arch, values, 0.0)
            if arch.arch_id in seen:  # duplicates are answered from the store: no evaluation spent
                continue
            seen.add(arch.arch_id)
            points.append(minimization_vector(values, OBJECTIVES))
            front = np.asarray(points)[non_dominated(np.asarray(points))]
            curve.append(hypervolume(front, reference))
    return np.asarray(curve)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--evals", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    spec = get_space("gpt-tiny")
    reference = np.array([0.0, 1.01 * flops_per_token(spec, largest(spec), 128)])
    curves, seconds = {}, {}
    for name, settings in STRATEGIES.items():
        start = time.perf_counter()
        curves[name] = np.mean([run(spec, settings, args.evals, seed, reference) for seed in range(args.seeds)], axis=0)
        seconds[name] = time.perf_counter() - start
    target = curves["random"][-1]
    marks = [c for c in CHECKPOINTS if c <= args.evals]
    print(f"hypervolume (x1e12) after N evaluations, mean of {args.seeds} seeds; gpt-tiny, max decoder params vs min FLOPs")
    print(f"{'strategy':<11}" + "".join(f"{f'N={m}':>10}" for m in marks) + f"{'evals to random@' + str(args.evals):>22}{'seconds':>9}")
    for name, curve in curves.items():
        reached = np.nonzero(curve >= target)[0]
        needed = str(reached[0] + 1) if reached.size else f">{args.evals}"
        print(f"{name:<11}" + "".join(f"{curve[m - 1] / 1e12:>10.4f}" for m in marks) + f"{needed:>22}{seconds[name]:>9.1f}")
    args.out.mkdir(parents=True, exist_ok=True)
    import plotly.graph_objects as go

    figure = go.Figure([go.Scatter(x=np.arange(1, len(c) + 1), y=c, name=n, mode="lines") for n, c in curves.items()])
    figure.add_hline(y=target, line_dash="dot", annotation_text=f"random search after {args.evals}")
    figure.update_layout(title="Hypervolume vs evaluations (gpt-tiny)", xaxis_title="evaluations", yaxis_title="hypervolume", xaxis_type="log")
    path = args.out / "search_efficiency.html"
    figure.write_html(path, include_plotlyjs=True)
    print(f"figure: {path}")


if __name__ == "__main__":
    main()
