"""Matrix-factorisation baseline: ``z(model, dataset) ~ b_m + b_d + u_m . v_d``.

Fitted by Adam on the within-group z-scores of the training records (L2 weight ``weight_decay``),
seeded. A model or dataset without training records gets zero bias and a zero vector, so for
unseen models MF cannot rank (all scores equal), and for unseen datasets it ranks by the model
bias alone -- the classic cold-start failure ModelLens' metadata views address.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from modelreuse.records.leaderboard import LeaderboardRecords
from modelreuse.selection.learned.base import training_targets
from modelreuse.selection.learned.features import lookup, vocabulary


class MatrixFactorisation:
    name = "mf"

    def __init__(self, dim: int = 16, epochs: int = 30, lr: float = 0.02, weight_decay: float = 1e-4,
                 batch_size: int = 4096, seed: int = 0):
        self.dim, self.epochs, self.lr, self.weight_decay = dim, epochs, lr, weight_decay
        self.batch_size, self.seed = batch_size, seed

    def fit(self, records: LeaderboardRecords) -> MatrixFactorisation:
        import torch

        frame = training_targets(records)
        self.models_, self.datasets_ = vocabulary(frame["model"]), vocabulary(frame["dataset"])
        m = torch.as_tensor(lookup(self.models_, frame["model"]))
        d = torch.as_tensor(lookup(self.datasets_, frame["dataset"]))
        z = torch.as_tensor(frame["z"].to_numpy(np.float32))
        torch.manual_seed(self.seed)
        self.U = torch.nn.Embedding(len(self.models_) + 1, self.dim + 1)
        self.V = torch.nn.Embedding(len(self.datasets_) + 1, self.dim + 1)
        for table in (self.U, self.V):
            torch.nn.init.normal_(table.weight, std=0.05)
        optimiser = torch.optim.Adam([self.U.weight, self.V.weight], lr=self.lr)
        generator = torch.Generator().manual_seed(self.seed)
        for _ in range(self.epochs):
            for batch in torch.randperm(len(z), generator=generator).split(self.batch_size):
                optimiser.zero_grad()
                u, v = self.U(m[batch]), self.V(d[batch])
                loss = ((self._predict(u, v) - z[batch]) ** 2).mean()
                (loss + self.weight_decay * (u.pow(2).sum(1) + v.pow(2).sum(1)).mean()).backward()
                optimiser.step()
        with torch.no_grad():                       # unknown entries stay exactly neutral
            self.U.weight[0].zero_()
            self.V.weight[0].zero_()
        return self

    @staticmethod
    def _predict(u, v):
        return u[:, 0] + v[:, 0] + (u[:, 1:] * v[:, 1:]).sum(1)

    def score(self, pairs: pd.DataFrame, models: pd.DataFrame, datasets: pd.DataFrame) -> np.ndarray:
        import torch

        m = torch.as_tensor(lookup(self.models_, pairs["model"]))
        d = torch.as_tensor(lookup(self.datasets_, pairs["dataset"]))
        with torch.no_grad():
            return self._predict(self.U(m), self.V(d)).double().numpy()
