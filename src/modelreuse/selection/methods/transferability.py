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

With ``ranker`` (a fitted :class:`~modelreuse.selection.transferability_ensemble.MetricEnsembleRanker`,
the learned metric ensemble, trained on past tasks with the metrics ``ranker_metrics`` in that
order) the candidates are ordered by its prediction from those metrics' scores and the feature
sizes instead (method ``transferability:ensemble``); each entry's details keep every metric's
score. Without one (no trained ensemble available) the single ``metric`` ranks.

The query is an :class:`ExtractorQuery`: raw rows, labels, modality and a loader of extractors.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np

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
    ranker: Any = None
    ranker_metrics: tuple[str, ...] = ("logme",)

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
        metrics = self.ranker_metrics if self.ranker is not None else (self.metric,)
        with_proba = any(get_metric(m).kind == "probabilities" for m in metrics)
        seconds, unscored = self._extract(query, cards, with_proba)
        scored = [c for c in cards if c["id"] in seconds]
        pool = [Candidate(c["id"], features=partial(_cached, query.features, c["id"]),
                          source_proba=partial(_cached, query.proba, c["id"]) if c["id"] in query.proba else None)
                for c in scored]
        if self.ranker is None:
            ranking = TransferabilitySelector(self.metric).rank(pool, None, query.y)
        else:
            ranking = self._ensemble(pool, query)
        names = {c["id"]: c["name"] for c in cards}
        entries = [replace(e, name=names[e.learnware_id],
                           details={**e.details, "extract_seconds": seconds[e.learnware_id],
                                    "feature_size": int(query.features[e.learnware_id].shape[1])})
                   for e in ranking.entries[:k]]
        details = {**ranking.details, "candidates": len(cards), "unscored": [names[i] for i in unscored],
                   "time_budget_s": self.time_budget_s}
        return Ranking(entries, method=ranking.method, details=details)

    def _ensemble(self, pool: list, query: ExtractorQuery) -> Ranking:
        """The learned ensemble's ranking: each metric's oriented scores, the feature sizes and the
        row count in a :class:`RankingTask`, ordered by ``ranker.predict``."""
        from modelreuse.selection.ranking import RankedLearnware
        from modelreuse.selection.transferability_ensemble import RankingTask
        from modelreuse.selection.transferability_selector import TransferabilitySelector

        ids = [c.name for c in pool]
        per_metric = {}
        for metric in self.ranker_metrics:
            ranking = TransferabilitySelector(metric).rank(pool, None, query.y)
            per_metric[ranking.method.split(":")[-1]] = {e.learnware_id: e.score for e in ranking}
        scores = np.array([[per_metric[m][i] for m in per_metric] for i in ids]).reshape(len(ids), len(per_metric))
        dims = np.array([query.features[i].shape[1] for i in ids])
        predicted = np.asarray(self.ranker.predict(RankingTask(scores, dims, len(query.y))), np.float64)
        order = np.argsort(-predicted, kind="stable")
        entries = [RankedLearnware(ids[i], ids[i], float(predicted[i]),
                                   f"learned metric ensemble = {predicted[i]:.4g} from " + ", ".join(
                                       f"{m} = {per_metric[m][ids[i]]:.4g}" for m in per_metric)
                                   + f" and its feature size on your labelled rows (rank {r} of {len(ids)})",
                                   details={"scores": {m: per_metric[m][ids[i]] for m in per_metric}})
                   for r, i in enumerate(order, start=1)]
        return Ranking(entries, method="transferability:ensemble", details={"metrics": list(per_metric)})

    def _extract(self, query: ExtractorQuery, cards: list[dict], with_proba: bool) -> tuple[dict, list[str]]:
        """Fill ``query.features`` (and ``proba``) batch by batch within the time budget; return the
        seconds per candidate and the ids left unscored. Outputs already in the query (an earlier
        search with it) are not extracted again."""
        from joblib import Parallel, delayed  # here: every search imports the selector modules

        start = time.perf_counter()
        done = [c["id"] for c in cards if c["id"] in query.features and (not with_proba or c["id"] in query.proba)]
        seconds = dict.fromkeys(done, 0.0)
        ids = [c["id"] for c in cards if c["id"] not in seconds]
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
