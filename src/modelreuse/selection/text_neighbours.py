"""Text-neighbour selection: rank models for a new dataset known only by its class names, from the
models' results on other datasets whose classes read alike (ours; benchmarked by
``modelreuse bench vlm`` on LOVM/SWAB).

Each model's score for the new dataset ``d`` is its within-dataset z-scored accuracy on the source
datasets ``d'``, averaged with weights ``softmax(sim(d, d') / temperature)``, plus
``reference_weight`` times its z-scored accuracy on a reference dataset (ImageNet-1k for VLMs; the
ImageNet baseline), when the reference is among the fitted datasets. ``sim`` is a class-set
similarity: each class of a dataset is a sentence (e.g. ``"<class>: <synonym>, <synonym>, ..."``)
embedded with MiniLM; ``sim(d, d')`` = mean over the classes of ``d`` of the best cosine to a class
of ``d'`` (not symmetric). ``temperature`` and ``reference_weight`` are chosen from the grids by
an inner leave-one-dataset-out over the fitted (non-reference) datasets, maximising R5 + tau of
the predicted against the true ranking (:func:`~modelreuse.metrics.ranking.r5`,
:func:`~modelreuse.metrics.ranking.lovm_tau`). Higher scores are better.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from modelreuse.config import cache_home
from modelreuse.errors import InvalidTaskDataError
from modelreuse.metrics.ranking import lovm_tau, r5
from modelreuse.records.zscore import within_group_z

TEMPERATURES = (0.02, 0.05, 0.1, 0.2, 1.0)
REFERENCE_WEIGHTS = (0.0, 0.5, 1.0, 2.0, 8.0)


class TextNeighbours(BaseEstimator):
    """``fit(accuracy, class_texts)`` on known datasets; ``predict(class_texts)`` scores the models
    (``accuracy``'s columns) for a new dataset (module doc)."""

    def __init__(self, reference: str | None = "imagenet1k", temperatures: Sequence[float] = TEMPERATURES,
                 reference_weights: Sequence[float] = REFERENCE_WEIGHTS, cache: Path | None = cache_home("vlm")):
        self.reference = reference
        self.temperatures = temperatures
        self.reference_weights = reference_weights
        self.cache = cache

    def fit(self, accuracy: pd.DataFrame, class_texts: dict[str, list[str]]) -> TextNeighbours:
        """``accuracy``: datasets x models; ``class_texts``: each dataset's class sentences."""
        missing = set(accuracy.index) - set(class_texts)
        if missing:
            raise InvalidTaskDataError(f"no class texts for dataset(s) {sorted(missing)}")
        self.models_ = accuracy.columns.to_numpy()
        self.n_features_in_ = len(self.models_)
        self.datasets_ = [d for d in accuracy.index if d != self.reference]
        if len(self.datasets_) < 2:
            raise InvalidTaskDataError("text neighbours need at least two source datasets besides the reference")
        z = within_group_z(accuracy.to_numpy(np.float64).T).T          # z-score inside each dataset
        rows = {d: i for i, d in enumerate(accuracy.index)}
        self.z_ = z[[rows[d] for d in self.datasets_]]
        self.reference_z_ = z[rows[self.reference]] if self.reference in rows else None
        self.units_ = [self._units(class_texts[d]) for d in self.datasets_]
        sims = np.array([[_similarity(a, b) for b in self.units_] for a in self.units_])
        truth = accuracy.loc[self.datasets_].to_numpy(np.float64)
        self.temperature_, self.reference_weight_ = self._choose(sims, truth)
        return self

    def predict(self, class_texts: list[str]) -> np.ndarray:
        """One score per model (``models_`` order) for a dataset with these class sentences."""
        check_is_fitted(self)
        units = self._units(class_texts)
        sims = np.array([_similarity(units, source) for source in self.units_])
        return self._scores(np.arange(len(self.datasets_)), sims, self.temperature_, self.reference_weight_)

    def _scores(self, sources: np.ndarray, sims: np.ndarray, temperature: float, weight: float) -> np.ndarray:
        """``softmax(sims / temperature) @ z[sources] + weight * z(reference)``."""
        weights = np.exp((sims - sims.max()) / temperature)
        scores = (weights / weights.sum()) @ self.z_[sources]
        return scores if self.reference_z_ is None else scores + weight * self.reference_z_

    def _choose(self, sims: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
        """The grid point with the best mean R5 + tau over leave-one-fitted-dataset-out."""
        weights = tuple(self.reference_weights) if self.reference_z_ is not None else (0.0,)
        grid = [(t, w) for t in self.temperatures for w in weights]
        everyone = np.arange(len(self.datasets_))

        def quality(t: float, w: float) -> float:
            return float(np.mean([_r5_plus_tau(self._scores(np.delete(everyone, d), np.delete(sims[d], d), t, w),
                                               truth[d]) for d in everyone]))

        return grid[int(np.argmax([quality(t, w) for t, w in grid]))]

    def _units(self, texts: list[str]) -> np.ndarray:
        from modelreuse.models.encoders import encode_text_cached

        if not texts:
            raise InvalidTaskDataError("a dataset needs at least one class text")
        emb = encode_text_cached(texts, self.cache).astype(np.float64)
        return emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)


def _similarity(units: np.ndarray, other: np.ndarray) -> float:
    """Mean over the rows of ``units`` of the best cosine to a row of ``other`` (both unit vectors)."""
    return float((units @ other.T).max(axis=1).mean())


def _r5_plus_tau(scores: np.ndarray, truth: np.ndarray) -> float:
    return r5(scores, truth) + lovm_tau(scores, truth)
