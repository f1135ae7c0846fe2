"""The recommender protocol and registry.

A recommender is a scikit-learn estimator fitted on
:class:`~modelreuse.records.leaderboard.LeaderboardRecords`; ``predict(pairs, models, datasets)``
then scores *pairs* (a frame with ``model, dataset, task, metric`` columns): higher means the
model is predicted to do better on that dataset, task and metric. Scores are only comparable
within one ranking query. Metadata tables (``models``, ``datasets``) are passed at prediction time,
so models and datasets without records (cold start) can be scored from their metadata.

Every recommender registers itself in :data:`RECOMMENDERS` in its own module
(``@RECOMMENDERS.register("name")``); ``RECOMMENDERS.get(name)`` is the class. Its class lists
:class:`RecordsInputMixin` before ``BaseEstimator``, so its scikit-learn tags say it takes records.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from modelreuse._registry import Registry
from modelreuse.records.zscore import within_group_z

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from modelreuse.records.leaderboard import LeaderboardRecords

PAIR_COLUMNS = ("model", "dataset", "task", "metric")

RECOMMENDERS: Registry[type] = Registry("recommender", package="modelreuse.selection.learned")


class RecordsInputMixin:
    """scikit-learn tags of an estimator that fits on :class:`LeaderboardRecords` and predicts
    from frames, not on an array ``X``: ``input_tags.two_d_array`` is False, so scikit-learn's
    array-based estimator checks do not apply (its data-free API checks still do)."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        return tags


class Recommender(Protocol):
    def fit(self, records: LeaderboardRecords) -> Recommender: ...

    def predict(self, pairs: pd.DataFrame, models: pd.DataFrame, datasets: pd.DataFrame) -> np.ndarray: ...


def training_targets(records: LeaderboardRecords) -> pd.DataFrame:
    """Ranking-group records with ``group`` ids and ``z`` = within-group z-score (sample std) of the utility."""
    import numpy as np

    frame = records.ranking_groups()
    frame["z"] = within_group_z(frame["utility"].to_numpy(np.float64), frame["group"].to_numpy())
    return frame
