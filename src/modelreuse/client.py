"""The one-call API: ``Client().fit(training_data=(X, y), model_zoo_path=...)``.

``fit`` builds the task's RKME locally, searches the dock (mixture search by default, which
also gives a statistical ranking), loads the chosen learnwares safely, and fits a reuser:

* no labels: the single best learnware when the mixture has one member, else the job
  selector weighted by the mixture;
* labels: every applicable reuser is scored on the labelled rows (reusers that learn from
  labels by 3-fold cross-validation) and the best is refitted on all labelled rows.

The returned :class:`ReusedModel` predicts like a scikit-learn estimator and says which
learnwares it chose and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modelreuse.errors import (
    EmptyDockError,
    InvalidTaskDataError,
    ModelLoadError,
    ModelPredictError,
    NothingFitsError,
    SchemaError,
    UntrustedArtifactError,
)
from modelreuse.selection.ranking import RankedLearnware, Ranking

if TYPE_CHECKING:  # imported when used, so that ``from modelreuse import Client`` stays fast
    from modelreuse.dock import Dock
    from modelreuse.task import Task

LABEL_FREE = ("single", "job_selector", "averaging")
LABEL_USING = ("ensemble_pruning", "feature_augment")
UNUSABLE = (UntrustedArtifactError, ModelLoadError, ModelPredictError, SchemaError)
PROBE_ROWS = 8


@dataclass
class ReusedModel:
    """A fitted predictor built from learnwares."""

    estimator: Any
    reuser: str
    chosen: list[dict]
    ranking: Ranking
    task_type: str
    encoder: str | None = None
    selection_scores: dict = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def _features(self, X):
        if self.encoder:
            from modelreuse.models.encoders import encode

            return encode(self.encoder, X)
        return np.asarray(X, np.float64)

    def predict(self, X) -> np.ndarray:
        return self.estimator.predict(self._features(X))

    def predict_proba(self, X) -> np.ndarray:
        return self.estimator.predict_proba(self._features(X))

    def explain(self) -> str:
        lines = [f"reuser: {self.reuser} ({self.task_type})"]
        if self.selection_scores:
            lines.append("reuser scores on your labelled rows: " + ", ".join(
                f"{k}={v:.3f}" for k, v in sorted(self.selection_scores.items(), key=lambda t: -t[1])))
        for c in self.chosen:
            w = f" weight={c['weight']:.3f}" if c.get("weight") is not None else ""
            lines.append(f"- {c['name']} [{c['learnware_id']}]{w}: {c['reason']}")
        lines += self.skipped
        return "\n".join(lines)


class Client:
    """Entry point for users.

    Args:
        dock: a :class:`Dock`, a dock root directory, or ``None`` for ``./modelreuse-dock``.
        trust: allow loading learnware artifacts that can run code (pickle/joblib).
    """

    def __init__(self, dock: Dock | str | Path | None = None, trust: bool = False):
        self._dock = dock
        self.trust = trust

    @property
    def dock(self) -> Dock:
        """The client's dock, opened on first use (default ``./modelreuse-dock``)."""
        from modelreuse.dock import Dock

        if not isinstance(self._dock, Dock):
            self._dock = Dock("modelreuse-dock" if self._dock is None else self._dock)
        return self._dock

    def fit(self, training_data, model_zoo_path: str | Path | None = None, *, unlabelled_data=None,
            reuser: str = "auto", task_type: str | None = None, encoder: str | None = None,
            max_learnwares: int = 5, k: int = 5, seed: int = 0, on_nothing_fits: str = "raise",
            alpha: float | None = None) -> ReusedModel:
        """Find learnwares that fit the task and reuse them.

        Args:
            training_data: ``(X, y)`` labelled rows, or ``X`` alone (unlabelled).
            model_zoo_path: a dock root directory (default: this client's dock).
            unlabelled_data: extra rows without labels (used for the task spec and job selection).
            reuser: ``"auto"``, ``"single"`` or a name in :data:`modelreuse.reuse.REUSERS`.
            task_type: ``"classification"``/``"regression"``; inferred from ``y`` if omitted.
            encoder: encode raw text/images with this encoder first (e.g. ``"all-MiniLM-L6-v2"``).
            max_learnwares: size limit of the mixture.
            k: number of learnwares in the statistical ranking used by label-based reusers.
            on_nothing_fits: what to do when calibrated search finds no learnware whose
                distribution plausibly matches the task (every p-value < ``alpha``):
                ``"raise"`` a :class:`NothingFitsError` listing the closest candidates,
                ``"train"`` a random forest on the labelled rows only, or ``"reuse"`` anyway.
                The returned model's ``reuser`` and ``explain()`` say which happened.
            alpha: significance level of "nothing fits" (default
                :data:`modelreuse.selection.calibration.DEFAULT_ALPHA`, 0.01).
        """
        from modelreuse.dock import Dock
        from modelreuse.selection.calibration import DEFAULT_ALPHA
        from modelreuse.task import Task

        if on_nothing_fits not in ("raise", "train", "reuse"):
            raise ValueError(f"on_nothing_fits must be 'raise', 'train' or 'reuse', got {on_nothing_fits!r}")
        alpha = DEFAULT_ALPHA if alpha is None else alpha
        dock = Dock(model_zoo_path) if model_zoo_path is not None else self.dock
        X, y = _split_training_data(training_data)
        X = _encode(X, encoder)
        if unlabelled_data is not None:
            U = _encode(unlabelled_data, encoder)
            X = U if X is None else np.concatenate([np.asarray(X, np.float64), np.asarray(U, np.float64)])
        task = Task(X=X, y=y, task_type=task_type, seed=seed)
        if task.task_type is None:
            raise InvalidTaskDataError("pass task_type='classification' or 'regression' when no labels are given")
        ranking = dock.search(task, method="statistical", k=k, alpha=alpha)
        if ranking.details.get("nothing_fits") and on_nothing_fits != "reuse":
            best = ranking[0]
            if on_nothing_fits == "raise" or task.y is None:
                raise NothingFitsError(
                    f"no learnware fits this task: the closest, {best.name!r}, has p = {best.details['p_value']:.3g} "
                    f"< alpha = {alpha}. Pass on_nothing_fits='train' to fit on your labelled rows, or "
                    "'reuse' to reuse the closest learnwares anyway.", ranking)
            model = train_on_own_rows(task, ranking, seed)
            model.encoder = encoder
            return model
        mixture = dock.search(task, method="mixture", max_learnwares=max_learnwares)
        model = reuse(dock, task, mixture, ranking, reuser=reuser, trust=self.trust)
        model.encoder = encoder
        return model


