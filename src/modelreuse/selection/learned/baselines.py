"""Baseline recommenders (each scores pairs from one signal; base.py protocol).

* ``params``      -- larger models first: ``log10(params)``; models of unknown size rank last.
* ``popularity``  -- models with more training records first (ModelLens' popularity baseline).
* ``text_similarity`` -- cosine of the frozen MiniLM embeddings of the model's description (its
  name when it has none) and the dataset's ``name (task): description``.
* ``family_mean`` -- the mean within-group z-score of the model's family in training (0 for a
  family never seen).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from modelreuse.records.leaderboard import LeaderboardRecords
from modelreuse.selection.learned.base import RECOMMENDERS, RecordsInputMixin, training_targets
from modelreuse.selection.learned.features import DEFAULT_CACHE, TextEmbeddings, metadata_rows


@RECOMMENDERS.register("params")
class ParamCount(RecordsInputMixin, BaseEstimator):
    """Larger models first (module doc); learns nothing but the size of its training set."""

    def fit(self, records: LeaderboardRecords) -> ParamCount:
        self.n_records_ = len(records.records)
        return self

    def predict(self, pairs: pd.DataFrame, models: pd.DataFrame, datasets: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self)
        params = pd.to_numeric(metadata_rows(models, "model", pairs["model"])["params"], errors="coerce").to_numpy(float)
        return np.where(np.isfinite(params) & (params > 0), np.log10(np.where(params > 0, params, 1.0)), -1.0)


@RECOMMENDERS.register("popularity")
class Popularity(RecordsInputMixin, BaseEstimator):
    """Models with more training records first (module doc)."""

    def fit(self, records: LeaderboardRecords) -> Popularity:
        self.counts_ = records.records["model"].value_counts()
        return self

    def predict(self, pairs: pd.DataFrame, models: pd.DataFrame, datasets: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self)
        return pairs["model"].map(self.counts_).fillna(0).to_numpy(np.float64)


@RECOMMENDERS.register("text_similarity")
class TextSimilarity(RecordsInputMixin, BaseEstimator):
    """Cosine of model and dataset text embeddings (module doc); ``cache``: the embedding cache
    folder (None: no cache; the default, :data:`DEFAULT_CACHE`, is ``config.cache_home("recommend")``)."""

    def __init__(self, cache: str | Path | None = DEFAULT_CACHE):
        self.cache = cache

    def fit(self, records: LeaderboardRecords) -> TextSimilarity:
        self.n_records_ = len(records.records)
        return self

    def predict(self, pairs: pd.DataFrame, models: pd.DataFrame, datasets: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self)
        embeddings = TextEmbeddings(self.cache)
        names, model_index = np.unique(pairs["model"].astype(str), return_inverse=True)
        sets, dataset_index = np.unique(pairs["dataset"].astype(str), return_inverse=True)
        model_emb = embeddings.models(metadata_rows(models, "model", names))
        dataset_emb = embeddings.datasets(metadata_rows(datasets, "dataset", sets))
        return np.einsum("ij,ij->i", model_emb[model_index], dataset_emb[dataset_index]).astype(np.float64)


@RECOMMENDERS.register("family_mean")
class FamilyMean(RecordsInputMixin, BaseEstimator):
    """The mean training z-score of the model's family (module doc)."""

    def fit(self, records: LeaderboardRecords) -> FamilyMean:
        frame = training_targets(records)
        family = metadata_rows(records.models, "model", frame["model"])["family"].fillna("")
        self.means_ = frame.assign(family=family.to_numpy()).groupby("family")["z"].mean().drop("", errors="ignore")
        return self

    def predict(self, pairs: pd.DataFrame, models: pd.DataFrame, datasets: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self)
        family = metadata_rows(models, "model", pairs["model"])["family"]
        return family.map(self.means_).fillna(0.0).to_numpy(np.float64)
