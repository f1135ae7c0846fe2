"""Rank candidate pretrained models for a labelled task by a transferability metric.

Each candidate is run forward on the task's rows (its feature extractor and, for metrics that need
it, its source-class head) and scored with one metric from
:mod:`modelreuse.selection.transferability`. Candidates are independent, so they are scored with
joblib (``n_jobs``; any joblib backend, e.g. ``ray`` via ``ray.util.joblib``, spreads them across
machines). Lower-is-better metrics (PACTran) are negated and pool-relative ones (NCTI) normalised
across the candidates, so the returned :class:`~modelreuse.selection.ranking.Ranking` is always
best-first with higher-is-better scores; ``details`` keeps the raw metric value.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator

from modelreuse.errors import InvalidTaskDataError
from modelreuse.selection.ranking import RankedLearnware, Ranking
from modelreuse.selection.transferability import Metric, get_metric
from modelreuse.selection.transferability.ncti import ncti_pool_scores


@dataclass
class Candidate:
    """A pretrained model to rank: ``features(X) -> (N, D)`` and optionally
    ``source_proba(X) -> (N, Cs)`` (its own head's class probabilities)."""

    name: str
    features: Callable[[Any], np.ndarray]
    source_proba: Callable[[Any], np.ndarray] | None = None


def pretrained_image_candidates(names: Sequence[str] | None = None, batch_size: int = 64) -> list[Candidate]:
    """The offline EfficientNet-Lite0/1/2 ImageNet classifiers as candidates: pooled 1280-d
    features and their 1000-way ImageNet probabilities as the source head."""
    from modelreuse.models.encoders import EFFICIENTNET_LITE

    return [Candidate(name, features=partial(_nth_output, name=name, which=0, batch_size=batch_size),
                      source_proba=partial(_nth_output, name=name, which=1, batch_size=batch_size))
            for name in (names or EFFICIENTNET_LITE)]


def _nth_output(images, name: str, which: int, batch_size: int) -> np.ndarray:
    from modelreuse.models.encoders import efficientnet_outputs

    return efficientnet_outputs(images, name, batch_size)[which]


def _score_one(candidate: Candidate, metric_name: str, X, y) -> tuple[Any, float]:
    metric = get_metric(metric_name)
    start = time.perf_counter()
    if metric.kind == "probabilities":
        if candidate.source_proba is None:
            raise InvalidTaskDataError(f"metric {metric.name} needs source-class probabilities; "
                                       f"candidate {candidate.name!r} has no source head")
        inputs = candidate.source_proba(X)
    else:
        inputs = candidate.features(X)
    value = metric.fn(inputs, y)
    return value, time.perf_counter() - start


class TransferabilitySelector(BaseEstimator):
    """``TransferabilitySelector(metric="logme").rank(candidates, X, y)`` -> best-first Ranking.

    A scikit-learn estimator: ``fit(candidates, X, y)`` scores the candidates and stores the
    resolved ``metric_`` and the ``ranking_``; :meth:`rank` is ``fit(...).ranking_``. ``metric`` is
    a name of :data:`~modelreuse.selection.transferability.METRICS` or one of its aliases.
    """

    def __init__(self, metric: str = "logme", n_jobs: int = 1, backend: str | None = None):
        self.metric = metric
        self.n_jobs = n_jobs
        self.backend = backend

    def fit(self, candidates: Sequence[Candidate], X, y) -> TransferabilitySelector:
        """Score every candidate on ``(X, y)``; ``ranking_`` orders them best first."""
        metric = get_metric(self.metric)
        if metric.kind == "regression":
            raise InvalidTaskDataError(f"{metric.name} is a regression metric; rank with a class-label metric "
                                       "(regression LogME scores a problem with score_problem)")
        if not candidates:
            raise InvalidTaskDataError("no candidate models to rank")
        names = [c.name for c in candidates]
        if len(set(names)) != len(names):
            raise InvalidTaskDataError("candidate names must be unique")
        results = Parallel(n_jobs=self.n_jobs, backend=self.backend)(
            delayed(_score_one)(c, metric.name, X, y) for c in candidates)
        raw = [r[0] for r in results]
        scores = _oriented(metric, raw)
        order = np.argsort(-scores, kind="stable")
        entries = [RankedLearnware(
            learnware_id=names[i], name=names[i], score=float(scores[i]),
            reason=f"{metric.name} = {_fmt(raw[i])} on your labelled rows (rank {r} of {len(names)})",
            details={"metric": metric.name, "value": raw[i], "seconds": results[i][1]},
        ) for r, i in enumerate(order, start=1)]
        self.metric_ = metric
        self.ranking_ = Ranking(entries, method=f"transferability:{metric.name}",
                                details={"higher_is_better_raw": metric.higher_is_better,
                                         "pool_relative": metric.pool_relative})
        return self

    def rank(self, candidates: Sequence[Candidate], X, y) -> Ranking:
        """Score every candidate on ``(X, y)`` and order them best first."""
        return self.fit(candidates, X, y).ranking_


def _oriented(metric: Metric, raw: list) -> np.ndarray:
    """Higher-is-better scores: pool-relative parts normalised across the pool (NCTI), lower-is-better
    values negated (PACTran)."""
    if metric.pool_relative:
        return ncti_pool_scores(raw)
    values = np.asarray(raw, dtype=np.float64)
    return values if metric.higher_is_better else -values


def _fmt(value) -> str:
    return ", ".join(f"{v:.4g}" for v in value) if isinstance(value, tuple) else f"{value:.4g}"
