"""Automatic reuser choice: given the candidates search found and the user's rows, pick and fit
the reuser that does best on those rows.

Rule (:class:`AutoReuser`, ``reuser="auto"``):

* fewer than ``min_labels`` labelled rows (or none): no score can be trusted, so the label-free
  default: the single best-ranked learnware when the mixture has one member, else the job
  selector weighted by the mixture;
* otherwise every registered reuser that supports the task type is scored on the labelled rows
  (accuracy or R^2): label-free reusers by predicting them directly, label-using ones by
  ``cv``-fold cross-validation (stratified when every class has at least ``cv`` rows); the best
  is refitted on all labelled rows. Equal scores go to the lowest ``preference`` (the simpler
  reuser; see :mod:`modelreuse.reuse.base`).
* "Train on your own rows" is one of those reusers (``own_rows``, pool ``"none"``, scored by the
  same cross-validation, last in preference): it is chosen when every reuser of the learnwares
  scores lower, and ``notes_`` says so.
* A reuser that cannot be fitted or scored on the user's rows (one class in a training fold, too
  few rows, a model that fails on them) is skipped; ``notes_`` keeps the reason. Only when no
  reuser is left is that an error.
* When no reuser of the learnwares scores above the trivial baseline (the majority class's
  share of the labelled rows, or R^2 = 0) a :class:`~modelreuse.errors.BelowBaselineWarning`
  is issued and noted.

Label spaces (:func:`shared_label_space`): labels are compared as strings (``1`` and ``"1"``
match). A candidate whose classes share none with the user's labels cannot be reused for them and
is left out (with the reason); if none shares one, :class:`~modelreuse.errors.SchemaError` lists
both label sets and how to map them. With partial overlap, reusers predict over the union of the
candidates' classes and the user's labels; a user's class no candidate knows can only come from a
reuser that learns from labels (``feature_augment``, ``own_rows``).

Candidates come in two pools: ``mixture`` (mixture-search members with their weights) and
``ranking`` (the statistical ranking's top ``k``); each reuser's ``pool`` metadata says which it
is built from, so a new reuser needs no change here.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelreuse.errors import BelowBaselineWarning, InvalidTaskDataError, ModelPredictError, SchemaError
from modelreuse.reuse.base import REUSERS, TASK_TYPES, ReuserBase, models_task_type, reuser_params, task_score

#: What a reuser that cannot be fitted or scored on the user's rows raises (scikit-learn's
#: ``ValueError`` for one class in a fold or too few rows, a learnware model failing on the rows).
UNFITTABLE = (ValueError, ModelPredictError, np.linalg.LinAlgError)


@dataclass(frozen=True)
class Candidate:
    """One usable learnware: its loaded model and what search said about it.

    ``weight`` is the mixture weight (``None`` outside a mixture); ``spec`` its RKME, for reusers
    that route rows by distribution. Copies share the pre-fitted model (``clone`` of a reuser must
    neither refit nor copy a learnware's model, and an ONNX session cannot be copied).
    """

    learnware_id: str
    name: str
    model: Any
    reason: str = ""
    weight: float | None = None
    spec: Any = None

    def __deepcopy__(self, memo: dict) -> Candidate:
        return self


def pool_of(name: str, mixture: Sequence[Candidate], ranking: Sequence[Candidate]) -> list[Candidate]:
    """The candidates reuser ``name`` is built from (its ``pool`` metadata; ``"none"``: none)."""
    pool = REUSERS.metadata(name)["pool"]
    if pool == "none":
        return []
    return list(mixture) if pool == "mixture" else list(ranking)[: 1 if pool == "top1" else None]


def build_reuser(name: str, mixture: Sequence[Candidate], ranking: Sequence[Candidate],
                 task_type: str | None = None) -> ReuserBase:
    """An unfitted reuser ``name`` over its pool: the pool's models, plus the mixture weights and
    the RKME specs when its constructor takes them. A reuser that uses no learnware (pool
    ``"none"``) takes the task type, when not given, from all the candidates' models."""
    pool = pool_of(name, mixture, ranking)
    cls = REUSERS.get(name)
    if not cls.uses_models:
        task_type = task_type or models_task_type([c.model for c in (*mixture, *ranking)])
    elif not pool:
        raise InvalidTaskDataError(f"reuser {name!r} has no candidates: search found no usable learnware")
    weights = [c.weight for c in pool]
    specs = [c.spec for c in pool]
    extra = reuser_params(cls, weights=None if None in weights else weights, specs=None if None in specs else specs)
    return cls([c.model for c in pool], task_type, **extra)


def shared_label_space(candidates: Sequence[Candidate], y) -> tuple[list[Candidate], list[str]]:
    """The candidates whose classes share at least one label with ``y`` (compared as strings), and
    one ``skipped <name> [<id>]: ...`` line for each of the others (module docstring).
    :class:`SchemaError` when none shares one, listing both label sets and how to map them."""
    labels = sorted({str(v) for v in np.asarray(y).ravel()})
    kept, skipped = [], []
    for c in candidates:
        classes = _class_names(c.model)
        if set(classes) & set(labels):
            kept.append(c)
        else:
            skipped.append(f"skipped {c.name} [{c.learnware_id}]: SchemaError: its classes {classes} share none "
                           f"with your labels {labels}")
    if not kept:
        theirs = sorted({name for c in candidates for name in _class_names(c.model)})
        example = dict(zip(labels, theirs))
        raise SchemaError(
            f"your labels {labels} share no class with the learnwares found, whose classes are {theirs} (labels are "
            "compared as strings, so 1 and '1' match). Map your labels onto theirs before fitting, e.g. "
            f"y = pandas.Series(y).map({example}) after checking what each class means in the learnwares' "
            "descriptions, or train on your own rows.")
    return kept, skipped


def _class_names(model) -> list[str]:
    classes = getattr(model, "classes_", None)
    return [] if classes is None else sorted(str(v) for v in np.asarray(classes).ravel())


def cv_splitter(task_type: str, y: np.ndarray, n_splits: int, seed: int):
    """``n_splits``-fold, shuffled; stratified for classification when every class has that many rows."""
    from sklearn.model_selection import KFold, StratifiedKFold

    if task_type == "classification" and np.unique(y.astype(str), return_counts=True)[1].min() >= n_splits:
        return StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return KFold(n_splits=n_splits, shuffle=True, random_state=seed)


class AutoReuser(ReuserBase):
    """Picks and fits a reuser for the user's rows (see the module docstring).

    Args:
        mixture: mixture-search candidates (with weights), best first.
        ranking: statistical-ranking candidates, best first.
        task_type: ``"classification"``, ``"regression"`` or ``None`` (from the models).
        reuser: ``"auto"`` or a name in :data:`~modelreuse.reuse.base.REUSERS` to use that one.
        min_labels: fewer labelled rows than this use the label-free default.
        cv: folds of the cross-validation that scores label-using reusers.
        random_state: seed of the folds.

    Fitted: ``reuser_`` (the name chosen), ``estimator_`` (that reuser, fitted), ``scores_``
    (name -> score on the labelled rows; empty when not scored), ``chosen_`` (its candidates;
    none for ``own_rows``), ``baseline_`` (the trivial baseline's score, ``None`` when not
    scored), ``notes_`` (lines saying why: reusers skipped with their reason, own rows chosen,
    below the baseline).
    """

    def __init__(self, mixture: Sequence[Candidate] = (), ranking: Sequence[Candidate] = (),
                 task_type: str | None = None, reuser: str = "auto", min_labels: int = 10, cv: int = 3,
                 random_state: int = 0):
        self.mixture = mixture
        self.ranking = ranking
        self.task_type = task_type
        self.reuser = reuser
        self.min_labels = min_labels
        self.cv = cv
        self.random_state = random_state

    def _task_type(self) -> str | None:
        if self.task_type is not None:
            return self.task_type
        return models_task_type([c.model for c in (*self.mixture, *self.ranking)])

    def fit(self, X, y=None):
        """Choose the reuser on ``(X, y)`` (or ``X`` alone: label-free) and fit it on all of them."""
        task_type = self._task_type()
        if task_type not in TASK_TYPES:
            raise InvalidTaskDataError("pass task_type='classification' or 'regression' (the candidates' models "
                                       f"do not agree on one), got {self.task_type!r}")
        if not self.ranking:
            raise InvalidTaskDataError("AutoReuser needs candidates: pass ranking=[Candidate(...), ...]")
        X, y = self._validate(X, y, reset=True)
        self.task_type_ = task_type
        self.notes_, self.scores_, self.baseline_ = [], {}, None
        if self.reuser == "auto" and y is not None and len(y) >= self.min_labels:
            self.scores_ = self._scores(X, y)
            self.baseline_ = trivial_score(task_type, y)
        self.reuser_ = self._choice()
        if self.scores_:
            self._judge()
        self.estimator_ = build_reuser(self.reuser_, self.mixture, self.ranking, task_type).fit(X, y)
        self.chosen_ = pool_of(self.reuser_, self.mixture, self.ranking)
        if task_type == "classification":
            self.classes_ = self.estimator_.classes_
        return self

    def _choice(self) -> str:
        if self.reuser != "auto":
            if self.reuser not in self._eligible():
                REUSERS.get(self.reuser)  # an unknown name raises UnknownNameError listing the names
                raise InvalidTaskDataError(f"reuser {self.reuser!r} cannot be used for this {self.task_type_} task with "
                                           f"these candidates; use one of {', '.join(self._eligible())}")
            return self.reuser
        if not self.scores_:
            if len(self.mixture) == 1:
                return "single"
            return "job_selector" if "job_selector" in self._eligible() else "averaging"
        return max(self.scores_, key=self.scores_.get)  # first of equals: lowest preference

    def _judge(self) -> None:
        """Note (and warn) how the learnwares' reusers compare with own rows and the baseline."""
        reuse = {n: s for n, s in self.scores_.items() if REUSERS.get(n).uses_models}
        best = max(reuse, key=reuse.get) if reuse else None
        if not REUSERS.get(self.reuser_).uses_models:
            than = f"than the best reuse of the learnwares ({best} = {reuse[best]:.3f})" if best else \
                "and no reuser of the learnwares could be fitted"
            self.notes_.append(f"{self.reuser_} chosen: a model trained on your labelled rows only scores "
                               f"{self.scores_[self.reuser_]:.3f} (cross-validated), better {than}")
        if best is not None and reuse[best] <= self.baseline_:
            what = "accuracy of always predicting the majority class" if self.task_type_ == "classification" else \
                "R^2 of always predicting the mean"
            message = (f"no reuse of the learnwares scores above the trivial baseline on your labelled rows (best: "
                       f"{best} = {reuse[best]:.3f}; {what} = {self.baseline_:.3f}): the learnwares found do not help "
                       "this task")
            self.notes_.append("warning: " + message)
            warnings.warn(message, BelowBaselineWarning, stacklevel=3)

    def _eligible(self) -> list[str]:
        """Reusers for this task type whose candidates have what they need (``needs_specs``: an RKME
        per candidate), simplest (lowest ``preference``) first."""
        def usable(name: str) -> bool:
            meta = REUSERS.metadata(name)
            pool = pool_of(name, self.mixture, self.ranking)
            return self.task_type_ in meta["task_types"] and not (
                meta.get("needs_specs") and any(c.spec is None for c in pool))

        names = [n for n in REUSERS.names() if usable(n)]
        return sorted(names, key=lambda n: REUSERS.metadata(n).get("preference", len(names)))

    def _scores(self, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
        """Each eligible reuser's score; one that cannot be fitted or scored is skipped (noted)."""
        scores = {}
        for name in self._eligible():
            try:
                scores[name] = self._labelled_score(name, X, y)
            except UNFITTABLE as exc:
                self.notes_.append(f"skipped reuser {name}: cannot be fitted on your labelled rows: "
                                   f"{type(exc).__name__}: {exc}")
        if not scores:
            raise InvalidTaskDataError("no reuser could be fitted on your labelled rows:\n" + "\n".join(self.notes_))
        return scores

    def _labelled_score(self, name: str, X: np.ndarray, y: np.ndarray) -> float:
        """Score on the labelled rows; ``cv``-fold cross-validated when the reuser learns from labels."""
        def build() -> ReuserBase:
            return build_reuser(name, self.mixture, self.ranking, self.task_type_)

        if not REUSERS.metadata(name)["needs_labels"]:
            return task_score(self.task_type_, y, build().fit(X).predict(X))
        preds = np.empty(len(y), dtype=object if self.task_type_ == "classification" else np.float64)
        for train, test in cv_splitter(self.task_type_, y, self.cv, self.random_state).split(X, y):
            preds[test] = build().fit(X[train], y[train]).predict(X[test])
        return task_score(self.task_type_, y, preds)

    def _combine(self, X: np.ndarray) -> np.ndarray:
        return self.estimator_._combine(X)


def trivial_score(task_type: str, y: np.ndarray) -> float:
    """The trivial baseline on the labelled rows ``y``: the majority class's share
    (classification; labels as strings) or 0, the R^2 of predicting their mean (regression)."""
    if task_type != "classification":
        return 0.0
    counts = np.unique(np.asarray(y).astype(str), return_counts=True)[1]
    return float(counts.max() / counts.sum())
