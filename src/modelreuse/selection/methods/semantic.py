"""The ``semantic`` selector: card filters plus a BM25 text match (:mod:`modelreuse.selection.semantic`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelreuse.selection.base import SELECTORS, Candidates
from modelreuse.selection.ranking import Ranking
from modelreuse.selection.semantic import semantic_search


@SELECTORS.register("semantic", spec_kinds=("semantic",), feature_space=False,
                    help="match query text to the learnwares' cards (name, description, tags)")
@dataclass
class SemanticSelector:
    """Ranks cards by BM25 match of the query text (a string, or a task's ``description``); an
    empty query keeps every card that passed the filters, in the dock's order."""

    def select(self, query: Any, candidates: Candidates, k: int) -> Ranking:
        text = query if isinstance(query, str) else getattr(query, "description", "")
        return semantic_search(candidates.kept(), text, k=k)
