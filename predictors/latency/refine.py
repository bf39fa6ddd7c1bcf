"""The lookup table's fit: a linear correction shared by all parts, and each part's entry refined by the
timings of whole subnets, as far as cross-validation on those subnets says it predicts unseen ones better.

Why refine: a part timed alone is not quite the same part inside a whole network (what its neighbours
leave in the caches, what a call costs there), and the whole subnets timed at calibration say by how much,
part by part. A ridge penalty pulls each refinement toward none, as strongly as 5-fold cross-validation
picks; no refinement at all is among the choices, so a space whose subnets cannot tell more than the
profiled entries keeps them. The refined table stays a sum of parts, which the block library relies on.
On the MiniLM space (torch), offline on the same timings against a later re-timing, MAPE / noise went
from 0.91, 1.04, 0.87 to 0.74, 0.81, 0.76 (three seeds); on gpt-tiny, whose 140 fitted subnets see
600 of its 1,263 parts, from 1.02, 1.22, 1.60 to 0.96, 1.22, 1.53.
"""

from __future__ import annotations

import numpy as np

STRENGTHS: tuple[float | None, ...] = (None, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)  # None: no refinement
FOLDS = 5


def relative_ridge_fits(
    shared: np.ndarray, entries: np.ndarray, latencies: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each of :data:`STRENGTHS`, the ``(a, g)`` that minimise the squared relative error of
    ``shared @ a + entries @ g`` (each subnet counts the same) plus ``strength * |g|^2``.

    One SVD serves every strength: for a given ``g`` the best ``a`` is plain least squares, so ``g`` is a
    ridge regression on what the shared columns leave unexplained.
    """
    shared, entries = shared / latencies[:, None], entries / latencies[:, None]
    target = np.ones(len(latencies))
    u, s, _ = np.linalg.svd(shared, full_matrices=False)
    basis = u[:, s > s.max() * 1e-10]  # the shared columns' span, however many of them are redundant

    def unexplained(x: np.ndarray) -> np.ndarray:
        return x - basis @ (basis.T @ x)

    left, values, right_t = np.linalg.svd(unexplained(entries), full_matrices=False)
    along = left.T @ unexplained(target)
    fits = []
    for strength in STRENGTHS:
        g = np.zeros(entries.shape[1])
        if strength is not None:
            g = right_t.T @ (values / (values**2 + strength) * along)
        a, *_ = np.linalg.lstsq(shared, target - entries @ g, rcond=None)
        fits.append((a, g))
    return fits


def cross_validated_errors(shared: np.ndarray, entries: np.ndarray, latencies: np.ndarray) -> np.ndarray:
    """Each strength's mean relative error on each fold of subnets, fitted on the others (the folds fixed
    by a seeded shuffle)."""
    n = len(latencies)
    errors = []
    for held in np.array_split(np.random.default_rng(0).permutation(n), min(FOLDS, n)):
        fitted = np.setdiff1d(np.arange(n), held)
        fits = relative_ridge_fits(shared[fitted], entries[fitted], latencies[fitted])
        predicted = np.array([shared[held] @ a + entries[held] @ g for a, g in fits])
        errors.append(np.abs(predicted - latencies[held]) / latencies[held])
    return np.concatenate(errors, axis=1).mean(axis=1)


def refined_fit(
    shared: np.ndarray, entries: np.ndarray, latencies: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float | None]:
    """The shared coefficients, each entry's refinement, and the ridge strength cross-validation chose
    (None, no refinement, unless a strength predicts the held-out folds strictly better)."""
    chosen = int(np.argmin(cross_validated_errors(shared, entries, latencies)))  # the first of equals
    a, g = relative_ridge_fits(shared, entries, latencies)[chosen]
    return a, g, STRENGTHS[chosen]
