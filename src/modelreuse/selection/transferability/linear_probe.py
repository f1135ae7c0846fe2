"""Linear-probe accuracy: the accuracy of a logistic-regression head on frozen features -- the one
probe protocol of modelreuse, used both as a (strong, expensive) transferability metric and as the
ground truth of the transferability benchmarks.

Protocol (:func:`probe_accuracy`, the one the fixtures' ranking ground truth uses):
``StandardScaler`` fitted on the training rows, ``LogisticRegression(C=1.0, solver="lbfgs",
tol=1e-6, max_iter=10000)`` (multinomial) fitted on the scaled training rows, accuracy on the
scaled held-out rows. As a metric (:func:`linear_probe_accuracy`) the rows of one labelled set are
split: ``train_mask``, or a stratified split with ``test_size`` = 40% and ``seed``; as a benchmark's
ground truth the target's own training and test splits are used. Range [0, 1]; higher is better.
Cost: iterations x O(N D C).
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from modelreuse.errors import InvalidTaskDataError
from modelreuse.selection.transferability._inputs import as_features, as_labels
from modelreuse.selection.transferability._metric import METRICS

C_PROBE, TOL, MAX_ITER = 1.0, 1e-6, 10000


def probe_accuracy(train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray], C: float = C_PROBE,
                   tol: float = TOL, max_iter: int = MAX_ITER) -> float:
    """Accuracy on ``test = (F, y)`` of the standardised logistic probe fitted on ``train = (F, y)``
    (module doc; the defaults are the protocol)."""
    (F_train, y_train), (F_test, y_test) = train, test
    if len(np.unique(y_train)) < 2:
        raise InvalidTaskDataError("the probe's training rows hold a single class")
    scaler = StandardScaler().fit(F_train)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = LogisticRegression(C=C, max_iter=max_iter, tol=tol).fit(scaler.transform(F_train), y_train)
    return float(clf.score(scaler.transform(F_test), y_test))


@METRICS.register("linear_probe_accuracy", kind="features", higher_is_better=True, pool_relative=False)
def linear_probe_accuracy(F, y, train_mask=None, test_size: float = 0.4, seed: int = 0, C: float = C_PROBE,
                          max_iter: int = MAX_ITER) -> float:
    """Held-out accuracy of the probe (:func:`probe_accuracy`) on a split of ``(F, y)``."""
    F = as_features(F)
    y, _ = as_labels(y, len(F))
    if train_mask is None:
        train, test = train_test_split(np.arange(len(F)), test_size=test_size, random_state=seed, stratify=y)
    else:
        train_mask = np.asarray(train_mask, dtype=bool)
        if train_mask.shape != (len(F),) or train_mask.all() or not train_mask.any():
            raise InvalidTaskDataError("train_mask must be a boolean (N,) mask with both train and test rows")
        train, test = np.flatnonzero(train_mask), np.flatnonzero(~train_mask)
    return probe_accuracy((F[train], y[train]), (F[test], y[test]), C=C, max_iter=max_iter)
