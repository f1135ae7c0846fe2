"""Matrix-factorisation router after RouteLLM's MF router (Ong et al. 2024) and EmbedLLM (Zhuang
et al. 2024): every model has a learned embedding ``v_m``, a query is projected to the same space,
and ``logit(q, m) = w . (v_m * (P x_q)) + b_m`` (``*`` elementwise; ``w`` a learned readout,
``b_m`` a per-model bias), trained on observed scores only (:mod:`modelreuse.routing._training`).
RouteLLM learns the same bilinear form from pairwise preferences; with per-query scores we fit it
directly to every model's score."""

from __future__ import annotations

import numpy as np

from modelreuse.routing import _training
from modelreuse.routing.base import ScoreModel, check_training_data


def _factorisation(n_in: int, dim: int, n_models: int):
    import torch
    from torch import nn

    class Factorisation(nn.Module):
        def __init__(self):
            super().__init__()
            self.project = nn.Linear(n_in, dim)
            self.models = nn.Embedding(n_models, dim)
            self.readout = nn.Linear(dim, 1, bias=False)
            self.bias = nn.Parameter(torch.zeros(n_models))

        def forward(self, x):
            joint = self.project(x)[:, None, :] * self.models.weight[None, :, :]
            return self.readout(joint).squeeze(-1) + self.bias

    return Factorisation()


class MFRouter(ScoreModel):
    """Bilinear query x model-embedding score model (module doc)."""

    name = "mf"

    def __init__(self, dim: int = 64, epochs: int = 30, lr: float = 1e-3, weight_decay: float = 1e-5,
                 batch_size: int = 128, seed: int = 0):
        self.dim, self.epochs, self.lr, self.weight_decay = dim, epochs, lr, weight_decay
        self.batch_size, self.seed = batch_size, seed

    def get_config(self) -> dict:
        return {"dim": self.dim, "epochs": self.epochs, "lr": self.lr, "weight_decay": self.weight_decay,
                "batch_size": self.batch_size, "seed": self.seed}

    def fit(self, X, S, tasks=None) -> MFRouter:
        X, S, _ = check_training_data(X, S, tasks)
        self.n_in_, self.n_models_ = X.shape[1], S.shape[1]
        self.net_ = _factorisation(self.n_in_, self.dim, self.n_models_)
        _training.fit_masked(self.net_, [X.astype(np.float32)], S, self.epochs, self.lr, self.weight_decay,
                             self.batch_size, self.seed)
        return self

    def predict(self, X, tasks=None) -> np.ndarray:
        return _training.predict_sigmoid(self.net_, [np.asarray(X, dtype=np.float32)])

    def get_state(self) -> dict:
        return {"shape": np.array([self.n_in_, self.n_models_])} | _training.module_state(self.net_)

    def set_state(self, state: dict) -> None:
        self.n_in_, self.n_models_ = (int(v) for v in state["shape"])
        self.net_ = _factorisation(self.n_in_, self.dim, self.n_models_)
        _training.load_module_state(self.net_, state)
