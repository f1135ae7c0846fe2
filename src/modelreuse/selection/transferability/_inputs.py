"""Validation shared by every transferability metric.

Each metric takes some of: ``F`` (N, D) target-task features from the candidate model, ``P``
(N, Cs) the candidate's source-class probabilities on the target rows, ``y`` (N,) target class
labels, ``t`` (N,) or (N, K) regression targets. Bad input raises
:class:`~modelreuse.errors.InvalidTaskDataError`; nothing returns a silent NaN.

Labels are re-encoded to ``0..C-1`` in sorted order. The canonical implementations use
``y.max() + 1`` classes, so a label value with no rows (e.g. labels {0, 1, 3}) becomes an empty
class there (a NaN class mean in H-score, an all-zero one-vs-rest target in LogME); here it is
simply absent. For labels that are already ``0..C-1`` the two agree.
"""

from __future__ import annotations

import numpy as np

from modelreuse.errors import InvalidTaskDataError


def as_features(F, name: str = "F", min_rows: int = 2) -> np.ndarray:
    """``F`` as a finite float64 (N, D) array with at least ``min_rows`` rows."""
    F = np.asarray(F, dtype=np.float64)
    if F.ndim != 2:
        raise InvalidTaskDataError(f"{name} must be 2-D (rows x features), got shape {F.shape}")
    if len(F) < min_rows or F.shape[1] < 1:
        raise InvalidTaskDataError(f"{name} needs at least {min_rows} rows and 1 column, got shape {F.shape}")
    if not np.isfinite(F).all():
        raise InvalidTaskDataError(f"{name} contains NaN or inf ({int((~np.isfinite(F)).sum())} entries)")
    return F


def require_variation(F: np.ndarray, metric: str) -> None:
    """Raise for features with no variation at all (every column constant): metrics that invert
    a covariance (regularised H-score, SFDA, NCTI) are undefined there. Metrics that stay defined
    return their no-information value instead (H-score, TransRate and LFC 0, LogME the evidence of
    the intercept-free model)."""
    if np.ptp(F, axis=0).max() == 0:
        raise InvalidTaskDataError(f"{metric} is undefined when every feature column is constant")


def as_labels(y, n: int) -> tuple[np.ndarray, int]:
    """Labels re-encoded to ``0..C-1`` (sorted) and the number of classes ``C >= 2``."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise InvalidTaskDataError(f"labels must be 1-D, got shape {y.shape}")
    if len(y) != n:
        raise InvalidTaskDataError(f"labels have {len(y)} rows but the features/probabilities have {n}")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise InvalidTaskDataError("labels contain NaN or inf")
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise InvalidTaskDataError(f"transferability needs at least 2 target classes, got {len(classes)}")
    return codes.astype(np.int64), len(classes)


def as_probabilities(P, name: str = "P", atol: float = 1e-6) -> np.ndarray:
    """``P`` as a float64 (N, Cs) array of non-negative rows summing to 1 (within ``atol``)."""
    P = as_features(P, name)
    if (P < 0).any():
        raise InvalidTaskDataError(f"{name} has negative entries; pass probabilities, not logits")
    sums = P.sum(axis=1)
    if np.abs(sums - 1).max() > atol:
        raise InvalidTaskDataError(f"rows of {name} must sum to 1 (worst row sums to {sums[np.argmax(np.abs(sums - 1))]:.6g}); "
                                   "apply a softmax to logits first")
    return P


def as_targets(t, n: int) -> np.ndarray:
    """Regression targets as a finite float64 (N, K) array."""
    t = np.asarray(t, dtype=np.float64)
    t = t[:, None] if t.ndim == 1 else t
    if t.ndim != 2 or len(t) != n:
        raise InvalidTaskDataError(f"regression targets must have {n} rows, got shape {t.shape}")
    if not np.isfinite(t).all():
        raise InvalidTaskDataError("regression targets contain NaN or inf")
    return t


def class_stats(F: np.ndarray, y: np.ndarray, C: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-class row counts (C,) and class means (C, D)."""
    counts = np.bincount(y, minlength=C).astype(np.float64)
    sums = np.zeros((C, F.shape[1]))
    np.add.at(sums, y, F)
    return counts, sums / counts[:, None]


def one_hot(y: np.ndarray, C: int) -> np.ndarray:
    """(N, C) float64 indicator matrix of labels ``y`` in ``0..C-1``."""
    Y = np.zeros((len(y), C))
    Y[np.arange(len(y)), y] = 1.0
    return Y
