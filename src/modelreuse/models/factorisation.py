"""The one low-rank matrix factorisation of modelreuse (learned recommenders, model onboarding).

Model, for an observed entry ``(i, j)`` of a rows x columns matrix::

    f(i, j) = a_i + b_j + u_i . v_j        (row bias a, column bias b, n_components-wide factors)

and the prediction is ``f`` (``loss="mse"``) or ``sigmoid(f)`` (``loss="logistic"``, values in [0, 1]).
Fitted on observed ``(row id, column id, value)`` triples only: missing entries (NaN values, or
pairs never given) are masked out of the loss. Loss per mini-batch ``B``::

    mean_B loss(f(i, j), value) + alpha * mean_B (|u_i|^2 + |v_j|^2)

(squared error or binary cross-entropy with logits; the L2 term weights each factor by how often it
is observed, the usual stochastic-gradient form; biases are not penalised). Adam over seeded
shuffled mini-batches of ``batch_size`` (None: the whole set every epoch) for ``epochs`` epochs via
:func:`modelreuse._torch.minimise`; factors start ``normal(0, init_scale)``, biases at 0.

Ids are integers ``0 .. n-1``; at prediction a row or column id never seen in fit (negative or
``>= n``) contributes zero bias and a zero vector, so it is neutral. :meth:`fold_in` fits *new*
rows from some of their entries with every column parameter frozen (e.g. a new model from its
aptitude-test results) and returns a factorisation whose rows are those new rows.
"""

from __future__ import annotations

import copy
import itertools
from typing import Literal

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from modelreuse._torch import minimise, shuffled_batches
from modelreuse.errors import InvalidTaskDataError