def reuse(dock: Dock, task: Task, mixture: Ranking, ranking: Ranking, reuser: str = "auto",
          trust: bool = False) -> ReusedModel:
    """Fit a reuser on the learnwares of ``mixture`` (label-free) or ``ranking`` (label-using).

    A learnware that cannot be loaded safely or does not predict on the task's rows is skipped;
    the reason is kept in the model's ``explain()``. :class:`EmptyDockError` lists the reasons
    when no learnware is left.
    """
    from modelreuse.reuse import REUSERS, AveragingReuser, JobSelectorReuser

    models, skipped = _usable_models(dock, [*mixture, *ranking], task.X, trust)
    mixture, ranking = _without(mixture, models), _without(ranking, models)
    if not ranking.entries:
        raise EmptyDockError("no learnware found for this task could be used:\n" + "\n".join(skipped))
    if not mixture.entries:  # every mixture member was skipped: the best usable one of the ranking
        mixture = replace(mixture, entries=[replace(ranking[0], weight=1.0)])

    def build(name: str):
        rk = ranking if name in LABEL_USING or name == "single" else mixture
        ids = rk.ids[:1] if name == "single" else rk.ids
        adapters = [models[i] for i in ids]
        if name == "job_selector":
            return JobSelectorReuser(adapters, task.task_type, specs=[dock.get(i).rkme for i in ids],
                                     weights=[e.weight for e in rk]), rk
        if name in ("single", "averaging"):
            weights = None if name == "single" else [e.weight for e in rk]
            return AveragingReuser(adapters, task.task_type, weights=weights), rk
        if name not in REUSERS:
            raise ValueError(f"unknown reuser {name!r}; use auto, single or one of {sorted(REUSERS)}")
        return REUSERS[name](adapters, task.task_type), rk

    scores: dict[str, float] = {}
    if reuser == "auto":
        if task.y is None or len(task.y) < 10:
            reuser = "single" if len(mixture) == 1 else "job_selector"
        else:
            scores = {name: _labelled_score(build, name, task) for name in (*LABEL_FREE, *LABEL_USING)}
            reuser = max(scores, key=scores.get)
    estimator, rk = build(reuser)
    estimator.fit(task.X, task.y)
    chosen = [{"learnware_id": e.learnware_id, "name": e.name, "weight": e.weight, "reason": e.reason}
              for e in (list(rk)[:1] if reuser == "single" else rk)]
    return ReusedModel(estimator, reuser, chosen, ranking, task.task_type, selection_scores=scores, skipped=skipped)


