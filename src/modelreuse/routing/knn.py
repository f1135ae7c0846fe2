"""kNN router: a query's predicted scores are the mean scores of its k nearest training queries
(cosine similarity of query embeddings), as in RouterBench's and RouterDC's kNN baselines."""

from __future__ import annotations

import warnings

import numpy as np

from modelreuse.errors import RoutingDataError
from modelreuse.routing.base import ROUTERS, ScoreModel


def _unit(X: np.ndarray) -> np.ndarray:
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


@ROUTERS.register("knn")
class KNNRouter(ScoreModel):
    """Mean of the ``k`` most similar training queries' scores, per model, ignoring missing scores
    (a model with no score among the neighbours falls back to its overall training mean).
    ``batch_size`` queries are compared with the training set at a time (memory only)."""

    def __init__(self, k: int = 40, batch_size: int = 2048):
        self.k = k
        self.batch_size = batch_size

    def _fit(self, X, S, tasks) -> None:
        if int(self.k) < 1 or int(self.batch_size) < 1:
            raise RoutingDataError(f"k and batch_size must be >= 1, got k={self.k}, batch_size={self.batch_size}")
        self.X_, self.S_ = _unit(X), S

    def _predict(self, X, tasks) -> np.ndarray:
        X = _unit(X)
        k, step = min(int(self.k), len(self.X_)), int(self.batch_size)
        overall = np.nanmean(self.S_, axis=0)
        out = []
        for start in range(0, len(X), step):
            sims = X[start:start + step] @ self.X_.T
            nearest = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN neighbourhoods, handled below
                means = np.nanmean(self.S_[nearest], axis=1)
            out.append(np.where(np.isnan(means), overall, means))
        return np.vstack(out)

    def _get_state(self) -> dict:
        return {"X": self.X_, "S": self.S_}

    def _set_state(self, state: dict) -> None:
        self.X_, self.S_ = state["X"], state["S"]
