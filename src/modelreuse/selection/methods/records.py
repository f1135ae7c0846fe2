"""The ``records`` selector: a trained recommender (ModelLens) ranks learnwares for a dataset
described in words (:mod:`modelreuse.selection.learned.dock_search`). Learnwares with a
``records`` spec contribute their leaderboard rows to the candidates table; the rest are scored
cold-start from their cards, so the selector needs no spec kind."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelreuse.errors import InvalidTaskDataError
from modelreuse.selection.base import SELECTORS, Candidates
from modelreuse.selection.ranking import Ranking


@SELECTORS.register("records", spec_kinds=(), feature_space=False,
                    help="a trained recommender ranks learnwares for a dataset described in words")
@dataclass
class RecordsSelector:
    """``recommender``: a fitted :class:`~modelreuse.selection.learned.modellens.ModelLens` or the
    folder ``modelreuse recommend train`` saved one in; ``leaderboard_task`` and ``metric`` name
    what will be measured (e.g. ``Retrieval``, ``ndcg_at_10``)."""

    recommender: Any = None
    leaderboard_task: str = ""
    metric: str = ""

    def select(self, query: Any, candidates: Candidates, k: int) -> Ranking:
        from modelreuse.selection.learned.dock_search import as_recommender, catalogue, recommend_learnwares

        if not isinstance(self.recommender, (str, Path)) and not hasattr(self.recommender, "recommend"):
            raise InvalidTaskDataError("the records selector needs recommender=<a fitted ModelLens or the folder "
                                       "'modelreuse recommend train' saved one in>")
        description = query if isinstance(query, str) else getattr(query, "description", "")
        table, _ = catalogue(candidates.kept(), candidates.load)
        return recommend_learnwares(as_recommender(self.recommender), table, description,
                                    self.leaderboard_task, self.metric, k)
