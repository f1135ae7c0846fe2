"""The model ``Client.fit`` returns: an encoder (optional) in front of a fitted estimator (an
:class:`~modelreuse.reuse.auto.AutoReuser`, or a model trained on the user's own rows when nothing
fits), with what search found and why it chose what it chose.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from modelreuse.reuse.base import task_score

OWN_ROWS = "own_rows (nothing fits)"


def _has_proba(model: ReusedModel) -> bool:
    inner = model.estimator_ if hasattr(model, "estimator_") else model.estimator
    return hasattr(inner, "predict_proba")


class ReusedModel(BaseEstimator):
    """A scikit-learn estimator built from learnwares.

    Args:
        estimator: the unfitted estimator (usually an :class:`~modelreuse.reuse.auto.AutoReuser`
            over the candidates; any other estimator means "trained on your own rows").
        encoder: encode raw text/images with this encoder before the estimator
            (see :mod:`modelreuse.models.encoders`); ``None``: rows are features already.
        ranking: the search ranking the candidates came from (kept for ``explain()``).
        skipped: one line per learnware that search found but that could not be used.

    Fitted: ``estimator_``, ``task_type_``, ``classes_`` (classification), ``n_features_in_``
    (without an encoder). ``reuser``, ``chosen`` and ``selection_scores`` say what was chosen.
    """

    def __init__(self, estimator=None, encoder: str | None = None, ranking: Any = None, skipped: Sequence[str] = ()):
        self.estimator = estimator
        self.encoder = encoder
        self.ranking = ranking
        self.skipped = skipped

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = self.estimator_ if hasattr(self, "estimator_") else self.estimator
        if inner is not None:
            from sklearn.utils import get_tags

            inner_tags = get_tags(inner)
            tags.estimator_type = inner_tags.estimator_type
            tags.classifier_tags, tags.regressor_tags = inner_tags.classifier_tags, inner_tags.regressor_tags
        if self.encoder is not None:
            tags.input_tags.two_d_array, tags.input_tags.string = False, True
        return tags

    def _features(self, X) -> np.ndarray:
        if self.encoder is None:
            return X
        from modelreuse.models.encoders import encode

        return encode(self.encoder, X)

    def fit(self, X, y=None):
        """Encode ``X`` (when there is an encoder) and fit a clone of ``estimator`` on it."""
        self.estimator_ = clone(self.estimator).fit(self._features(X), y)
        self.task_type_ = getattr(self.estimator_, "task_type_", None) or (
            "classification" if hasattr(self.estimator_, "classes_") else "regression")
        if self.encoder is None:
            self.n_features_in_ = self.estimator_.n_features_in_
        if self.task_type_ == "classification":
            self.classes_ = self.estimator_.classes_
        return self

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self)
        return self.estimator_.predict(self._features(X))

    @available_if(_has_proba)
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        check_is_fitted(self)
        return self.estimator_.predict_proba(self._features(X))

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy (classification) or R^2 (regression) of ``predict(X)`` against ``y``."""
        return task_score(self.task_type_, y, self.predict(X), sample_weight)

    # ------------------------------------------------------------------ what was chosen
    @property
    def task_type(self) -> str:
        check_is_fitted(self)
        return self.task_type_

    @property
    def reuser(self) -> str:
        """The reuser chosen, or ``"own_rows (nothing fits)"``."""
        check_is_fitted(self)
        return getattr(self.estimator_, "reuser_", OWN_ROWS)

    @property
    def selection_scores(self) -> dict[str, float]:
        """Each reuser's score on the labelled rows (empty when they were not scored)."""
        check_is_fitted(self)
        return dict(getattr(self.estimator_, "scores_", {}))

    @property
    def chosen(self) -> list[dict]:
        """The learnwares used (for own rows: the closest candidates, not used), with the reason."""
        check_is_fitted(self)
        if hasattr(self.estimator_, "chosen_"):
            return [{"learnware_id": c.learnware_id, "name": c.name, "weight": c.weight, "reason": c.reason}
                    for c in self.estimator_.chosen_]
        return [{"learnware_id": e.learnware_id, "name": e.name, "weight": None,
                 "reason": "closest candidate, not used: " + e.reason} for e in (self.ranking or ())]

    def explain(self) -> str:
        lines = [f"reuser: {self.reuser} ({self.task_type})"]
        if self.selection_scores:
            lines.append("reuser scores on your labelled rows: " + ", ".join(
                f"{k}={v:.3f}" for k, v in sorted(self.selection_scores.items(), key=lambda t: -t[1])))
        for c in self.chosen:
            w = f" weight={c['weight']:.3f}" if c.get("weight") is not None else ""
            lines.append(f"- {c['name']} [{c['learnware_id']}]{w}: {c['reason']}")
        lines += list(self.skipped)
        return "\n".join(lines)
