"""kNN router: a query's predicted scores are the mean scores of its k nearest training queries
(cosine similarity of query embeddings), as in RouterBench's and RouterDC's kNN baselines."""

from __future__ import annotations

import warnings

import numpy as np

from modelreuse.errors import RoutingDataError
from modelreuse.routing.base import ScoreModel, check_training_data


def _unit(X: np.ndarray) -> np.ndarray:
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


class KNNRouter(ScoreModel):
    """Mean of the ``k`` most similar training queries' scores, per model, ignoring missing scores
    (a model with no score among the neighbours falls back to its overall training mean)."""

    name = "knn"

    def __init__(self, k: int = 40, batch_size: int = 2048):
        if k < 1:
            raise RoutingDataError("k must be >= 1")
        self.k, self.batch_size = int(k), int(batch_size)

    def get_config(self) -> dict:
        return {"k": self.k, "batch_size": self.batch_size}

    def fit(self, X, S, tasks=None) -> KNNRouter:
        X, S, _ = check_training_data(X, S, tasks)
        self.X_, self.S_ = _unit(X), S
        return self

    def predict(self, X, tasks=None) -> np.ndarray:
        X = _unit(np.asarray(X, dtype=np.float64))
        k = min(self.k, len(self.X_))
        overall = np.nanmean(self.S_, axis=0)
        out = []
        for start in range(0, len(X), self.batch_size):
            sims = X[start:start + self.batch_size] @ self.X_.T
            nearest = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN neighbourhoods, handled below
                means = np.nanmean(self.S_[nearest], axis=1)
            out.append(np.where(np.isnan(means), overall, means))
        return np.vstack(out)

    def get_state(self) -> dict:
        return {"X": self.X_, "S": self.S_}

    def set_state(self, state: dict) -> None:
        self.X_, self.S_ = state["X"], state["S"]
