"""The reuser registry and what every reuser shares.

A reuser turns learnwares' models (+ the user's rows) into one fitted predictor. Each reuser is a
scikit-learn estimator in its own module of this package, registered with one decorator line::

    @REUSERS.register("averaging", task_types=TASK_TYPES, needs_labels=False, pool="mixture", preference=2)
    class AveragingReuser(ReuserBase): ...

Metadata (read by :class:`~modelreuse.reuse.auto.AutoReuser`, the CLI and the benchmarks):

* ``task_types``: the task types it supports;
* ``needs_labels``: whether ``fit`` needs ``y`` (label-free reusers are scored on the labelled
  rows directly, label-using ones by cross-validation);
* ``pool``: the candidates it is built from: ``"mixture"`` (mixture-search members with their
  weights), ``"ranking"`` (the statistical ranking's top ``k``), ``"top1"`` (its best entry) or
  ``"none"`` (no learnware: a model trained on the user's labelled rows only, the yardstick reuse
  must beat; see :mod:`modelreuse.reuse.own_rows`);
* ``preference``: ties between equal scores go to the lowest value (the simpler reuser).
* ``needs_specs`` (optional, default ``False``): it needs each candidate's RKME (``specs=``).

Constructor arguments shared by all reusers: ``models`` (a list of
:class:`~modelreuse.models.ModelAdapter`, e.g. from ``Learnware.load_model``; objects with
``get_params`` would be refitted by :func:`sklearn.base.clone`, so wrap pre-fitted scikit-learn
models in an adapter) and ``task_type`` (``"classification"``, ``"regression"`` or ``None``:
taken from the models). A reuser is a classifier or a regressor to scikit-learn according to
that task type, so ``cross_val_score(reuser, X, y)`` stratifies and scores (accuracy or R^2)
without extra arguments; ``predict_proba`` exists only for classification.

Input: rows may hold NaN (missing cells of a table, kept by the schema encoding): reusers pass
them to the learnwares' models, whose adapters fill them their own way
(:meth:`modelreuse.learnware.Learnware.load_model`); a reuser that uses ``X`` itself fills them
(see each reuser). Classes: ``classes_`` is the union of the models' classes and, when ``fit``
gets labels, the user's own (labels are compared as strings, so ``1`` and ``"1"`` are one class);
a class no model knows can only be predicted by a reuser that learns from labels.

``import modelreuse.reuse.base`` stays light: scikit-learn is imported here (the base class), but
neither the dock nor SQLAlchemy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from modelreuse._registry import Registry
from modelreuse.errors import InvalidTaskDataError

REUSERS: Registry[type[ReuserBase]] = Registry("reuser", package="modelreuse.reuse")
#: Reusers of feature-extraction learnwares (PTM backbones) on raw rows: ``linear_probe`` (one
#: extractor), ``concat_probe`` and ``probe_ensemble`` (the top-k). Each is a scikit-learn estimator
#: whose ``extractor`` parameter is the loaded :class:`~modelreuse.models.extractors.FeatureExtractor`
#: (see :mod:`modelreuse.reuse.linear_probe`), or whose ``extractors`` parameter is a sequence of them, best first.
EXTRACTOR_REUSERS: Registry[type] = Registry("extractor reuser", package="modelreuse.reuse")
TASK_TYPES = ("classification", "regression")
POOLS = ("mixture", "ranking", "top1", "none")


def task_score(task_type: str, y_true, y_pred, sample_weight=None) -> float:
    """Accuracy (classification, labels compared as strings) or R^2 (regression); higher is better."""
    from sklearn.metrics import accuracy_score, r2_score

    if task_type == "classification":
        return float(accuracy_score(np.asarray(y_true).astype(str), np.asarray(y_pred).astype(str),
                                    sample_weight=sample_weight))
    return float(r2_score(y_true, y_pred, sample_weight=sample_weight))


def models_task_type(models) -> str | None:
    """The task type the models declare (``ModelAdapter.task_type``; otherwise classification when
    they have ``classes_``), or ``None`` when there are none or they disagree."""
    kinds = {getattr(m, "task_type", None) or ("classification" if hasattr(m, "classes_") else "regression")
             for m in models or ()}
    return kinds.pop() if len(kinds) == 1 else None


def union_classes(models, y=None) -> np.ndarray:
    """Sorted union of the models' class labels and the labels ``y`` (as strings when types differ)."""
    labels = [np.asarray(m.classes_) for m in models] + ([] if y is None else [np.unique(np.asarray(y))])
    try:
        return np.unique(np.concatenate(labels))
    except TypeError:
        return np.unique(np.concatenate([lab.astype(str) for lab in labels]))


def class_columns(classes: np.ndarray, labels) -> np.ndarray:
    """Column of each of ``labels`` in ``classes`` (compared as strings); every label must be there."""
    where = {str(c): j for j, c in enumerate(classes)}
    return np.asarray([where[str(label)] for label in labels], dtype=np.intp)