def _usable_models(dock: Dock, entries: list[RankedLearnware], X, trust: bool) -> tuple[dict, list[str]]:
    """Load each learnware once and check it predicts one value per row on a few task rows;
    return the usable adapters by id and one ``skipped <name> [<id>]: <Type>: <reason>`` line for
    each of the others."""
    probe = np.asarray(X[:PROBE_ROWS], np.float64)
    names = {e.learnware_id: e.name for e in entries}  # from the ranking: a broken package is not reopened
    models, skipped = {}, []
    for i in names:
        try:
            model = dock.load_model(i, trust=trust)
            rows = len(np.asarray(model.predict(probe)))
            if rows != len(probe):
                raise SchemaError(f"model returned {rows} predictions for {len(probe)} rows")
            models[i] = model
        except UNUSABLE as exc:
            skipped.append(f"skipped {names[i]} [{i}]: {type(exc).__name__}: {exc}")
    return models, skipped


def _without(ranking: Ranking, usable: dict) -> Ranking:
    """``ranking`` restricted to the usable learnwares, mixture weights renormalised."""
    kept = [e for e in ranking if e.learnware_id in usable]
    total = sum(e.weight for e in kept if e.weight is not None)
    if total > 0 and len(kept) < len(ranking):
        kept = [replace(e, weight=e.weight / total) if e.weight is not None else e for e in kept]
    return replace(ranking, entries=kept)


def train_on_own_rows(task: Task, ranking: Ranking, seed: int = 0) -> ReusedModel:
    """The fallback when nothing fits: a random forest (200 trees) on the labelled rows."""
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    cls = RandomForestClassifier if task.task_type == "classification" else RandomForestRegressor
    est = cls(n_estimators=200, random_state=seed, n_jobs=-1).fit(task.X_labelled, task.y)
    chosen = [{"learnware_id": e.learnware_id, "name": e.name, "weight": None,
               "reason": "closest candidate, not used: " + e.reason} for e in ranking]
    return ReusedModel(est, "own_rows (nothing fits)", chosen, ranking, task.task_type)


def score(task_type: str, y_true, y_pred) -> float:
    """Accuracy (classification) or R^2 (regression); higher is better."""
    from sklearn.metrics import accuracy_score, r2_score

    if task_type == "classification":
        return float(accuracy_score(np.asarray(y_true).astype(str), np.asarray(y_pred).astype(str)))
    return float(r2_score(y_true, y_pred))


def _labelled_score(build, name: str, task: Task) -> float:
    """Score of a reuser on the labelled rows (3-fold CV when it learns from labels)."""
    Xl, y = task.X_labelled, task.y
    if name not in LABEL_USING:
        est, _ = build(name)
        est.fit(task.X, None)
        return score(task.task_type, y, est.predict(Xl))
    splitter = _splitter(task.task_type, y)
    preds = np.empty(len(y), dtype=object if task.task_type == "classification" else np.float64)
    for train, test in splitter.split(Xl, y):
        est, _ = build(name)
        est.fit(Xl[train], y[train])
        preds[test] = est.predict(Xl[test])
    return score(task.task_type, y, preds)


def _splitter(task_type: str, y: np.ndarray):
    from sklearn.model_selection import KFold, StratifiedKFold

    if task_type == "classification":
        min_count = np.unique(y.astype(str), return_counts=True)[1].min()
        if min_count >= 3:
            return StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    return KFold(n_splits=3, shuffle=True, random_state=0)


def _split_training_data(training_data) -> tuple[Any, np.ndarray | None]:
    if isinstance(training_data, tuple):
        if len(training_data) != 2:
            raise InvalidTaskDataError("training_data must be (X, y) or X")
        X, y = training_data
        y = np.asarray(y)
        if len(y) != len(X):
            raise InvalidTaskDataError(f"X has {len(X)} rows but y has {len(y)} labels")
        return X, y
    return training_data, None


def _encode(X, encoder: str | None):
    if encoder is None:
        return X
    from modelreuse.models.encoders import encode

    return encode(encoder, X)
