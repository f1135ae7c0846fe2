"""``Router``: the user-facing, instance-level model selector over N models.

    router = Router("mlp").fit(read_records("routerbench.parquet").split("train"))
    choices = router.route(["What is 2 + 2?"], budget=0.001)   # -> [RouteChoice(model, score, cost)]
    router.save("my-router");  Router.load("my-router")

Queries are embedded with :func:`~modelreuse.routing.encoder.encode_queries` (MiniLM, tail of long
prompts, disk cache), a score model (``lookup``, ``knn``, ``mlp``, ``mf``, ``capability``) predicts every model's
score, and :func:`~modelreuse.routing.base.decide` picks one model per query: the best predicted
score, or the best ``lam * score - cost``, or the best within a mean ``budget`` (USD per query).
A model's cost is its mean recorded cost per query in the training records (0 when the records
have no costs).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from modelreuse.errors import RoutingDataError
from modelreuse.records.routing import RoutingRecords
from modelreuse.routing import capability, knn, lookup, mf, mlp  # noqa: F401  (register the score models)
from modelreuse.routing.base import SCORE_MODELS, decide, load_score_model, save_score_model
from modelreuse.routing.encoder import DEFAULT_MAX_CHARS, encode_queries


@dataclass
class RouteChoice:
    """The model chosen for one query, its predicted score and its (mean) cost in USD."""

    model: str
    predicted_score: float
    cost: float


class Router:
    """Embed, predict every model's score, decide (module doc)."""

    def __init__(self, kind: str = "mlp", cache: str | Path | None = None, max_chars: int = DEFAULT_MAX_CHARS,
                 **config):
        if kind not in SCORE_MODELS:
            raise RoutingDataError(f"unknown router {kind!r}; available: {sorted(SCORE_MODELS)}")
        self.kind, self.cache, self.max_chars = kind, cache, max_chars
        self.score_model = SCORE_MODELS[kind](**config)

    def embed(self, queries: Sequence[str]) -> np.ndarray:
        return encode_queries(list(queries), self.cache, self.max_chars)

    def fit(self, records: RoutingRecords, embeddings: np.ndarray | None = None) -> Router:
        """Fit on every row of ``records`` (select the split first); ``embeddings`` skips encoding."""
        X = self.embed(records.prompts) if embeddings is None else embeddings
        self.score_model.fit(X, records.scores(), records.tasks)
        self.models_ = records.models
        costs = records.costs()
        self.costs_ = np.zeros(len(self.models_)) if costs is None else np.nan_to_num(np.nanmean(costs, axis=0))
        return self

    def predict(self, queries: Sequence[str] | None = None, tasks=None, embeddings: np.ndarray | None = None) -> np.ndarray:
        """``(n, n_models)`` predicted scores."""
        X = self.embed(queries) if embeddings is None else embeddings
        return self.score_model.predict(X, tasks)

    def route(self, queries: Sequence[str], tasks=None, budget: float | None = None, lam: float | None = None,
              models: Sequence[str] | None = None) -> list[RouteChoice]:
        """One :class:`RouteChoice` per query, among ``models`` (default all)."""
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
        save_score_model(self.score_model, directory, {"models": self.models_, "costs": self.costs_.tolist(),
                                                       "max_chars": self.max_chars})

    @classmethod
    def load(cls, directory: str | Path, cache: str | Path | None = None) -> Router:
        score_model, meta = load_score_model(directory)
        router = cls.__new__(cls)
        router.kind, router.cache, router.max_chars = score_model.name, cache, int(meta["max_chars"])
        router.score_model, router.models_, router.costs_ = score_model, list(meta["models"]), np.asarray(meta["costs"])
        return router

    def __repr__(self) -> str:
        return f"Router({self.kind!r}, config={json.dumps(self.score_model.get_config())})"
