"""MLP router: one network regresses every model's score from the query embedding (and, when the
caller knows it, a one-hot of the query's task), trained on observed scores only
(:mod:`modelreuse.routing._training`). The per-model score regression baseline of RouterBench."""

from __future__ import annotations

import numpy as np

from modelreuse.routing import _training
from modelreuse.routing.base import ROUTERS, ScoreModel


def _network(n_in: int, hidden: int, n_models: int, dropout: float):
    from torch import nn

    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, n_models))


@ROUTERS.register("mlp")
class MLPRouter(ScoreModel):
    """``sigmoid(MLP([embedding, task one-hot]))`` per model (the one-hot only with ``use_task``;
    a task not seen in training gets all zeros)."""

    def __init__(self, hidden: int = 256, dropout: float = 0.2, epochs: int = 30, lr: float = 1e-3,
                 weight_decay: float = 1e-4, batch_size: int = 128, use_task: bool = True, seed: int = 0):
        self.hidden = hidden
        self.dropout = dropout
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.use_task = use_task
        self.seed = seed

    def _inputs(self, X: np.ndarray, tasks: np.ndarray) -> np.ndarray:
        X = X.astype(np.float32)
        return np.hstack([X, _training.task_one_hot(tasks, self.tasks_)]) if self.use_task else X

    def _new_network(self):
        n_in = self.n_features_in_ + (len(self.tasks_) if self.use_task else 0)
        return _network(n_in, self.hidden, self.n_models_, self.dropout)

    def _fit(self, X, S, tasks) -> None:
        self.tasks_ = np.asarray(sorted(set(tasks)), dtype=str)
        self.n_models_ = S.shape[1]
        self.net_ = _training.fit_masked(self._new_network, [self._inputs(X, tasks)], S, epochs=self.epochs,
                                         lr=self.lr, weight_decay=self.weight_decay, batch_size=self.batch_size,
                                         seed=self.seed)

    def _predict(self, X, tasks) -> np.ndarray:
        return _training.predict_sigmoid(self.net_, [self._inputs(X, tasks)])

    def _get_state(self) -> dict:
        return {"tasks": self.tasks_, "n_models": np.array(self.n_models_)} | _training.module_state(self.net_)

    def _set_state(self, state: dict) -> None:
        self.tasks_, self.n_models_ = state["tasks"], int(state["n_models"])
        self.net_ = self._new_network()
        _training.load_module_state(self.net_, state)
