"""The model ``Client.fit`` returns: an input encoding (optional) in front of a fitted estimator
(an :class:`~modelreuse.reuse.auto.AutoReuser`, or a model trained on the user's own rows when
nothing fits), with what search found and why it chose what it chose.

The input encoding is either a :class:`~modelreuse.models.table_schema.TableSchema` (rows are
pandas DataFrames, encoded by column name with :meth:`TableSchema.encode`, missing numeric cells
kept as NaN: a learnware's adapter fills them its own way) or an encoder name (raw texts/images,
see :mod:`modelreuse.models.encoders`). The last encoding computed is remembered by a SHA-256 of
its rows, so ``features(X)`` then ``fit(X, y)``, or ``predict(X)`` then ``predict_proba(X)``,
encode the rows once.

Saving and loading (no pickle): :mod:`modelreuse.reuse.saving`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from modelreuse.errors import InvalidTaskDataError
from modelreuse.reuse.base import task_score

if TYPE_CHECKING:
    from modelreuse.models.table_schema import TableSchema

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
        schema: rows are pandas DataFrames with these columns (by name, any order; ``ignored``
            columns allowed), encoded with :meth:`TableSchema.encode`. Exclusive with ``encoder``
            (a text schema names its own encoder).

    Fitted: ``estimator_``, ``task_type_``, ``classes_`` (classification), ``n_features_in_``
    (rows given as features) or ``feature_names_in_`` (the schema's columns). ``reuser``, ``chosen`` and ``selection_scores`` say what was chosen.
    """

    def __init__(self, estimator=None, encoder: str | None = None, ranking: Any = None, skipped: Sequence[str] = (),
                 schema: TableSchema | None = None):
        self.estimator = estimator
        self.encoder = encoder
        self.ranking = ranking
        self.skipped = skipped
        self.schema = schema

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = self.estimator_ if hasattr(self, "estimator_") else self.estimator
        if inner is not None:
            from sklearn.utils import get_tags

            inner_tags = get_tags(inner)
            tags.estimator_type = inner_tags.estimator_type
            tags.classifier_tags, tags.regressor_tags = inner_tags.classifier_tags, inner_tags.regressor_tags
            tags.input_tags.allow_nan = inner_tags.input_tags.allow_nan  # missing cells go to the estimator
        if self.encoder is not None:
            tags.input_tags.two_d_array, tags.input_tags.string = False, True
        if self.schema is not None:  # DataFrames with categorical columns and missing cells, not arrays
            tags.input_tags.two_d_array, tags.input_tags.categorical, tags.input_tags.allow_nan = False, True, True
        return tags

    def features(self, X) -> np.ndarray:
        """``X`` as the estimator's input: ``schema.encode(X)``, ``encode(encoder, X)``, or ``X``
        itself; the last encoding is reused for the same rows (module docstring)."""
        if self.schema is None and self.encoder is None:
            return X
        if self.schema is not None and self.encoder is not None:
            raise InvalidTaskDataError("pass either schema= (DataFrame rows) or encoder= (raw texts/images), not "
                                       "both; a text schema names its encoder itself")
        key = _rows_key(X)
        cached = getattr(self, "_last_features", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        if self.schema is not None:
            Z = self.schema.encode(X)
        else:
            from modelreuse.models.encoders import encode

            Z = encode(self.encoder, X)
        self._last_features = (key, Z)
        return Z

    def fit(self, X, y=None):
        """Encode ``X`` (with the schema or the encoder, if any) and fit a clone of ``estimator`` on it."""
        self.estimator_ = clone(self.estimator).fit(self.features(X), y)
        self.task_type_ = getattr(self.estimator_, "task_type_", None) or (
            "classification" if hasattr(self.estimator_, "classes_") else "regression")
        if self.schema is not None:
            self.feature_names_in_ = np.asarray(self.schema.column_names, dtype=object)
        elif self.encoder is None:
            self.n_features_in_ = self.estimator_.n_features_in_
        if self.task_type_ == "classification":
            self.classes_ = self.estimator_.classes_
        return self

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self)
        return self.estimator_.predict(self.features(X))

    @available_if(_has_proba)
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        check_is_fitted(self)
        return self.estimator_.predict_proba(self.features(X))

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy (classification) or R^2 (regression) of ``predict(X)`` against ``y``."""
        return task_score(self.task_type_, y, self.predict(X), sample_weight)

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path) -> Path:
        """Save the fitted model into ``directory`` (a new or empty folder) without pickle: a JSON
        description, the fitted state (skops) and the learnware packages it uses; see
        :mod:`modelreuse.reuse.saving`."""
        from modelreuse.reuse.saving import save

        return save(self, directory)

    @classmethod
    def load(cls, directory: str | Path, trust: bool = False) -> ReusedModel:
        """The model saved in ``directory``; every file is checked and nothing outside the
        allowlists is loaded unless ``trust=True`` (see :mod:`modelreuse.reuse.saving`)."""
        from modelreuse.reuse.saving import load

        return load(directory, trust=trust)

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
        """What was chosen and why: the reuser, each reuser's score, the learnwares used with
        their reasons, the reuser's notes (reusers skipped, own rows chosen, below the trivial
        baseline) and the learnwares search found but could not use."""
        lines = [f"reuser: {self.reuser} ({self.task_type})"]
        if self.selection_scores:
            lines.append("reuser scores on your labelled rows: " + ", ".join(
                f"{k}={v:.3f}" for k, v in sorted(self.selection_scores.items(), key=lambda t: -t[1])))
        for c in self.chosen:
            w = f" weight={c['weight']:.3f}" if c.get("weight") is not None else ""
            lines.append(f"- {c['name']} [{c['learnware_id']}]{w}: {c['reason']}")
        lines += list(getattr(self.estimator_, "notes_", ()))
        lines += list(self.skipped)
        return "\n".join(lines)


def _rows_key(X) -> str:
    """SHA-256 of the rows' content (a DataFrame: column names and a per-row hash of the values)."""
    import hashlib

    h = hashlib.sha256()
    if hasattr(X, "columns") and hasattr(X, "iloc"):
        import pandas as pd

        h.update("\x1f".join(map(str, X.columns)).encode())
        h.update(pd.util.hash_pandas_object(X, index=False).to_numpy().tobytes())
    else:
        arr = np.asarray(X)
        if arr.dtype == object:
            arr = np.asarray([str(v) for v in arr.ravel()])
        h.update(f"{arr.dtype.str}{arr.shape}".encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()
