"""``Router``: the user-facing, instance-level model selector over N models.

    router = Router("mlp").fit(read_records("routerbench.parquet").split("train"))
    choices = router.route(["What is 2 + 2?"], budget=0.001)   # -> [RouteChoice(model, score, cost)]
    router.save("my-router");  Router.load("my-router")
    Router(KNNRouter(k=20))                                  # a configured score model

Queries are embedded with :func:`~modelreuse.routing.encoder.encode_queries` (MiniLM, tail of long
prompts, disk cache), a score model (any name in :data:`~modelreuse.routing.base.ROUTERS`, or a
:class:`~modelreuse.routing.base.ScoreModel` instance, cloned at fit) predicts every model's
score, and :func:`~modelreuse.routing.base.decide` picks one model per query: the best predicted
score, or the best ``lam * score - cost``, or the best within a mean ``budget`` (USD per query).
A model's cost is its mean recorded cost per query in the training records (0 when the records
have no costs).

``Router`` is a scikit-learn estimator over routing records: ``fit(records)`` learns
``score_model_``, ``models_``, ``costs_`` and ``n_features_in_`` (the query-embedding width);
``clone`` copies the unfitted configuration. Its scikit-learn tags say it takes no array ``X``
(``input_tags.two_d_array`` is False), so only scikit-learn's data-free API checks apply to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from modelreuse.errors import RoutingDataError
from modelreuse.routing.base import ROUTERS, ScoreModel, decide, load_score_model, save_score_model
from modelreuse.routing.encoder import DEFAULT_MAX_CHARS, encode_queries

if TYPE_CHECKING:
    from modelreuse.records.routing import RoutingRecords


@dataclass
class RouteChoice:
    """The model chosen for one query, its predicted score and its (mean) cost in USD."""

    model: str
    predicted_score: float
    cost: float


class Router(BaseEstimator):
    """Embed, predict every model's score, decide (module doc).

    ``score_model``: a registered router name (default configuration) or a configured
    :class:`ScoreModel`; ``cache``: the query-embedding cache folder (None: no cache);
    ``max_chars``: how much of each prompt's tail is encoded.
    """

    def __init__(self, score_model: str | ScoreModel = "mlp", cache: str | Path | None = None,
                 max_chars: int = DEFAULT_MAX_CHARS):
        self.score_model = score_model
        self.cache = cache
        self.max_chars = max_chars

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False  # fit takes RoutingRecords, predict query texts (or embeddings)
        return tags

    def _new_score_model(self) -> ScoreModel:
        if isinstance(self.score_model, ScoreModel):
            return clone(self.score_model)
        return ROUTERS.get(self.score_model)()

    def embed(self, queries: Sequence[str]) -> np.ndarray:
        """``(n, 384)`` query embeddings (:func:`encode_queries`)."""
        return encode_queries(list(queries), self.cache, self.max_chars)

    def fit(self, records: RoutingRecords, embeddings: np.ndarray | None = None) -> Router:
        """Fit on every row of ``records`` (select the split first); ``embeddings`` skips encoding."""
        score_model = self._new_score_model()  # an unknown name fails before any encoding
        X = self.embed(records.prompts) if embeddings is None else embeddings
        self.score_model_ = score_model.fit(X, records.scores(), records.tasks)
        self.n_features_in_ = self.score_model_.n_features_in_
        self.models_ = records.models
        costs = records.costs()
        self.costs_ = np.zeros(len(self.models_)) if costs is None else np.nan_to_num(np.nanmean(costs, axis=0))
        return self

    def predict(self, queries: Sequence[str] | None = None, tasks=None, embeddings: np.ndarray | None = None) -> np.ndarray:
        """``(n, n_models)`` predicted scores of ``queries`` (or of their ``embeddings``)."""
        check_is_fitted(self)
        if (queries is None) == (embeddings is None):
            raise RoutingDataError("give either queries or their embeddings")
        X = self.embed(queries) if embeddings is None else embeddings
        return self.score_model_.predict(X, tasks)

    def route(self, queries: Sequence[str], tasks=None, budget: float | None = None, lam: float | None = None,
              models: Sequence[str] | None = None) -> list[RouteChoice]:
        """One :class:`RouteChoice` per query, among ``models`` (default all)."""
        check_is_fitted(self)
        if isinstance(queries, str):
            queries = [queries]
        allowed = self._model_indices(models)
        predicted = self.predict(queries, tasks)[:, allowed]
        chosen = decide(predicted, self.costs_[allowed], lam=lam, budget=budget)
        return [RouteChoice(self.models_[allowed[c]], float(predicted[i, c]), float(self.costs_[allowed[c]]))
                for i, c in enumerate(chosen)]

    def _model_indices(self, models: Sequence[str] | None) -> np.ndarray:
        if models is None:
            return np.arange(len(self.models_))
        unknown = [m for m in models if m not in self.models_]
        if unknown or not models:
            raise RoutingDataError(f"unknown model(s) {unknown}; this router knows {self.models_}" if unknown
                                   else "models must name at least one model")
        return np.array([self.models_.index(m) for m in models])

    def save(self, directory: str | Path) -> None:
        """``router.json`` + ``router.npz`` in ``directory`` (no pickle)."""
        check_is_fitted(self)
        save_score_model(self.score_model_, directory, {"models": self.models_, "costs": self.costs_.tolist(),
                                                        "max_chars": self.max_chars})

    @classmethod
    def load(cls, directory: str | Path, cache: str | Path | None = None) -> Router:
        """The fitted router saved in ``directory``; its ``score_model`` is the saved configuration."""
        score_model, meta = load_score_model(directory)
        router = cls(clone(score_model), cache, int(meta["max_chars"]))
        router.score_model_, router.n_features_in_ = score_model, score_model.n_features_in_
        router.models_, router.costs_ = list(meta["models"]), np.asarray(meta["costs"], dtype=np.float64)
        return router