def aligned_proba(model, X: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """``predict_proba`` of ``model`` with columns reordered/padded to ``classes``."""
    proba = model.predict_proba(X)
    out = np.zeros((len(X), len(classes)))
    own = np.asarray(model.classes_)
    if own.dtype != classes.dtype:
        own, classes = own.astype(str), classes.astype(str)
    cols = np.searchsorted(classes, own)
    out[:, cols] = proba
    return out


def stacked_outputs(models, X: np.ndarray, task_type: str, classes: np.ndarray | None) -> np.ndarray:
    """``(n_models, n, C)`` aligned probabilities or ``(n_models, n, 1)`` regression outputs."""
    if task_type == "classification":
        return np.stack([aligned_proba(m, X, classes) for m in models])
    return np.stack([np.asarray(m.predict(X), np.float64).reshape(len(X), 1) for m in models])


def _is_classification(est) -> bool:
    return est._task_type() == "classification"


class ReuserBase(BaseEstimator):
    """Fit-time checks, input validation and the scikit-learn contract of every reuser.

    Subclasses set their extra constructor arguments verbatim and implement ``_fit(X, y)``
    (learned state with a trailing ``_``; ``y`` is ``None`` when not given) and ``_combine(X)``
    (aligned outputs ``(n, C)``: probabilities, or one column of regression outputs).
    ``uses_models = False`` for a reuser that needs no learnware (pool ``"none"``).
    """

    uses_models = True

    def __init__(self, models=None, task_type: str | None = None):
        self.models = models
        self.task_type = task_type

    def _task_type(self) -> str | None:
        return self.task_type if self.task_type is not None else models_task_type(self.models)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        task_type = self._task_type()
        if task_type == "classification":
            from sklearn.utils import ClassifierTags

            tags.estimator_type, tags.classifier_tags = "classifier", ClassifierTags(poor_score=True)
        elif task_type == "regression":
            from sklearn.utils import RegressorTags

            tags.estimator_type, tags.regressor_tags = "regressor", RegressorTags(poor_score=True)
        return tags

    def fit(self, X, y=None):
        """Check the models, validate ``X`` (and ``y``), then learn what the reuser learns."""
        task_type = self._task_type()
        if self.uses_models and not self.models:
            raise InvalidTaskDataError("a reuser needs at least one model; pass models=[...] (see Learnware.load_model)")
        if task_type not in TASK_TYPES:
            raise InvalidTaskDataError(f"task_type must be 'classification' or 'regression' (or None with models of "
                                       f"one task type), got {self.task_type!r}")
        X, y = self._validate(X, y, reset=True)
        self.task_type_ = task_type
        if task_type == "classification":
            self.classes_ = union_classes(self.models or (), y)
        self._fit(X, y)
        return self

    def _validate(self, X, y=None, reset: bool = False):
        """The one place where reusers check their input: 2-D float rows, NaN allowed (missing
        cells; inf is refused), and 1-D finite ``y`` of the same length when given; ``reset``
        records ``n_features_in_``, otherwise the width must match it."""
        if y is None:
            return validate_data(self, X, reset=reset, dtype=np.float64, ensure_all_finite="allow-nan"), None
        X, y = validate_data(self, X, y, reset=reset, dtype=np.float64, ensure_all_finite="allow-nan",
                             y_numeric=self._task_type() == "regression")
        if self._task_type() == "classification":
            from sklearn.utils.multiclass import check_classification_targets

            check_classification_targets(y)
        return X, y

    def _fit(self, X: np.ndarray, y: np.ndarray | None) -> None:  # default: nothing to learn
        return None

    def _outputs(self, X: np.ndarray, models=None) -> np.ndarray:
        """Aligned outputs of ``models`` (default: all) on ``X``, shape ``(k, n, C)``."""
        chosen = self.models if models is None else models
        return stacked_outputs(chosen, X, self.task_type_, getattr(self, "classes_", None))

    def _checked(self, X) -> np.ndarray:
        check_is_fitted(self)
        return self._validate(X)[0]

    @available_if(_is_classification)
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        return self._combine(self._checked(X))

    def predict(self, X) -> np.ndarray:
        out = self._combine(self._checked(X))
        if self.task_type_ == "classification":
            return self.classes_[out.argmax(axis=1)]
        return out[:, 0]

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy (classification) or R^2 (regression) of ``predict(X)`` against ``y``."""
        return task_score(self.task_type_, y, self.predict(X), sample_weight)


def reuser_params(cls: type, **available: Any) -> dict[str, Any]:
    """The subset of ``available`` that ``cls``'s constructor accepts."""
    names = set(cls._get_param_names())
    return {k: v for k, v in available.items() if k in names and v is not None}
