"""The one low-rank factorisation on a real matrix: metabench-like 0/1 results are not at hand in
a fast test, so the real leaderboard of open_clip (121 models x 38 datasets) is factorised."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from modelreuse.errors import InvalidTaskDataError
from modelreuse.models.factorisation import LowRankFactorisation
from tests.conftest import DATA


@pytest.fixture(scope="module")
def matrix() -> np.ndarray:
    """open_clip zero-shot accuracies, models x datasets, column-standardised (NaN where missing)."""
    table = pd.read_csv(DATA / "leaderboards" / "open_clip" / "docs" / "openclip_results.csv")
    meta = {"name", "pretrained", "params (M)", "FLOPs (B)", "Average perf. on 38 datasets"}
    scores = table[[c for c in table.columns if c not in meta]].apply(pd.to_numeric, errors="coerce").to_numpy()
    return (scores - np.nanmean(scores, 0)) / np.nanstd(scores, 0)


def _held_out(matrix: np.ndarray, seed: int = 0):
    rows, cols = np.indices(matrix.shape)
    rows, cols, values = rows.ravel(), cols.ravel(), matrix.ravel()
    known = np.isfinite(values)
    test = known & (np.random.default_rng(seed).random(len(values)) < 0.2)
    train = np.where(test, np.nan, values)
    return rows, cols, train, test, values


def test_completion_beats_the_column_mean_and_masks_missing_entries(matrix):
    rows, cols, train, test, values = _held_out(matrix)
    mf = LowRankFactorisation(n_components=4, alpha=1e-3, lr=0.05, epochs=300, batch_size=None, seed=0)
    predicted = mf.fit(rows, cols, train).predict(rows[test], cols[test])
    column_mean = np.nanmean(train.reshape(matrix.shape), axis=0)[cols[test]]
    assert np.mean((predicted - values[test]) ** 2) < 0.75 * np.mean((column_mean - values[test]) ** 2)
    assert (mf.n_rows_, mf.n_columns_) == matrix.shape


def test_fold_in_predicts_a_new_row_from_some_of_its_columns(matrix):
    rows, cols, values = *np.indices(matrix[:100].shape), matrix[:100]
    mf = LowRankFactorisation(n_components=4, alpha=1e-3, lr=0.05, epochs=300, batch_size=None, seed=0)
    mf.fit(rows.ravel(), cols.ravel(), values.ravel())
    new = matrix[100:]
    seen = np.arange(0, new.shape[1], 2)                       # half the datasets are observed
    r, c = np.meshgrid(np.arange(len(new)), seen, indexing="ij")
    folded = mf.fold_in(r.ravel(), c.ravel(), new[:, seen].ravel())
    unseen = np.setdiff1d(np.arange(new.shape[1]), seen)
    r, c = np.meshgrid(np.arange(len(new)), unseen, indexing="ij")
    predicted, truth = folded.predict(r.ravel(), c.ravel()), new[:, unseen].ravel()
    neutral = mf.predict(np.full(r.size, -1), c.ravel())         # an unknown row: column biases alone
    known = np.isfinite(truth)
    assert np.mean((predicted - truth)[known] ** 2) < 0.5 * np.mean((neutral - truth)[known] ** 2)
    assert folded.n_rows_ == len(new) and mf.n_rows_ == 100       # the fitted rows are untouched


def test_logistic_loss_predicts_probabilities_and_unknown_ids_are_neutral(matrix):
    rows, cols = np.indices(matrix.shape)
    above = np.where(np.isfinite(matrix), (matrix > 0).astype(float), np.nan)
    mf = LowRankFactorisation(n_components=4, loss="logistic", epochs=50, batch_size=512, seed=1)
    p = mf.fit(rows.ravel(), cols.ravel(), above.ravel()).predict(rows.ravel(), cols.ravel())
    known = np.isfinite(above.ravel())
    assert ((p >= 0) & (p <= 1)).all() and np.mean((p[known] > 0.5) == (above.ravel()[known] > 0.5)) > 0.8
    neutral = LowRankFactorisation(loss="mse", row_bias=False, column_bias=False, epochs=1).fit([0, 1], [0, 1], [1.0, -1.0])
    assert neutral.predict([5, -1], [0, 0]).tolist() == [0.0, 0.0]


def test_estimator_contract_and_bad_input():
    mf = LowRankFactorisation(n_components=3, loss="logistic")
    assert clone(mf).get_params() == mf.get_params()
    with pytest.raises(NotFittedError):
        mf.predict([0], [0])
    fitted = LowRankFactorisation(epochs=1).fit([0, 1, 1], [0, 0, 1], [1.0, 0.5, -1.0])
    assert not hasattr(clone(fitted), "row_factors_")
    with pytest.raises(InvalidTaskDataError, match="no observed"):
        LowRankFactorisation().fit([0], [0], [np.nan])
    with pytest.raises(InvalidTaskDataError, match="loss"):
        LowRankFactorisation(loss="hinge").fit([0], [0], [1.0])
