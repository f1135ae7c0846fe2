"""The ``transferability`` selector: rank a dock's feature-extraction learnwares (PTM backbones) on the
user's labelled rows by a transferability metric (default LogME: You et al., "LogME: Practical
Assessment of Pre-trained Models for Transfer Learning", ICML 2021; any name of
:data:`modelreuse.selection.transferability.METRICS`), through
:class:`~modelreuse.selection.transferability_selector.TransferabilitySelector`.

Each candidate's features (and, for metrics that read them, its source-head probabilities) are
extracted once, in parallel through joblib (threads by default: torch and scikit-learn release the
GIL; any joblib backend may be named), and kept in the query's ``features`` cache, so the caller
can reuse the winner's features for adaptation without extracting them again. ``time_budget_s``
bounds the extraction: candidates are taken ``n_jobs`` at a time in dock order, and once the
budget is spent (after at least one batch) the rest are left unscored and listed in
``details["unscored"]``. Higher scores are better.

The query is an :class:`ExtractorQuery`: raw rows, labels, modality and a loader of extractors.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np
from joblib import Parallel, delayed

from modelreuse.errors import EmptyDockError, InvalidTaskDataError
from modelreuse.selection.base import SELECTORS, Candidates
from modelreuse.selection.ranking import Ranking


@dataclass
class ExtractorQuery:
    """What the ``transferability`` selector ranks extractors for: raw ``X`` (texts or images) of
    ``modality`` labelled by ``y``; ``load(learnware_id)`` -> a loaded
    :class:`~modelreuse.models.extractors.FeatureExtractor`. ``features`` and ``proba`` are filled
    with each scored candidate's outputs on ``X`` (by learnware id)."""

    X: Any
    y: np.ndarray
    modality: str
    load: Callable[[str], Any]
    features: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    proba: dict[str, np.ndarray] = field(default_factory=dict, repr=False)


def _outputs(extractor: Any, X: Any, with_proba: bool) -> tuple[np.ndarray, np.ndarray | None, float]:
    start = time.perf_counter()
    F = extractor.features(X)
    P = extractor.source_proba(X) if with_proba and extractor.has_head else None
    return F, P, time.perf_counter() - start


@SELECTORS.register("transferability", spec_kinds=("semantic",), feature_space=False,
                    help="rank feature extractors (PTMs) by a transferability metric (LogME) on your labelled rows")
@dataclass
class TransferabilitySearch:
    """Ranks the feature-extraction learnwares of the query's modality (module doc)."""

    metric: str = "logme"
    n_jobs: int = 1
    backend: str | None = None
    time_budget_s: float | None = None

    def select(self, query: ExtractorQuery, candidates: Candidates, k: int) -> Ranking:
        from modelreuse.selection.transferability import get_metric
        from modelreuse.selection.transferability_selector import Candidate, TransferabilitySelector

        if not isinstance(query, ExtractorQuery):
            raise InvalidTaskDataError(f"transferability search needs an ExtractorQuery (raw rows, labels, a loader), "
                                       f"got {type(query).__name__}")
        cards = [c for c in candidates.kept()
                 if c["task_type"] == "feature_extraction" and c["modality"] == query.modality]
        if not cards:
            raise EmptyDockError(f"the dock holds no {query.modality} feature extractor; build one with "
                                 f"`modelreuse zoo build --preset {query.modality} --out DOCK`")
        with_proba = get_metric(self.metric).kind == "probabilities"
        seconds, unscored = self._extract(query, cards, with_proba)
        scored = [c for c in cards if c["id"] in query.features]
        pool = [Candidate(c["id"], features=partial(_cached, query.features, c["id"]),
                          source_proba=partial(_cached, query.proba, c["id"]) if c["id"] in query.proba else None)
                for c in scored]
        ranking = TransferabilitySelector(self.metric).rank(pool, None, query.y)
        names = {c["id"]: c["name"] for c in cards}
        entries = [replace(e, name=names[e.learnware_id],
                           details={**e.details, "extract_seconds": seconds[e.learnware_id],
                                    "feature_size": int(query.features[e.learnware_id].shape[1])})
                   for e in ranking.entries[:k]]
        details = {**ranking.details, "candidates": len(cards), "unscored": [names[i] for i in unscored],
                   "time_budget_s": self.time_budget_s}
        return Ranking(entries, method=ranking.method, details=details)

    def _extract(self, query: ExtractorQuery, cards: list[dict], with_proba: bool) -> tuple[dict, list[str]]:
        """Fill ``query.features`` (and ``proba``) batch by batch within the time budget; return the
        seconds per candidate and the ids left unscored."""
        start, seconds, ids = time.perf_counter(), {}, [c["id"] for c in cards]
        batch = max(1, self.n_jobs if self.n_jobs > 0 else len(ids))
        parallel = Parallel(n_jobs=self.n_jobs, backend=self.backend, prefer="threads")
        for first in range(0, len(ids), batch):
            if first and self.time_budget_s is not None and time.perf_counter() - start > self.time_budget_s:
                return seconds, ids[first:]
            chunk = ids[first:first + batch]
            extractors = [query.load(i) for i in chunk]
            for i, (F, P, took) in zip(chunk, parallel(delayed(_outputs)(e, query.X, with_proba) for e in extractors)):
                query.features[i], seconds[i] = F, took
                if P is not None:
                    query.proba[i] = P
        return seconds, []


def _cached(outputs: dict[str, np.ndarray], learnware_id: str, _rows: Any) -> np.ndarray:
    """A candidate's outputs on the query's rows, as extracted once by :meth:`TransferabilitySearch._extract`."""
    return outputs[learnware_id]
