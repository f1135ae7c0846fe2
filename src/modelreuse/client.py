"""The one-call API: ``Client().fit(training_data=(X, y), model_zoo_path=...)``.

A thin facade over the parts: ``fit`` builds the task's RKME locally, searches the dock
(calibrated statistical ranking, then mixture search), loads the candidates safely (skipping, with
the reason, any learnware that cannot be loaded or does not predict on the task's rows), and fits
an :class:`~modelreuse.reuse.auto.AutoReuser`, which picks the reuser (see
:mod:`modelreuse.reuse.auto`). When calibrated search says nothing fits, ``on_nothing_fits``
decides: raise, train on the user's own rows, or reuse anyway.

The returned :class:`ReusedModel` is a scikit-learn estimator (``clone``, ``fit``, ``predict``,
``predict_proba`` for classification, ``classes_``, ``score``) that also says which learnwares it
chose and why (``explain()``).
"""

from __future__ import annotations

from dataclasses import replace
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
    from modelreuse.reuse.auto import Candidate
    from modelreuse.reuse.reused_model import ReusedModel
    from modelreuse.task import Task

UNUSABLE = (UntrustedArtifactError, ModelLoadError, ModelPredictError, SchemaError)
PROBE_ROWS = 8


def __getattr__(name: str) -> Any:
    if name == "ReusedModel":  # scikit-learn loads with it, not with ``from modelreuse import Client``
        from modelreuse.reuse.reused_model import ReusedModel

        return ReusedModel
    raise AttributeError(f"module 'modelreuse.client' has no attribute {name!r}")


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
        X_raw, y = _split_training_data(training_data)
        rows = X_raw if X_raw is not None else unlabelled_data  # what the returned model is fitted on
        X = _encode(X_raw, encoder)
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
            return train_on_own_rows(task, ranking, seed, encoder=encoder, rows=rows)
        mixture = dock.search(task, method="mixture", max_learnwares=max_learnwares)
        return reuse(dock, task, mixture, ranking, reuser=reuser, trust=self.trust, encoder=encoder, rows=rows)


def reuse(dock: Dock, task: Task, mixture: Ranking, ranking: Ranking, reuser: str = "auto",
          trust: bool = False, *, encoder: str | None = None, rows=None) -> ReusedModel:
    """Fit an :class:`~modelreuse.reuse.auto.AutoReuser` over the usable learnwares of ``mixture``
    (label-free reusers) and ``ranking`` (label-using ones).

    A learnware that cannot be loaded safely or does not predict on the task's rows is skipped;
    the reason is kept in the model's ``explain()``. :class:`EmptyDockError` lists the reasons
    when no learnware is left. ``rows``: the rows to fit on, in ``encoder``'s input (default: the
    task's labelled rows, or all its rows when it has no labels).
    """
    from modelreuse.reuse.auto import AutoReuser
    from modelreuse.reuse.reused_model import ReusedModel

    candidates, skipped = load_candidates(dock, [*mixture, *ranking], task.X, trust)
    mixture, ranking = _without(mixture, candidates), _without(ranking, candidates)
    if not ranking.entries:
        raise EmptyDockError("no learnware found for this task could be used:\n" + "\n".join(skipped))
    if not mixture.entries:  # every mixture member was skipped: the best usable one of the ranking
        mixture = replace(mixture, entries=[replace(ranking[0], weight=1.0)])
    auto = AutoReuser(mixture=_as_candidates(mixture, candidates), ranking=_as_candidates(ranking, candidates),
                      task_type=task.task_type, reuser=reuser)
    model = ReusedModel(auto, encoder=encoder, ranking=ranking, skipped=tuple(skipped))
    if rows is None:
        rows = task.X if task.y is None else task.X_labelled
    return model.fit(rows, task.y)


def load_candidates(dock: Dock, entries: list[RankedLearnware], X, trust: bool) -> tuple[dict[str, Candidate], list[str]]:
    """Load each learnware once and check it predicts one value per row on a few task rows;
    return the usable candidates by id and one ``skipped <name> [<id>]: <Type>: <reason>`` line
    for each of the others."""
    from modelreuse.reuse.auto import Candidate

    probe = np.asarray(X[:PROBE_ROWS], np.float64)
    names = {e.learnware_id: e.name for e in entries}  # from the ranking: a broken package is not reopened
    candidates, skipped = {}, []
    for i in names:
        try:
            model = dock.load_model(i, trust=trust)
            n = len(np.asarray(model.predict(probe)))
            if n != len(probe):
                raise SchemaError(f"model returned {n} predictions for {len(probe)} rows")
            record = dock.get(i)
            candidates[i] = Candidate(i, names[i], model, spec=record.rkme if "rkme" in record.spec_kinds else None)
        except UNUSABLE as exc:
            skipped.append(f"skipped {names[i]} [{i}]: {type(exc).__name__}: {exc}")
    return candidates, skipped


def _as_candidates(ranking: Ranking, loaded: dict[str, Candidate]) -> tuple[Candidate, ...]:
    """The ranking's entries as candidates, with the entry's reason and weight."""
    return tuple(replace(loaded[e.learnware_id], reason=e.reason, weight=e.weight) for e in ranking)


def _without(ranking: Ranking, usable: dict) -> Ranking:
    """``ranking`` restricted to the usable learnwares, mixture weights renormalised."""
    kept = [e for e in ranking if e.learnware_id in usable]
    total = sum(e.weight for e in kept if e.weight is not None)
    if total > 0 and len(kept) < len(ranking):
        kept = [replace(e, weight=e.weight / total) if e.weight is not None else e for e in kept]
    return replace(ranking, entries=kept)


def train_on_own_rows(task: Task, ranking: Ranking, seed: int = 0, *, encoder: str | None = None,
                      rows=None) -> ReusedModel:
    """The fallback when nothing fits: a random forest (200 trees) on the labelled rows
    (``rows``, in ``encoder``'s input; default: the task's labelled rows)."""
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    from modelreuse.reuse.reused_model import ReusedModel

    cls = RandomForestClassifier if task.task_type == "classification" else RandomForestRegressor
    model = ReusedModel(cls(n_estimators=200, random_state=seed, n_jobs=-1), encoder=encoder, ranking=ranking)
    return model.fit(task.X_labelled if rows is None else rows, task.y)


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
