"""What calibration reports: each predictor's held-out accuracy, saved beside the predictors and printed
as a small table."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau, spearmanr

from supernas.predictors.latency.runtimes import ONNXRUNTIME
from supernas.predictors.latency.workload import Workload


@dataclass(frozen=True)
class PredictorScore:
    """Held-out accuracy, ranking first (a search needs the order of subnets right).

    ``pairs_right``: % of held-out pairs whose order the predictor gets right, among the pairs whose
    measured latencies differ by more than the machine's noise (None: no such pair). ``mape_over_noise``:
    MAPE divided by the machine's two-pass disagreement (1 is as close as the measurement can tell).
    Reports written before these were scored load with None.
    """

    mape: float
    within_10: float
    spearman: float
    kendall: float | None = None
    pairs_right: float | None = None
    mape_over_noise: float | None = None


def score(predicted: np.ndarray, measured: np.ndarray, noise: float) -> PredictorScore:
    """Score predictions against measurements whose two-pass disagreement is ``noise`` (relative)."""
    predicted, measured = np.asarray(predicted, dtype=float), np.asarray(measured, dtype=float)
    relative = np.abs(predicted - measured) / measured
    mape = float(100 * relative.mean())
    i, j = np.triu_indices(len(measured), k=1)
    apart = np.abs(measured[i] - measured[j]) > noise * np.maximum(measured[i], measured[j])
    right = np.sign(predicted[i] - predicted[j]) == np.sign(measured[i] - measured[j])
    return PredictorScore(
        mape,
        float(100 * (relative <= 0.10).mean()),
        float(spearmanr(predicted, measured).statistic),
        float(kendalltau(predicted, measured).statistic),
        float(100 * right[apart].mean()) if apart.any() else None,
        mape / (100 * noise) if noise > 0 else None,
    )


@dataclass(frozen=True)
class CalibrationReport:
    """Held-out scores of both predictors; ``fingerprint_hash`` is the workload key in the file names.

    ``repeatability`` is the machine's own noise: the mean relative disagreement of two passes over the
    held-out subnets (:func:`.measure.two_pass_disagreement`); ``statistic`` is what one timing is;
    ``accuracy`` the relative error asked for; ``heldout_ms`` the held-out subnets' timings (in the order
    of :func:`.calibration.heldout_split`), which a later timing of them can be compared with;
    ``lut_fit`` the lookup table's fit in a line
    (:meth:`.predictors.LookupTablePredictor.fit_summary`). Reports written before these load with None.
    """

    space: str
    fingerprint: dict
    fingerprint_hash: str
    workload: Workload
    n_train: int
    n_heldout: int
    scores: dict[str, PredictorScore]
    best: str
    files: list[str]
    repeatability: float | None = None
    statistic: str | None = None
    accuracy: float | None = None
    heldout_ms: list[float] | None = None
    lut_fit: str | None = None

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


def noise_warning(report: CalibrationReport) -> str | None:
    """One line when the machine's noise is over half the asked accuracy: errors below it cannot be
    told from noise, so neither predictor can be shown to meet it."""
    noise, accuracy = report.repeatability, report.accuracy
    if noise is None or accuracy is None or noise <= accuracy / 2:
        return None
    steadier = "" if report.workload.clock == "cpu" else ", with --clock cpu --threads 1"
    return (
        f"warning: two passes over the same subnets disagree by {100 * noise:.1f}% on this machine, more "
        f"than half the asked accuracy ±{100 * accuracy:.0f}%: calibrate when the machine is quieter"
        f"{steadier} or with more --repeats"
    )


def format_report(report: CalibrationReport) -> str:
    """The report as a small text table, best predictor marked, with the machine's noise beside it."""
    w = report.workload
    lines = [
        f"space {report.space} on {report.fingerprint['hardware']} "
        f"({w.device}, {report.fingerprint['threads']} threads, "
        f"{w.clock} clock), batch {w.batch_size} x {w.seq_len} tokens; {_backend_label(report)} backend; "
        f"{report.n_train} subnets fitted, {report.n_heldout} held out",
    ]
    if report.repeatability is not None:
        lines.append(
            f"timing: {report.statistic}; the machine's repeatability: two passes over the held-out "
            f"subnets disagree by {100 * report.repeatability:.2f}% (mean)"
        )
    lines.append(
        f"{'predictor':<12}{'Spearman':>9}{'Kendall':>9}{'pairs right':>13}{'MAPE %':>8}"
        f"{'MAPE/noise':>12}{'within ±10%':>13}"
    )
    for kind, s in report.scores.items():
        mark = "  (best)" if kind == report.best else ""
        lines.append(
            f"{kind:<12}{s.spearman:>9.3f}{_figure(s.kendall, '.3f'):>9}"
            f"{_figure(s.pairs_right, '.1f', '%'):>13}{s.mape:>8.2f}"
            f"{_figure(s.mape_over_noise, '.2f', 'x'):>12}{s.within_10:>12.1f}%{mark}"
        )
    if report.lut_fit is not None:
        lines.append(report.lut_fit)
    warning = noise_warning(report)
    return "\n".join(lines + ([warning] if warning else []))


def _figure(value: float | None, spec: str, suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"
