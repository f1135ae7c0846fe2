"""Semantic search: filter on card fields, then rank by text match of the query to the card.

Score: BM25-style term overlap between the query tokens and the card text (name, description,
tags, task type, modality); ties keep the dock's order. Higher is better.
"""

from __future__ import annotations

import math
from collections import Counter

from modelreuse.selection.ranking import RankedLearnware, Ranking
from modelreuse.specs.semantic import tokenize


def semantic_search(cards: list[dict], query: str = "", k: int = 10) -> Ranking:
    """Rank ``cards`` (already filtered on fields) by BM25 match of ``query``."""
    docs = [tokenize(" ".join([c["name"], c.get("description", ""), " ".join(c.get("tags", [])),
                               c.get("task_type", ""), c.get("modality", "")])) for c in cards]
    terms = set(tokenize(query))
    n = len(docs)
    avg_len = sum(map(len, docs)) / n if n else 0.0
    df = Counter(t for d in docs for t in set(d) if t in terms)
    scores = []
    for doc in docs:
        tf = Counter(doc)
        s = 0.0
        for t in terms:
            if tf[t]:
                idf = math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))
                s += idf * tf[t] * 2.2 / (tf[t] + 1.2 * (0.25 + 0.75 * len(doc) / max(avg_len, 1e-9)))
        scores.append(s)
    order = sorted(range(n), key=lambda i: -scores[i])
    if terms:
        order = [i for i in order if scores[i] > 0]
    entries = [RankedLearnware(
        learnware_id=cards[i]["id"], name=cards[i]["name"], score=scores[i],
        reason=(f"card matches {sorted(terms & set(docs[i]))}" if terms else "matches the field filters"),
    ) for i in order[:k]]
    return Ranking(entries, method="semantic", details={"query": query, "n_filtered": n})
