"""Rank a dock's learnwares for a dataset described in words, with a trained recommender.

The dock supplies the candidates as a models table (``model, family, params, release_date,
description`` plus ``learnware_id``; see :meth:`modelreuse.dock.Dock.catalogue`), built from each
learnware's card and its optional ``records`` spec. The recommender (ModelLens) scores every
candidate against the new dataset: learnwares whose names it saw in training use their learned
embeddings, the rest are cold-start models scored from name, description, size and family.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from modelreuse.errors import EmptyDockError
from modelreuse.selection.learned.features import DEFAULT_CACHE
from modelreuse.selection.learned.modellens import ModelLens
from modelreuse.selection.ranking import RankedLearnware, Ranking
from modelreuse.specs.base import Specification
from modelreuse.specs.records import RecordsSpec

CATALOGUE_COLUMNS = ["model", "family", "params", "release_date", "description", "learnware_id"]


def catalogue(cards: list[dict], load: Callable[[str, str], Specification]) -> tuple[pd.DataFrame, list[RecordsSpec | None]]:
    """The learnwares of ``cards`` as a recommender's models table, and each one's records spec.

    Columns :data:`CATALOGUE_COLUMNS`: ``model`` is the learnware's name (with ``[id]`` appended when
    two learnwares share a name), ``description`` its card text (its name if empty), ``family``,
    ``params`` and ``release_date`` from its ``records`` spec (``load(id, "records")``; empty without one).
    """
    repeated = pd.Series([c["name"] for c in cards], dtype="string").duplicated(keep=False).to_numpy()
    rows, specs = [], []
    for card, shared_name in zip(cards, repeated):
        records = load(card["id"], "records") if "records" in card["spec_kinds"] else None
        specs.append(records)
        rows.append({"model": f"{card['name']} [{card['id']}]" if shared_name else card["name"],
                     "family": records.family if records else "",
                     "params": records.params if records else None,
                     "release_date": records.release_date if records else "",
                     "description": card["description"] or card["name"], "learnware_id": card["id"]})
    return pd.DataFrame(rows, columns=CATALOGUE_COLUMNS), specs


def as_recommender(recommender: ModelLens | str | Path, cache: str | Path | None = DEFAULT_CACHE) -> ModelLens:
    """A fitted recommender, or the folder ``modelreuse recommend train`` saved one in."""
    return recommender if isinstance(recommender, ModelLens) else ModelLens.load(recommender, cache)


def recommend_learnwares(recommender: ModelLens, candidates: pd.DataFrame, description: str, task: str = "",
                         metric: str = "", k: int = 10) -> Ranking:
    """The ``k`` best candidates by ``score = prior + interaction`` (higher is better; cold-start
    sizes of one model line re-ordered by size, ``details["size_ladder"]``), as a Ranking."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if candidates.empty:
        raise EmptyDockError("the dock has no learnware to recommend from (check the filters)")
    ranked = recommender.recommend(description, task, metric, top=k, candidates=candidates)
    ids = candidates.set_index("model")["learnware_id"]
    entries = [RankedLearnware(learnware_id=str(ids[row.model]), name=str(row.model), score=float(row.score),
                               reason=row.reason, details={"prior": float(row.prior),
                                                           "interaction": float(row.interaction),
                                                           "size_ladder": bool(row.size_ladder)})
               for row in ranked.itertuples()]
    return Ranking(entries, method="records", details={"task": task, "metric": metric,
                                                        "candidates": len(candidates)})
