"""Averaging reuser: mean of regression outputs, soft vote (mean probability) or hard vote.

Reference: the ``learnware`` package's ``AveragingReuser`` (``mean`` / ``vote_by_prob`` /
``vote_by_label``). Optional ``weights`` (e.g. mixture-search weights) make it a weighted mean:
``f(x) = sum_i w_i f_i(x) / sum_i w_i``.
"""

from __future__ import annotations

import numpy as np

from modelreuse.reuse.base import REUSERS, TASK_TYPES, ReuserBase


@REUSERS.register("averaging", task_types=TASK_TYPES, needs_labels=False, pool="mixture", preference=2)
class AveragingReuser(ReuserBase):
    """``mode``: ``"soft"`` (mean probabilities; regression: mean) or ``"vote"`` (majority of labels)."""

    def __init__(self, models=None, task_type: str | None = None, mode: str = "soft", weights=None):
        super().__init__(models, task_type)
        self.mode = mode
        self.weights = weights

    def _combine(self, X: np.ndarray) -> np.ndarray:
        out = self._outputs(X)
        w = np.ones(len(out)) if self.weights is None else np.asarray(self.weights, np.float64)
        w = w / w.sum()
        if self.task_type_ == "classification" and self.mode == "vote":
            out = (out == out.max(axis=2, keepdims=True)).astype(np.float64)
        return np.tensordot(w, out, axes=1)