class LowRankFactorisation(BaseEstimator):
    """``fit(rows, columns, values)``, ``predict(rows, columns)``, ``fold_in(...)`` (module doc)."""

    def __init__(self, n_components: int = 16, loss: Literal["mse", "logistic"] = "mse", alpha: float = 1e-4,
                 row_bias: bool = True, column_bias: bool = True, lr: float = 0.02, epochs: int = 30,
                 batch_size: int | None = 4096, init_scale: float = 0.05, seed: int = 0):
        self.n_components = n_components
        self.loss = loss
        self.alpha = alpha
        self.row_bias = row_bias
        self.column_bias = column_bias
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.init_scale = init_scale
        self.seed = seed

    def fit(self, rows, columns, values, n_rows: int | None = None, n_columns: int | None = None) -> LowRankFactorisation:
        """Fit on the observed entries; ``n_rows``/``n_columns`` default to the largest id + 1."""
        import torch

        rows, columns, values = _triples(rows, columns, values)
        if self.loss not in ("mse", "logistic"):
            raise InvalidTaskDataError(f"loss must be 'mse' or 'logistic', got {self.loss!r}")
        self.n_rows_ = int(n_rows if n_rows is not None else rows.max() + 1)
        self.n_columns_ = int(n_columns if n_columns is not None else columns.max() + 1)
        torch.manual_seed(self.seed)
        self.row_factors_ = torch.nn.Parameter(self.init_scale * torch.randn(self.n_rows_, self.n_components))
        self.column_factors_ = torch.nn.Parameter(self.init_scale * torch.randn(self.n_columns_, self.n_components))
        self.row_bias_ = torch.nn.Parameter(torch.zeros(self.n_rows_))
        self.column_bias_ = torch.nn.Parameter(torch.zeros(self.n_columns_))
        trained = [self.row_factors_, self.column_factors_] + [self.row_bias_] * self.row_bias + \
            [self.column_bias_] * self.column_bias
        self._minimise(trained, rows, columns, values, self.alpha)
        for name in ("row_factors_", "column_factors_", "row_bias_", "column_bias_"):
            setattr(self, name, getattr(self, name).detach())
        return self

    def fold_in(self, rows, columns, values, n_rows: int | None = None, alpha: float | None = None) -> LowRankFactorisation:
        """A copy whose rows are *new* rows fitted on their observed entries with every column
        parameter frozen (factors from 0, row biases when ``row_bias``); ``alpha`` defaults to
        the fit's. Predict with the new rows' ids ``0 .. n_rows-1``."""
        import torch

        check_is_fitted(self)
        rows, columns, values = _triples(rows, columns, values)
        folded = copy.copy(self)
        folded.n_rows_ = int(n_rows if n_rows is not None else rows.max() + 1)
        folded.row_factors_ = torch.nn.Parameter(torch.zeros(folded.n_rows_, self.n_components))
        folded.row_bias_ = torch.nn.Parameter(torch.zeros(folded.n_rows_))
        trained = [folded.row_factors_] + [folded.row_bias_] * self.row_bias
        folded._minimise(trained, rows, columns, values, self.alpha if alpha is None else alpha)
        folded.row_factors_, folded.row_bias_ = folded.row_factors_.detach(), folded.row_bias_.detach()
        return folded

    def predict(self, rows, columns) -> np.ndarray:
        """``f(i, j)`` (``mse``) or ``sigmoid(f(i, j))`` (``logistic``) for every pair; unknown ids are neutral."""
        import torch

        check_is_fitted(self)
        rows, columns = np.asarray(rows, dtype=np.int64), np.asarray(columns, dtype=np.int64)
        known_rows = (rows >= 0) & (rows < self.n_rows_)
        known_columns = (columns >= 0) & (columns < self.n_columns_)
        r = torch.as_tensor(np.where(known_rows, rows, 0))
        c = torch.as_tensor(np.where(known_columns, columns, 0))
        with torch.no_grad():
            row_part = torch.where(torch.as_tensor(known_rows)[:, None], self.row_factors_[r], 0.0)
            column_part = torch.where(torch.as_tensor(known_columns)[:, None], self.column_factors_[c], 0.0)
            f = (row_part * column_part).sum(1) + torch.where(torch.as_tensor(known_rows), self.row_bias_[r], 0.0) \
                + torch.where(torch.as_tensor(known_columns), self.column_bias_[c], 0.0)
            out = torch.sigmoid(f) if self.loss == "logistic" else f
        return out.double().numpy()

    def _minimise(self, parameters: list, rows: np.ndarray, columns: np.ndarray, values: np.ndarray, alpha: float) -> None:
        import torch
        import torch.nn.functional as F

        r, c = torch.as_tensor(rows), torch.as_tensor(columns)
        target = torch.as_tensor(values, dtype=torch.float32)

        def loss_of(batch):
            u, v = self.row_factors_[r[batch]], self.column_factors_[c[batch]]
            f = (u * v).sum(1) + self.row_bias_[r[batch]] + self.column_bias_[c[batch]]
            fit = F.binary_cross_entropy_with_logits(f, target[batch]) if self.loss == "logistic" else \
                ((f - target[batch]) ** 2).mean()
            return fit + alpha * (u.pow(2).sum(1) + v.pow(2).sum(1)).mean()

        batches = itertools.repeat(slice(None), self.epochs) if self.batch_size is None else \
            shuffled_batches(len(target), self.batch_size, self.epochs, self.seed)
        minimise(parameters, loss_of, batches, lr=self.lr)


def _triples(rows, columns, values) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integer ids and float values of the observed (finite) entries."""
    rows, columns = np.asarray(rows, dtype=np.int64).ravel(), np.asarray(columns, dtype=np.int64).ravel()
    values = np.asarray(values, dtype=np.float64).ravel()
    if not len(rows) == len(columns) == len(values):
        raise InvalidTaskDataError(f"rows, columns and values differ in length ({len(rows)}, {len(columns)}, {len(values)})")
    observed = np.isfinite(values)
    if not observed.any():
        raise InvalidTaskDataError("no observed (finite) entry to factorise")
    if (rows[observed] < 0).any() or (columns[observed] < 0).any():
        raise InvalidTaskDataError("row and column ids must be non-negative integers")
    return rows[observed], columns[observed], values[observed]
