"""Feature augmentation: the learnwares' outputs become extra features of a small model fitted
on the user's labelled rows.

Reference: the ``learnware`` package's ``FeatureAugmentReuser``. Features are the
standardised user features concatenated with every learnware's output (probabilities or
predictions); the head is ``RidgeCV`` (regression) or L2 logistic regression whose ``C`` is chosen by
stratified k-fold CV when every class has at least 2 rows (classification), so that a few
labelled rows do not overfit. Labelled rows of one class only (a skewed user's fold) get a
constant head predicting that class. Missing cells of the user's features (``include_features``)
are filled with the column means of the rows ``fit`` saw (``SimpleImputer``; a column with no
value there becomes 0); the learnwares' outputs have none (their adapters fill missing cells).
"""

from __future__ import annotations

import numpy as np
from sklearn.dummy import DummyClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from modelreuse.errors import InvalidTaskDataError
from modelreuse.reuse.base import REUSERS, TASK_TYPES, ReuserBase, class_columns


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
        prep = (SimpleImputer(keep_empty_features=True), StandardScaler())
        if self.task_type_ == "regression":
            self.head_ = make_pipeline(*prep, RidgeCV(alphas=np.logspace(-3, 3, 13))).fit(D, y)
            return
        y_str = y.astype(str)
        counts = np.unique(y_str, return_counts=True)[1]
        if len(counts) == 1:
            self.head_ = DummyClassifier(strategy="most_frequent").fit(D, y_str)
            return
        head = make_pipeline(*prep, LogisticRegression(max_iter=2000))
        min_count = counts.min()
        if min_count >= 2:
            cv = StratifiedKFold(n_splits=int(min(5, min_count)), shuffle=True, random_state=0)
            head = GridSearchCV(head, {"logisticregression__C": np.logspace(-2, 2, 5)}, cv=cv)
        self.head_ = head.fit(D, y_str)

    def _combine(self, X: np.ndarray) -> np.ndarray:
        D = self._design(X)
        if self.task_type_ == "regression":
            return self.head_.predict(D)[:, None]
        out = np.zeros((len(X), len(self.classes_)))
        out[:, class_columns(self.classes_, self.head_.classes_)] = self.head_.predict_proba(D)
        return out
