"""Own rows: no learnware at all, a random forest trained on the user's labelled rows only.

The yardstick every reuser must beat: :class:`~modelreuse.reuse.auto.AutoReuser` scores it by
cross-validation like the other label-using reusers and picks it when reuse does worse (the
simplest reusers win ties, so reuse is kept when it is as good). scikit-learn's random forest
takes missing cells (NaN) natively.
"""

from __future__ import annotations

import numpy as np

from modelreuse.errors import InvalidTaskDataError
from modelreuse.reuse.base import REUSERS, TASK_TYPES, ReuserBase, class_columns


@REUSERS.register("own_rows", task_types=TASK_TYPES, needs_labels=True, pool="none", preference=9)
class OwnRowsReuser(ReuserBase):
    """A random forest of ``n_estimators`` trees (seed ``random_state``) on the labelled rows;
    ``models`` are not used (``task_type`` must be given when there are none)."""

    uses_models = False

    def __init__(self, models=None, task_type: str | None = None, n_estimators: int = 100, random_state: int = 0):
        super().__init__(models, task_type)
        self.n_estimators = n_estimators
        self.random_state = random_state

    def _fit(self, X, y) -> None:
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        if y is None:
            raise InvalidTaskDataError("OwnRowsReuser trains on labelled rows: fit(X, y)")
        cls = RandomForestClassifier if self.task_type_ == "classification" else RandomForestRegressor
        labels = y.astype(str) if self.task_type_ == "classification" else y
        self.forest_ = cls(n_estimators=self.n_estimators, random_state=self.random_state).fit(X, labels)

    def _combine(self, X: np.ndarray) -> np.ndarray:
        if self.task_type_ == "regression":
            return self.forest_.predict(X)[:, None]
        proba = self.forest_.predict_proba(X)
        out = np.zeros((len(X), len(self.classes_)))
        out[:, class_columns(self.classes_, self.forest_.classes_)] = proba
        return out
