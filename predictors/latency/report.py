"""What calibration reports: each predictor's held-out accuracy, saved beside the predictors and printed
as a small table."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from supernas.predictors.latency.runtimes import ONNXRUNTIME
from supernas.predictors.latency.workload import Workload


@dataclass(frozen=True)
class PredictorScore:
    """Held-out accuracy: mean absolute percentage error, % within ±10 %, rank correlation."""

    mape: float
    within_10: float
    spearman: float


def score(predicted: np.ndarray, measured: np.ndarray) -> PredictorScore:
    relative = np.abs(np.asarray(predicted) - measured) / measured
    rho = spearmanr(predicted, measured).statistic
    return PredictorScore(float(100 * relative.mean()), float(100 * (relative <= 0.10).mean()), float(rho))


@dataclass(frozen=True)
class CalibrationReport:
    """Held-out scores of both predictors; ``fingerprint_hash`` is the workload key in the file names."""

    space: str
    fingerprint: dict
    fingerprint_hash: str
    workload: Workload
    n_train: int
    n_heldout: int
    scores: dict[str, PredictorScore]
    best: str
    files: list[str]

    def save(self, path: Path) -> Path:
        path.write_text(json.dumps(asdict(self), indent=1))
        return path

    @classmethod
    def load(cls, path: Path) -> CalibrationReport:
        data = json.loads(path.read_text())
        scores = {kind: PredictorScore(**s) for kind, s in data.pop("scores").items()}
        return cls(**{**data, "workload": Workload(**data["workload"]), "scores": scores})


def _backend_label(report: CalibrationReport) -> str:
    w = report.workload
    if w.backend != ONNXRUNTIME:
        return w.backend
    return (
        f"onnxruntime {report.fingerprint.get('onnxruntime', '')} (graph optimization {w.graph_optimization})"
    )


def format_report(report: CalibrationReport) -> str:
    """The report as a small text table, best predictor marked."""
    w = report.workload
    lines = [
        f"space {report.space} on {report.fingerprint['hardware']} "
        f"({w.device}, {report.fingerprint['threads']} threads, "
        f"{w.clock} clock), batch {w.batch_size} x {w.seq_len} tokens; {_backend_label(report)} backend; "
        f"{report.n_train} subnets fitted, {report.n_heldout} held out",
        f"{'predictor':<12}{'MAPE %':>9}{'within ±10%':>13}{'Spearman':>10}",
    ]
    for kind, s in report.scores.items():
        mark = "  (best)" if kind == report.best else ""
        lines.append(f"{kind:<12}{s.mape:>9.2f}{s.within_10:>12.1f}%{s.spearman:>10.3f}{mark}")
    return "\n".join(lines)
