"""The router protocol: predict every model's score on a query, then decide under cost.

A *score model* (one file each in this package) follows scikit-learn's conventions: ``fit(X, S,
tasks)`` on query embeddings ``X (n, d)``, per-model scores ``S (n, M)`` (NaN = not evaluated,
ignored by every loss) and task labels, and ``predict(X, tasks) -> (n, M)`` predicted scores in
[0, 1]. Its fitted state is arrays and JSON only, so a saved router loads without executing
anything (``router.json`` + ``router.npz``).

:func:`decide` turns predictions into choices: the best predicted model (cheaper on ties), or with
willingness-to-pay ``lam`` the argmax of ``lam * predicted score - cost`` (RouterBench's
formulation), or under a hard ``budget`` (mean USD per query over the batch) the largest ``lam``
whose choices stay within it.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

import numpy as np

from modelreuse.errors import RoutingDataError

SCORE_MODELS: dict[str, type[ScoreModel]] = {}


class ScoreModel(ABC):
    """Predicts each model's score on a query (module doc). Subclasses register by ``name``."""

    name: ClassVar[str]

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        SCORE_MODELS[cls.name] = cls

    @abstractmethod
    def fit(self, X: np.ndarray, S: np.ndarray, tasks: np.ndarray | None = None) -> ScoreModel: ...

    @abstractmethod
    def predict(self, X: np.ndarray, tasks: np.ndarray | None = None) -> np.ndarray: ...

    def get_config(self) -> dict:
        """Constructor arguments (JSON)."""
        return {}

    @abstractmethod
    def get_state(self) -> dict[str, np.ndarray]:
        """Fitted arrays (saved with ``np.savez``, loaded with ``allow_pickle=False``)."""

    @abstractmethod
    def set_state(self, state: dict[str, np.ndarray]) -> None: ...


def check_training_data(X: np.ndarray, S: np.ndarray, tasks=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated ``float64 X, S`` and string ``tasks`` (all ``""`` when not given)."""
    X, S = np.asarray(X, dtype=np.float64), np.asarray(S, dtype=np.float64)
    if X.ndim != 2 or S.ndim != 2 or len(X) != len(S) or len(X) == 0:
        raise RoutingDataError(f"need X (n, d) and scores (n, M) with the same n > 0, got {X.shape} and {S.shape}")
    if not np.isfinite(X).all():
        raise RoutingDataError("query embeddings contain NaN or inf")
    if np.isnan(S).all(axis=0).any():
        raise RoutingDataError(f"model(s) {np.flatnonzero(np.isnan(S).all(axis=0)).tolist()} have no training score")
    return X, S, as_tasks(tasks, len(X))


def as_tasks(tasks, n: int) -> np.ndarray:
    if tasks is None:
        return np.full(n, "", dtype=object)
    tasks = np.asarray(tasks, dtype=object)
    if len(tasks) != n:
        raise RoutingDataError(f"{len(tasks)} task labels for {n} queries")
    return tasks


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
    """``router.json`` (kind, config, ``extra``) and ``router.npz`` (fitted arrays)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "router.json").write_text(json.dumps({"kind": model.name, "config": model.get_config()} | (extra or {}),
                                                      indent=2))
    np.savez(directory / "router.npz", **model.get_state())


def load_score_model(directory: str | Path) -> tuple[ScoreModel, dict]:
    """The saved score model and the JSON it was saved with (no pickle is read)."""
    directory = Path(directory)
    if not (directory / "router.json").is_file():
        raise RoutingDataError(f"no saved router in {directory}")
    meta = json.loads((directory / "router.json").read_text())
    if meta.get("kind") not in SCORE_MODELS:
        raise RoutingDataError(f"unknown router kind {meta.get('kind')!r}; known: {sorted(SCORE_MODELS)}")
    model = SCORE_MODELS[meta["kind"]](**meta.get("config", {}))
    with np.load(directory / "router.npz", allow_pickle=False) as arrays:
        model.set_state({k: arrays[k] for k in arrays.files})
    return model, meta
