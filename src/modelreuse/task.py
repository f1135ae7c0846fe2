"""What the user brings: data (labelled or not), a description, and the task's spec.

The task spec is computed locally from the user's rows; only the spec is sent to search,
so raw data never needs to leave the client.

Also here, because both a task and a learnware's manifest use them: the registry of task types
(:data:`TASK_TYPES`) and the feature-space key (:func:`feature_space_key`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from modelreuse._registry import Registry
from modelreuse.errors import InvalidTaskDataError
from modelreuse.specs.rkme import RKMESpec, check_finite_matrix

if TYPE_CHECKING:
    from modelreuse.models.table_schema import TableSchema
    from modelreuse.specs.pave import PAVESpec

#: Task types a manifest (and a :class:`Task`) may name. Each entry checks a manifest's output
#: declaration, ``check(classes, target)``, raising ``ValueError`` with what to fix. A new type is
#: one ``@TASK_TYPES.register("<name>")`` on its check, in a module imported before manifests
#: naming it are read.
TASK_TYPES: Registry[Callable[[list | None, str | None], None]] = Registry("task type")


@TASK_TYPES.register("classification")
def _classification_output(classes: list | None, target: str | None) -> None:
    if not classes or len(classes) < 2:
        raise ValueError("classification learnwares must list at least 2 output.classes")


@TASK_TYPES.register("regression")
def _regression_output(classes: list | None, target: str | None) -> None:
    if not target:
        raise ValueError("regression learnwares must name output.target")


@TASK_TYPES.register("feature_extraction")
def _feature_extraction_output(classes: list | None, target: str | None) -> None:
    """A feature extractor (a pretrained backbone) maps raw inputs to features; ``classes`` are its
    optional source head's classes (at least 2 when given), and it has no target."""
    if classes is not None and len(classes) < 2:
        raise ValueError("a feature extractor's source head must list at least 2 output.classes (or none)")
    if target:
        raise ValueError("feature extraction learnwares have no output.target")


def feature_space_key(n_features: int, feature_names: list[str] | None = None, encoder: str | None = None) -> str:
    """The feature space of an input schema: the first 16 hex digits of the SHA-256 of the JSON
    list ``[n_features, feature_names, encoder]``. Specs are comparable only within one key:
    equal width with other names, or another encoder, is another space."""
    raw = json.dumps([int(n_features), None if feature_names is None else list(feature_names), encoder])
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


@dataclass
class Task:
    """A user task.

    Args:
        X: rows in the learnwares' input schema (labelled and unlabelled together).
        y: labels for the first ``len(y)`` rows of ``X`` (may be ``None``).
        task_type: a registered task type (:data:`TASK_TYPES`); inferred from ``y`` if omitted.
        description: free text, used by semantic search.
        spec_points: reduced-set size of the task RKME.
        seed: seed of the task RKME.
        feature_names, encoder: the input schema of ``X`` (as in a learnware's manifest): with
            them, statistical search compares only learnwares of exactly this feature space
            (:attr:`feature_space`); without, see :meth:`modelreuse.dock.Dock.search`.
        pave: the task's PAVE task vector (:meth:`PAVESpec.fit_task` on the dock's base), read by
            ``Dock.search(task, method="parameter")``.
    """

    X: np.ndarray | None = None
    y: np.ndarray | None = None
    task_type: str | None = None
    description: str = ""
    spec_points: int = 100
    seed: int = 0
    feature_names: list[str] | None = None
    encoder: str | None = None
    pave: PAVESpec | None = field(default=None, repr=False)
    _rkme: RKMESpec | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.X is not None:
            self.X = check_finite_matrix(self.X, "task data X")
        if self.y is not None:
            self.y = np.asarray(self.y)
            if self.y.ndim != 1:
                raise InvalidTaskDataError(f"y must be 1-D, got shape {self.y.shape}")
            if self.X is None or len(self.y) > len(self.X):
                raise InvalidTaskDataError("y labels the first len(y) rows of X; X has fewer rows than y")
            if self.y.dtype.kind == "f" and not np.isfinite(self.y).all():
                raise InvalidTaskDataError("y contains NaN or inf")
        if self.task_type is None and self.y is not None:
            self.task_type = infer_task_type(self.y)
        if self.task_type is not None and self.task_type not in TASK_TYPES:
            raise InvalidTaskDataError(f"task_type must be one of {TASK_TYPES.names()}, got {self.task_type!r}")
        width = self.n_features
        if self.feature_names is not None and width is not None and len(self.feature_names) != width:
            raise InvalidTaskDataError(f"{len(self.feature_names)} feature_names for {width} columns of X")

    @classmethod
    def from_spec(cls, rkme: RKMESpec, task_type: str | None = None, description: str = "",
                  feature_names: list[str] | None = None, encoder: str | None = None) -> Task:
        """A task known only by its spec (the user's data stays with the user)."""
        return cls(task_type=task_type, description=description, feature_names=feature_names, encoder=encoder,
                   _rkme=rkme)

    @classmethod
    def from_table(cls, encoded: np.ndarray, schema: TableSchema, y: np.ndarray | None = None,
                   task_type: str | None = None, seed: int = 0) -> Task:
        """The task of rows in ``schema``'s encoding (``schema.encode(table)``, NaN where a cell is
        missing; labels ``y`` for the first rows), in exactly the schema's feature space. Missing
        cells are filled with the rows' own column means (:func:`~modelreuse.models.tabular.impute_means`),
        the rule a learnware's RKME is built with, so both sides sketch their data alike."""
        from modelreuse.models.tabular import impute_means

        return cls(X=impute_means(encoded), y=y, task_type=task_type, seed=seed, feature_names=schema.feature_names,
                   encoder=schema.encoder)

    @property
    def X_labelled(self) -> np.ndarray:
        return self.X[: 0 if self.y is None else len(self.y)]

    @property
    def n_features(self) -> int | None:
        """Width of the task's rows (or of its spec); ``None`` for a task given by text only."""
        if self.X is not None:
            return int(self.X.shape[1])
        return None if self._rkme is None else self._rkme.n_features

    @property
    def feature_space(self) -> str:
        """:func:`feature_space_key` of the task's width, ``feature_names`` and ``encoder``."""
        if self.n_features is None:
            raise InvalidTaskDataError("the task has neither data nor an RKME spec, so no feature space")
        return feature_space_key(self.n_features, self.feature_names, self.encoder)

    @property
    def rkme(self) -> RKMESpec:
        """The task's RKME spec, fitted once from ``X``."""
        if self._rkme is None:
            if self.X is None:
                raise InvalidTaskDataError("the task has neither data nor an RKME spec")
            self._rkme = RKMESpec.fit(self.X, m=self.spec_points, seed=self.seed)
        return self._rkme


def infer_task_type(y: np.ndarray) -> str:
    """Classification for non-float labels or floats with few distinct integer values."""
    y = np.asarray(y)
    if y.dtype.kind in "OUSb":
        return "classification"
    if y.dtype.kind in "iu":
        return "classification" if len(np.unique(y)) <= max(20, int(0.05 * len(y))) else "regression"
    integral = np.all(np.mod(y, 1) == 0)
    return "classification" if integral and len(np.unique(y)) <= 20 else "regression"
