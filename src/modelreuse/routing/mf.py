"""Matrix-factorisation router after RouteLLM's MF router (Ong et al. 2024) and EmbedLLM (Zhuang
et al. 2024): every model has a learned embedding ``v_m``, a query is projected to the same space,
and ``logit(q, m) = w . (v_m * (P x_q)) + b_m`` (``*`` elementwise; ``w`` a learned readout,
``b_m`` a per-model bias), trained on observed scores only (:mod:`modelreuse.routing._training`).
RouteLLM learns the same bilinear form from pairwise preferences; with per-query scores we fit it
directly to every model's score.

This is not :class:`modelreuse.models.factorisation.LowRankFactorisation` (the id x id
factorisation ``a_i + b_j + u_i . v_j`` of the learned recommenders and onboarding): there a row
is an id with a free learned factor, and an id never seen in fit gets a zero, uninformative one.
Here the query side is a *function of the query's embedding* (``P x_q``, shared by all queries),
because every query a router sees at run time is new; only the model side is a lookup table."""

from __future__ import annotations

import numpy as np

from modelreuse.routing import _training
from modelreuse.routing.base import ROUTERS, ScoreModel


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


@ROUTERS.register("mf")
class MFRouter(ScoreModel):
    """Bilinear query x model-embedding score model (module doc)."""

    def __init__(self, dim: int = 64, epochs: int = 30, lr: float = 1e-3, weight_decay: float = 1e-5,
                 batch_size: int = 128, seed: int = 0):
        self.dim = dim
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.seed = seed

    def _fit(self, X, S, tasks) -> None:
        self.n_models_ = S.shape[1]
        self.net_ = _training.fit_masked(lambda: _factorisation(self.n_features_in_, self.dim, self.n_models_),
                                         [X.astype(np.float32)], S, epochs=self.epochs, lr=self.lr,
                                         weight_decay=self.weight_decay, batch_size=self.batch_size, seed=self.seed)

    def _predict(self, X, tasks) -> np.ndarray:
        return _training.predict_sigmoid(self.net_, [X.astype(np.float32)])

    def _get_state(self) -> dict:
        return {"n_models": np.array(self.n_models_)} | _training.module_state(self.net_)

    def _set_state(self, state: dict) -> None:
        self.n_models_ = int(state["n_models"])
        self.net_ = _factorisation(self.n_features_in_, self.dim, self.n_models_)
        _training.load_module_state(self.net_, state)
