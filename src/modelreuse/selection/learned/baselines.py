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

from modelreuse.records.leaderboard import LeaderboardRecords
from modelreuse.selection.learned.base import training_targets
from modelreuse.selection.learned.features import TextEmbeddings, metadata_rows


class ParamCount:
    name = "params"

    def fit(self, records: LeaderboardRecords) -> ParamCount:
        return self

    def score(self, pairs: pd.DataFrame, models: pd.DataFrame, datasets: pd.DataFrame) -> np.ndarray:
        params = pd.to_numeric(metadata_rows(models, "model", pairs["model"])["params"], errors="coerce").to_numpy(float)
        return np.where(np.isfinite(params) & (params > 0), np.log10(np.where(params > 0, params, 1.0)), -1.0)


class Popularity:
    name = "popularity"

    def fit(self, records: LeaderboardRecords) -> Popularity:
        self.counts_ = records.records["model"].value_counts()
        return self

    def score(self, pairs: pd.DataFrame, models: pd.DataFrame, datasets: pd.DataFrame) -> np.ndarray:
        return pairs["model"].map(self.counts_).fillna(0).to_numpy(np.float64)


class TextSimilarity:
    name = "text_similarity"

    def __init__(self, cache: Path | None = Path(".cache/recommend")):
        self.embeddings = TextEmbeddings(cache)

    def fit(self, records: LeaderboardRecords) -> TextSimilarity:
        return self

    def score(self, pairs: pd.DataFrame, models: pd.DataFrame, datasets: pd.DataFrame) -> np.ndarray:
        names, model_index = np.unique(pairs["model"].astype(str), return_inverse=True)
        sets, dataset_index = np.unique(pairs["dataset"].astype(str), return_inverse=True)
        model_emb = self.embeddings.models(metadata_rows(models, "model", names))
        dataset_emb = self.embeddings.datasets(metadata_rows(datasets, "dataset", sets))
        return np.einsum("ij,ij->i", model_emb[model_index], dataset_emb[dataset_index]).astype(np.float64)


class FamilyMean:
    name = "family_mean"

    def fit(self, records: LeaderboardRecords) -> FamilyMean:
        frame = training_targets(records)
        family = metadata_rows(records.models, "model", frame["model"])["family"].fillna("")
        self.means_ = frame.assign(family=family.to_numpy()).groupby("family")["z"].mean().drop("", errors="ignore")
        return self

    def score(self, pairs: pd.DataFrame, models: pd.DataFrame, datasets: pd.DataFrame) -> np.ndarray:
        family = metadata_rows(models, "model", pairs["model"])["family"]
        return family.map(self.means_).fillna(0.0).to_numpy(np.float64)
