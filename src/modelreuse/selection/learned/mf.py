"""Matrix-factorisation baseline: ``z(model, dataset) ~ a_m + b_d + u_m . v_d``.

The within-group z-scores of the training records factorised by
:class:`~modelreuse.models.factorisation.LowRankFactorisation` (squared error, L2 weight
``alpha``, Adam over seeded mini-batches). A model or dataset without training records gets zero
bias and a zero vector, so for unseen models MF cannot rank (all scores equal), and for unseen
datasets it ranks by the model bias alone -- the classic cold-start failure ModelLens' metadata
views address.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from modelreuse.models.factorisation import LowRankFactorisation
from modelreuse.records.leaderboard import LeaderboardRecords
from modelreuse.selection.learned.base import RECOMMENDERS, RecordsInputMixin, training_targets
from modelreuse.selection.learned.features import lookup, vocabulary


@RECOMMENDERS.register("mf")
class MatrixFactorisation(RecordsInputMixin, BaseEstimator):
    """Models x datasets factorisation of the training z-scores (module doc)."""

    def __init__(self, dim: int = 16, epochs: int = 30, lr: float = 0.02, alpha: float = 1e-4,
                 batch_size: int = 4096, seed: int = 0):
        self.dim = dim
        self.epochs = epochs
        self.lr = lr
        self.alpha = alpha
        self.batch_size = batch_size
        self.seed = seed

    def fit(self, records: LeaderboardRecords) -> MatrixFactorisation:
        frame = training_targets(records)
        self.models_, self.datasets_ = vocabulary(frame["model"]), vocabulary(frame["dataset"])
        self.factorisation_ = LowRankFactorisation(
            n_components=self.dim, loss="mse", alpha=self.alpha, lr=self.lr, epochs=self.epochs,
            batch_size=self.batch_size, seed=self.seed,
        ).fit(*self._ids(frame), frame["z"].to_numpy(np.float64), len(self.models_), len(self.datasets_))
        return self

    def predict(self, pairs: pd.DataFrame, models: pd.DataFrame, datasets: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self)
        return self.factorisation_.predict(*self._ids(pairs))

    def _ids(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """0-based ids (vocabularies start at 1; unknown -> -1, neutral in the factorisation)."""
        return lookup(self.models_, frame["model"]) - 1, lookup(self.datasets_, frame["dataset"]) - 1
