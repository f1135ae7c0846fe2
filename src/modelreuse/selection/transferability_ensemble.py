"""A learned combination of transferability metrics (a "meta-ranker"), trained on past tasks.

Single metrics disagree from task to task (see the Model Spider table), and none of them sees
how the ground truth depends on the task's *size*: a linear probe on a few hundred labelled rows
overfits a 128-d encoder that wins on ten thousand rows, so on small tasks low-dimensional
encoders rank higher than any metric computed on the task suggests. This ranker learns that from
past tasks with known ground truth (fine-tune or probe accuracy of each candidate).

Inputs per (task, candidate): every metric's score standardised *within the task* (zero mean,
unit variance across candidates, oriented so higher is better), plus two meta-features known
before any training -- ``z(log D)`` of the candidate's feature dimension and its interaction
``z(log D) * log(n)`` with the task's labelled row count ``n``. Target: the ground truth
standardised within the task. Model: ridge regression without intercept; its ``alpha`` is chosen
from ``alphas`` by an inner leave-one-task-out over the training tasks (maximising the mean
Model-Spider weighted tau), so the outer evaluation stays honest. A new task's candidates are
ranked by the prediction. Related: Model Spider (Zhang et al., NeurIPS 2023) learns a ranker
from historical performance with task and model representations; this is a linear instance over
metric scores and size meta-features.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.linear_model import Ridge
from sklearn.utils.validation import check_is_fitted

from modelreuse.errors import InvalidTaskDataError
from modelreuse.metrics.ranking import weighted_tau_model_spider
from modelreuse.records.zscore import within_group_z


def standardise_within_task(values: np.ndarray) -> np.ndarray:
    """Columns of ``values`` (models x quantities) to zero mean, unit (population) variance; constant -> 0."""
    values = np.asarray(values, dtype=np.float64)
    return within_group_z(values[:, None] if values.ndim == 1 else values, ddof=0)


@dataclass
class RankingTask:
    """One task's candidates: oriented metric ``scores`` (n_models, n_metrics), each candidate's
    feature dimension ``dims``, the task's labelled row count ``n_rows``, and (for training) the
    ground ``truth`` per candidate."""

    scores: np.ndarray
    dims: np.ndarray
    n_rows: int
    truth: np.ndarray | None = None

    def inputs(self) -> np.ndarray:
        log_dim = standardise_within_task(np.log(np.asarray(self.dims, dtype=np.float64))).ravel()
        return np.column_stack([standardise_within_task(self.scores), log_dim, log_dim * np.log(self.n_rows)])

    def target(self) -> np.ndarray:
        if self.truth is None:
            raise InvalidTaskDataError("a training task needs its ground truth")
        return standardise_within_task(self.truth).ravel()


class MetricEnsembleRanker(BaseEstimator):
    """``fit(tasks)`` on past :class:`RankingTask` s with truth; ``predict(task)`` gives one
    higher-is-better value per candidate of a new task (a scikit-learn estimator: ``alpha_``,
    ``model_`` and ``coef_`` after fit)."""

    def __init__(self, alphas: Sequence[float] = (0.1, 1.0, 10.0, 100.0)):
        self.alphas = alphas

    def fit(self, tasks: Sequence[RankingTask]) -> MetricEnsembleRanker:
        if not tasks:
            raise InvalidTaskDataError("need at least one task with ground truth to fit the ranker")
        alphas = tuple(self.alphas)
        self.alpha_ = self._choose_alpha(tasks, alphas) if len(tasks) >= 3 and len(alphas) > 1 else alphas[0]
        self.model_ = _ridge(tasks, self.alpha_)
        self.coef_ = self.model_.coef_
        self.n_features_in_ = self.model_.n_features_in_
        return self

    def predict(self, task: RankingTask) -> np.ndarray:
        check_is_fitted(self)
        return self.model_.predict(task.inputs())

    @staticmethod
    def _choose_alpha(tasks: Sequence[RankingTask], alphas: tuple[float, ...]) -> float:
        def inner_score(alpha: float) -> float:
            taus = []
            for i, held in enumerate(tasks):
                model = _ridge([t for j, t in enumerate(tasks) if j != i], alpha)
                taus.append(weighted_tau_model_spider(model.predict(held.inputs()), held.truth))
            return float(np.mean(taus))

        return max(alphas, key=inner_score)


def _ridge(tasks: Sequence[RankingTask], alpha: float) -> Ridge:
    X = np.vstack([t.inputs() for t in tasks])
    y = np.concatenate([t.target() for t in tasks])
    return Ridge(alpha=alpha, fit_intercept=False).fit(X, y)
