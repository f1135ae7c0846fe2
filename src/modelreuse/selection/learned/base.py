"""The recommender protocol and registry.

A recommender is fitted on :class:`~modelreuse.records.leaderboard.LeaderboardRecords` and
then scores *pairs* (a frame with ``model, dataset, task, metric`` columns): higher means the
model is predicted to do better on that dataset, task and metric. Scores are only comparable
within one ranking query. Metadata tables (``models``, ``datasets``) are passed at scoring time,
so models and datasets without records (cold start) can be scored from their metadata.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd

from modelreuse.records.leaderboard import LeaderboardRecords

PAIR_COLUMNS = ("model", "dataset", "task", "metric")


class Recommender(Protocol):
    name: str

    def fit(self, records: LeaderboardRecords) -> Recommender: ...

    def score(self, pairs: pd.DataFrame, models: pd.DataFrame, datasets: pd.DataFrame) -> np.ndarray: ...


def within_group_z(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """z-score of ``values`` within each group (0 where a group's spread is 0)."""
    frame = pd.DataFrame({"v": values, "g": groups})
    stats = frame.groupby("g")["v"].agg(["mean", "std"]).reindex(groups)
    std = stats["std"].fillna(0.0).to_numpy()
    return np.where(std > 0, (values - stats["mean"].to_numpy()) / np.where(std > 0, std, 1.0), 0.0)


def training_targets(records: LeaderboardRecords) -> pd.DataFrame:
    """Ranking-group records with ``group`` ids and ``z`` = within-group z-score of the utility."""
    frame = records.ranking_groups()
    frame["z"] = within_group_z(frame["utility"].to_numpy(np.float64), frame["group"].to_numpy())
    return frame
