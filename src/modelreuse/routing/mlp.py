"""MLP router: one network regresses every model's score from the query embedding (and, when the
caller knows it, a one-hot of the query's task), trained on observed scores only
(:mod:`modelreuse.routing._training`). The per-model score regression baseline of RouterBench."""

from __future__ import annotations

import numpy as np

from modelreuse.routing import _training
from modelreuse.routing.base import ScoreModel, as_tasks, check_training_data


def _network(n_in: int, hidden: int, n_models: int, dropout: float):
    from torch import nn

    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, n_models))


class MLPRouter(ScoreModel):
    """``sigmoid(MLP([embedding, task one-hot]))`` per model."""

    name = "mlp"

    def __init__(self, hidden: int = 256, dropout: float = 0.2, epochs: int = 30, lr: float = 1e-3,
                 weight_decay: float = 1e-4, batch_size: int = 128, use_task: bool = True, seed: int = 0):
        self.hidden, self.dropout, self.epochs, self.lr = hidden, dropout, epochs, lr
        self.weight_decay, self.batch_size, self.use_task, self.seed = weight_decay, batch_size, use_task, seed

    def get_config(self) -> dict:
        return {"hidden": self.hidden, "dropout": self.dropout, "epochs": self.epochs, "lr": self.lr,
                "weight_decay": self.weight_decay, "batch_size": self.batch_size, "use_task": self.use_task,
                "seed": self.seed}

    def _inputs(self, X, tasks) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        if not self.use_task:
            return X
        return np.hstack([X, _training.task_one_hot(as_tasks(tasks, len(X)), self.tasks_)])

    def fit(self, X, S, tasks=None) -> MLPRouter:
        X, S, tasks = check_training_data(X, S, tasks)
        self.tasks_ = np.asarray(sorted(set(tasks)), dtype=str)
        inputs = self._inputs(X, tasks)
        self.net_ = _network(inputs.shape[1], self.hidden, S.shape[1], self.dropout)
        _training.fit_masked(self.net_, [inputs], S, self.epochs, self.lr, self.weight_decay, self.batch_size, self.seed)
        self.n_in_, self.n_models_ = inputs.shape[1], S.shape[1]
        return self

    def predict(self, X, tasks=None) -> np.ndarray:
        return _training.predict_sigmoid(self.net_, [self._inputs(X, tasks)])

    def get_state(self) -> dict:
        return {"tasks": self.tasks_, "shape": np.array([self.n_in_, self.n_models_])} | _training.module_state(self.net_)

    def set_state(self, state: dict) -> None:
        self.tasks_ = state["tasks"]
        self.n_in_, self.n_models_ = (int(v) for v in state["shape"])
        self.net_ = _network(self.n_in_, self.hidden, self.n_models_, self.dropout)
        _training.load_module_state(self.net_, state)
