"""Shared pieces of the reusers: aligning model outputs across learnwares.

All reusers are scikit-learn estimators (``fit``/``predict``, ``predict_proba`` for
classification, parameters set in ``__init__``). ``models`` is a list of
:class:`~modelreuse.models.ModelAdapter` (see ``Learnware.load_model``).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from modelreuse.errors import InvalidTaskDataError


def union_classes(models) -> np.ndarray:
    """Sorted union of the models' class labels (as strings when types differ)."""
    labels = [np.asarray(m.classes_) for m in models]
    try:
        return np.unique(np.concatenate(labels))
    except TypeError:
        return np.unique(np.concatenate([lab.astype(str) for lab in labels]))


def aligned_proba(model, X: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """``predict_proba`` of ``model`` with columns reordered/padded to ``classes``."""
    proba = model.predict_proba(X)
    out = np.zeros((len(X), len(classes)))
    own = np.asarray(model.classes_)
    if own.dtype != classes.dtype:
        own, classes = own.astype(str), classes.astype(str)
    cols = np.searchsorted(classes, own)
    out[:, cols] = proba
    return out


def stacked_outputs(models, X: np.ndarray, task_type: str, classes: np.ndarray | None) -> np.ndarray:
    """``(n_models, n, C)`` aligned probabilities or ``(n_models, n, 1)`` regression outputs."""
    if task_type == "classification":
        return np.stack([aligned_proba(m, X, classes) for m in models])
    return np.stack([np.asarray(m.predict(X), np.float64).reshape(len(X), 1) for m in models])


class ReuserBase(BaseEstimator):
    """Common fit-time checks; subclasses implement ``_fit`` and ``_combine``."""

    def __init__(self, models=None, task_type: str = "classification"):
        self.models = models
        self.task_type = task_type

    def _check(self) -> None:
        if not self.models:
            raise InvalidTaskDataError("a reuser needs at least one model")
        if self.task_type not in ("classification", "regression"):
            raise InvalidTaskDataError(f"task_type must be classification or regression, got {self.task_type!r}")
        self.classes_ = union_classes(self.models) if self.task_type == "classification" else None

    def fit(self, X=None, y=None):
        self._check()
        self._fit(None if X is None else np.asarray(X, np.float64), None if y is None else np.asarray(y))
        return self

    def _fit(self, X, y) -> None:  # default: nothing to learn
        return None

    def _outputs(self, X: np.ndarray, models=None) -> np.ndarray:
        """Aligned outputs of ``models`` (default: all) on ``X``, shape ``(k, n, C)``."""
        chosen = self.models if models is None else models
        return stacked_outputs(chosen, np.asarray(X, np.float64), self.task_type, self.classes_)

    def predict_proba(self, X) -> np.ndarray:
        if self.task_type != "classification":
            raise AttributeError("predict_proba is only available for classification")
        return self._combine(np.asarray(X, np.float64))

    def predict(self, X) -> np.ndarray:
        out = self._combine(np.asarray(X, np.float64))
        if self.task_type == "classification":
            return self.classes_[out.argmax(axis=1)]
        return out[:, 0]
