"""Ensemble pruning: greedy forward selection with replacement on the user's labelled rows.

Paper: Caruana et al., "Ensemble selection from libraries of models", ICML 2004. Each step adds
the model (repeats allowed) that most improves the labelled-row score of the running average
(accuracy of the soft vote for classification, -MSE for regression); stops after
``max_steps`` or when no model improves it. Prediction averages the selected multiset.
"""

from __future__ import annotations

import numpy as np

from modelreuse.errors import InvalidTaskDataError
from modelreuse.reuse.base import REUSERS, TASK_TYPES, ReuserBase


@REUSERS.register("ensemble_pruning", task_types=TASK_TYPES, needs_labels=True, pool="ranking", preference=3)
class EnsemblePruningReuser(ReuserBase):
    """``max_steps``: at most this many additions; ``weights_`` holds the selected multiset's shares."""

    def __init__(self, models=None, task_type: str | None = None, max_steps: int = 10):
        super().__init__(models, task_type)
        self.max_steps = max_steps

    def _fit(self, X, y) -> None:
        if y is None:
            raise InvalidTaskDataError("EnsemblePruningReuser needs labelled rows: fit(X, y)")
        out = self._outputs(X)
        counts = np.zeros(len(out))
        total = np.zeros(out.shape[1:])
        best = -np.inf
        for _ in range(self.max_steps):
            scores = [self._score((total + out[i]) / (counts.sum() + 1), y) for i in range(len(out))]
            i = int(np.argmax(scores))
            if scores[i] <= best and counts.sum() > 0:
                break
            best, counts[i], total = scores[i], counts[i] + 1, total + out[i]
        self.weights_ = counts / counts.sum()

    def _score(self, avg: np.ndarray, y: np.ndarray) -> float:
        if self.task_type_ == "classification":
            pred = self.classes_[avg.argmax(axis=1)]
            return float(np.mean(pred.astype(str) == y.astype(str)))
        return -float(np.mean((avg[:, 0] - y) ** 2))

    def _combine(self, X: np.ndarray) -> np.ndarray:
        keep = self.weights_ > 0
        out = self._outputs(X, [m for m, k in zip(self.models, keep) if k])
        return np.tensordot(self.weights_[keep], out, axes=1)
