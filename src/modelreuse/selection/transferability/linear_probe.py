"""Linear-probe accuracy: the accuracy of a logistic-regression head on frozen features, the usual
ground truth for transferability (and itself a strong, expensive metric).

Protocol (the one the fixtures' ranking ground truth uses): a stratified split of the rows
(``train_mask``, or ``test_size`` = 40% with ``seed``), ``StandardScaler`` fitted on the train
rows, ``LogisticRegression(C=1.0, lbfgs, tol=1e-6, max_iter=10000)`` (multinomial), accuracy on the
held-out rows. Range [0, 1]; higher is better. Cost: iterations x O(N D C).
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


def linear_probe_accuracy(F, y, train_mask=None, test_size: float = 0.4, seed: int = 0, C: float = 1.0,
                          max_iter: int = 10000) -> float:
    """Held-out accuracy of a standardised logistic-regression probe on features ``F``."""
    F = as_features(F)
    y, _ = as_labels(y, len(F))
    if train_mask is None:
        train, test = train_test_split(np.arange(len(F)), test_size=test_size, random_state=seed, stratify=y)
    else:
        train_mask = np.asarray(train_mask, dtype=bool)
        if train_mask.shape != (len(F),) or train_mask.all() or not train_mask.any():
            raise InvalidTaskDataError("train_mask must be a boolean (N,) mask with both train and test rows")
        train, test = np.flatnonzero(train_mask), np.flatnonzero(~train_mask)
    if len(np.unique(y[train])) < 2:
        raise InvalidTaskDataError("the probe's training rows hold a single class")
    scaler = StandardScaler().fit(F[train])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = LogisticRegression(C=C, max_iter=max_iter, tol=1e-6).fit(scaler.transform(F[train]), y[train])
    return float(clf.score(scaler.transform(F[test]), y[test]))
