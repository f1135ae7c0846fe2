"""A learned combination of transferability metrics (a "meta-ranker").

Single metrics disagree from task to task (see the Model Spider table); ranking from several at
once is more reliable. For every past task with known ground truth (fine-tune or probe accuracy
of each candidate), each metric's scores are standardised *within the task* (zero mean, unit
variance across the candidate models, oriented so higher is better), and the ground truth is
standardised the same way. A ridge regression from the standardised metric vector to the
standardised truth is fitted on all (task, model) pairs of the past tasks; a new task's
candidates are ranked by the regression's prediction. Evaluated leave-one-task-out by the
transfer benchmark.

With ``use_model_prior=True`` (default) one more input joins the metric vector: the model's
*prior*, its mean standardised ground truth over the past tasks it was evaluated on (0 for a
model never seen). This is the historical-performance signal Model Spider learns model tokens
from; the regression decides how much to trust it against the metrics on the new task. Related: Model Spider (Zhang et al., NeurIPS 2023) learns a ranker from
historical performance too; this is the simplest linear instance over metric scores.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.linear_model import Ridge


def standardise_within_task(values: np.ndarray) -> np.ndarray:
    """Columns of ``values`` (models x quantities) to zero mean, unit variance; constant -> 0."""
    values = np.asarray(values, dtype=np.float64)
    values = values[:, None] if values.ndim == 1 else values
    std = values.std(axis=0)
    return np.divide(values - values.mean(axis=0), std, out=np.zeros_like(values), where=std > 0)


class MetricEnsembleRanker:
    """``fit(tasks)`` with ``tasks = [(scores (n_models, n_metrics), truth (n_models,), model_names), ...]``;
    ``predict(scores, model_names)`` gives one higher-is-better value per model of a new task."""

    def __init__(self, alpha: float = 10.0, use_model_prior: bool = True):
        self.alpha = alpha
        self.use_model_prior = use_model_prior

    def fit(self, tasks: Sequence[tuple[np.ndarray, np.ndarray, Sequence[str]]]) -> "MetricEnsembleRanker":
        if not tasks:
            raise ValueError("need at least one task with ground truth to fit the ranker")
        history: dict[str, list[float]] = {}
        for _, truth, names in tasks:
            for name, value in zip(names, standardise_within_task(truth).ravel()):
                history.setdefault(name, []).append(value)
        self.prior_ = {name: float(np.mean(v)) for name, v in history.items()}
        X = np.vstack([self._inputs(S, names) for S, _, names in tasks])
        y = np.concatenate([standardise_within_task(t).ravel() for _, t, _ in tasks])
        self.model_ = Ridge(alpha=self.alpha, fit_intercept=False).fit(X, y)
        self.coef_ = self.model_.coef_
        return self

    def predict(self, scores: np.ndarray, model_names: Sequence[str]) -> np.ndarray:
        return self._inputs(scores, model_names) @ self.coef_

    def _inputs(self, scores: np.ndarray, names: Sequence[str]) -> np.ndarray:
        X = standardise_within_task(scores)
        if self.use_model_prior:
            X = np.column_stack([X, [self.prior_.get(n, 0.0) for n in names]])
        return X
