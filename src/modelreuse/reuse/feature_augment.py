"""Feature augmentation: the learnwares' outputs become extra features of a small model fitted
on the user's labelled rows.

Reference: the ``learnware`` package's ``FeatureAugmentReuser``. Features are the
standardised user features concatenated with every learnware's output (probabilities or
predictions); the head is ``RidgeCV`` (regression) or L2 logistic regression whose ``C`` is chosen by
stratified k-fold CV when every class has at least 2 rows (classification), so that a few
labelled rows do not overfit.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from modelreuse.errors import InvalidTaskDataError
from modelreuse.reuse.base import REUSERS, TASK_TYPES, ReuserBase


@REUSERS.register("feature_augment", task_types=TASK_TYPES, needs_labels=True, pool="ranking", preference=4)
class FeatureAugmentReuser(ReuserBase):
    """``include_features``: also give the head the user's own (standardised) features."""

    def __init__(self, models=None, task_type: str | None = None, include_features: bool = False):
        super().__init__(models, task_type)
        self.include_features = include_features

    def _design(self, X: np.ndarray) -> np.ndarray:
        out = self._outputs(X)  # (k, n, C)
        parts = [out.transpose(1, 0, 2).reshape(len(X), -1)]
        if self.include_features:
            parts.insert(0, X)
        return np.hstack(parts)

    def _fit(self, X, y) -> None:
        if y is None or len(y) < 2:
            raise InvalidTaskDataError("FeatureAugmentReuser needs at least 2 labelled rows, got "
                                       f"n_samples={0 if y is None else len(y)}: fit(X, y)")
        D = self._design(X)
        if self.task_type_ == "regression":
            self.head_ = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13))).fit(D, y)
            return
        y_str = y.astype(self.classes_.dtype) if self.classes_.dtype.kind in "US" else y
        head = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        min_count = np.unique(y_str, return_counts=True)[1].min()
        if min_count >= 2:
            cv = StratifiedKFold(n_splits=int(min(5, min_count)), shuffle=True, random_state=0)
            head = GridSearchCV(head, {"logisticregression__C": np.logspace(-2, 2, 5)}, cv=cv)
        self.head_ = head.fit(D, y_str)

    def _combine(self, X: np.ndarray) -> np.ndarray:
        D = self._design(X)
        if self.task_type_ == "regression":
            return self.head_.predict(D)[:, None]
        proba = self.head_.predict_proba(D)
        out = np.zeros((len(X), len(self.classes_)))
        head_classes = np.asarray(self.head_.classes_)
        for j, c in enumerate(head_classes):
            out[:, np.flatnonzero(self.classes_.astype(str) == str(c))] = proba[:, [j]]
        return out
