"""The router protocol: predict every model's score on a query, then decide under cost.

A *score model* (one file each in this package, registered in :data:`ROUTERS`) is a
scikit-learn estimator: constructor arguments stored verbatim, ``fit(X, S, tasks)`` on query
embeddings ``X (n, d)``, per-model scores ``S (n, M)`` in [0, 1] (NaN = not evaluated, ignored by
every loss) and task labels, learned state in attributes ending in ``_`` (``n_features_in_ = d``),
and ``predict(X, tasks) -> (n, M)`` predicted scores in [0, 1]. :class:`ScoreModel` validates the
inputs of both in one place (``X`` with scikit-learn's ``validate_data``, so its messages and
``n_features_in_`` checks apply; the scores with :func:`check_scores`) and subclasses implement
``_fit`` / ``_predict``. To scikit-learn a score model is a multi-output estimator whose target is
the 2-D score matrix (its tags say so). Its fitted state is arrays and JSON only, so a saved router
loads without executing anything (``router.json`` + ``router.npz``).

Adding a score model is one new module in this package with one decorator line,
``@ROUTERS.register("name")``, on a :class:`ScoreModel` subclass.

:func:`decide` turns predictions into choices: the best predicted model (cheaper on ties), or with
willingness-to-pay ``lam`` the argmax of ``lam * predicted score - cost`` (RouterBench's
formulation), or under a hard ``budget`` (mean USD per query over the batch) the largest ``lam``
whose choices stay within it.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from modelreuse._registry import Registry
from modelreuse.errors import RoutingDataError

ROUTERS: Registry[type[ScoreModel]] = Registry("router", package="modelreuse.routing")


class ScoreModel(BaseEstimator, ABC):
    """Predicts each model's score on a query (module doc)."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.target_tags.multi_output = True  # the target is S (n_queries, n_models) ...
        tags.target_tags.single_output = False  # ... never a 1-D y
        return tags

    def fit(self, X, S, tasks=None, **fit_params) -> ScoreModel:
        """Validate ``X (n, d)``, ``S (n, M)`` and ``tasks``, then learn (``_fit``)."""
        X = self._check_queries(X, reset=True)
        S = check_scores(S, len(X))
        self._fit(X, S, as_tasks(tasks, len(X)), **fit_params)
        return self

    def predict(self, X, tasks=None, **predict_params) -> np.ndarray:
        """``(n, M)`` predicted scores in [0, 1] for queries ``X (n, n_features_in_)``."""
        check_is_fitted(self)
        X = self._check_queries(X, reset=False)
        return self._predict(X, as_tasks(tasks, len(X)), **predict_params)

    def _check_queries(self, X, reset: bool) -> np.ndarray:
        """Finite float64 ``X (n, d)`` (scikit-learn's ``validate_data``: ``reset`` sets
        ``n_features_in_``, otherwise ``d`` must equal it); its errors as :class:`RoutingDataError`."""
        from sklearn.utils.validation import validate_data

        try:
            return validate_data(self, X, reset=reset, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise RoutingDataError(f"query embeddings: {exc}") from None

    @abstractmethod
    def _fit(self, X: np.ndarray, S: np.ndarray, tasks: np.ndarray) -> None:
        """Learn from validated float64 ``X``, ``S`` and object ``tasks``."""

    @abstractmethod
    def _predict(self, X: np.ndarray, tasks: np.ndarray) -> np.ndarray:
        """Predict for validated float64 ``X`` and object ``tasks``."""

    def get_state(self) -> dict[str, np.ndarray]:
        """Fitted arrays (saved with ``np.savez``, loaded with ``allow_pickle=False``)."""
        check_is_fitted(self)
        return {"n_features_in": np.array(self.n_features_in_)} | self._get_state()

    def set_state(self, state: dict[str, np.ndarray]) -> ScoreModel:
        """Restore what :meth:`get_state` returned; the estimator is then fitted."""
        try:
            self.n_features_in_ = int(state["n_features_in"])
            self._set_state(state)
        except KeyError as exc:
            raise RoutingDataError(f"saved {type(self).__name__} state lacks array {exc}; refit and save the router "
                                   "again") from None
        return self

    @abstractmethod
    def _get_state(self) -> dict[str, np.ndarray]: ...

    @abstractmethod
    def _set_state(self, state: dict[str, np.ndarray]) -> None: ...


def check_scores(S, n: int) -> np.ndarray:
    """Validated float64 scores ``(n, M)``: in [0, 1], NaN where a model was not evaluated, and at
    least one score per model."""
    if S is None:
        raise RoutingDataError("a score model requires y to be passed, but the target y is None: pass the scores "
                               "S (n_queries, n_models)")
    try:
        S = np.asarray(S, dtype=np.float64)
    except (TypeError, ValueError):
        raise RoutingDataError("scores must be numbers in [0, 1] (NaN where a model was not evaluated)") from None
    if S.ndim != 2 or len(S) != n or S.shape[1] == 0:
        raise RoutingDataError(f"need scores of shape (n_queries={n}, n_models >= 1), got {S.shape}")
    if ((S < 0) | (S > 1) | np.isinf(S)).any():
        raise RoutingDataError("scores must lie in [0, 1] (NaN where a model was not evaluated); rescale them first")
    if np.isnan(S).all(axis=0).any():
        raise RoutingDataError(f"model(s) {np.flatnonzero(np.isnan(S).all(axis=0)).tolist()} have no training score")
    return S


def as_tasks(tasks, n: int) -> np.ndarray:
    """``tasks`` as an object array of length ``n`` (all ``""`` when None)."""
    if tasks is None:
        return np.full(n, "", dtype=object)
    tasks = np.asarray(tasks, dtype=object)
    if len(tasks) != n:
        raise RoutingDataError(f"{len(tasks)} task labels for {n} queries")
    return tasks


def router_name(model: ScoreModel) -> str:
    """The name ``model``'s class is registered under in :data:`ROUTERS`."""
    for entry in ROUTERS.entries():
        if entry.obj is type(model):
            return entry.name
    raise RoutingDataError(f"{type(model).__name__} is not a registered router; register it with @ROUTERS.register")


def decide(predicted: np.ndarray, costs: np.ndarray | None = None, lam: float | None = None,
           budget: float | None = None) -> np.ndarray:
    """Index of the chosen model per query (module doc). ``costs``: per-model USD per query."""
    predicted = np.asarray(predicted, dtype=np.float64)
    costs = np.zeros(predicted.shape[1]) if costs is None else np.asarray(costs, dtype=np.float64)
    if budget is not None:
        if lam is not None:
            raise RoutingDataError("give either lam or budget, not both")
        return _within_budget(predicted, costs, budget)
    if lam is None:
        # best predicted score; among (near-)ties the cheaper model
        return np.argmax(predicted - 1e-9 * costs / max(costs.max(), 1e-300), axis=1)
    if lam < 0:
        raise RoutingDataError("willingness to pay lam must be >= 0")
    return np.argmax(lam * predicted - costs, axis=1)


def _within_budget(predicted: np.ndarray, costs: np.ndarray, budget: float) -> np.ndarray:
    if budget < costs.min():
        raise RoutingDataError(f"budget {budget:.3g} USD per query is below the cheapest model's cost {costs.min():.3g}")
    best = decide(predicted, costs)
    if costs[best].mean() <= budget:
        return best
    low, high = 0.0, 1.0
    while costs[decide(predicted, costs, lam=high)].mean() <= budget:
        low, high = high, high * 2
    for _ in range(60):  # bisection on lam: mean cost is non-decreasing in lam
        mid = (low + high) / 2
        low, high = (mid, high) if costs[decide(predicted, costs, lam=mid)].mean() <= budget else (low, mid)
    return decide(predicted, costs, lam=low)


def save_score_model(model: ScoreModel, directory: str | Path, extra: dict | None = None) -> None:
    """``router.json`` (kind, constructor arguments, ``extra``) and ``router.npz`` (fitted arrays)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    meta = {"kind": router_name(model), "config": model.get_params()} | (extra or {})
    (directory / "router.json").write_text(json.dumps(meta, indent=2))
    np.savez(directory / "router.npz", **model.get_state())


def load_score_model(directory: str | Path) -> tuple[ScoreModel, dict]:
    """The saved, fitted score model and the JSON it was saved with (no pickle is read)."""
    directory = Path(directory)
    if not (directory / "router.json").is_file():
        raise RoutingDataError(f"no saved router in {directory}")
    meta = json.loads((directory / "router.json").read_text())
    kind = ROUTERS.get(meta.get("kind"))
    try:
        model = kind(**meta.get("config", {}))
    except TypeError as exc:
        raise RoutingDataError(f"router.json has a bad config for {meta['kind']!r}: {exc}") from None
    with np.load(directory / "router.npz", allow_pickle=False) as arrays:
        model.set_state({k: arrays[k] for k in arrays.files})
    return model, meta
