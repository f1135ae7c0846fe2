"""What the user brings: data (labelled or not), a description, and the task's spec.

The task spec is computed locally from the user's rows; only the spec is sent to search,
so raw data never needs to leave the client.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from modelreuse.errors import InvalidTaskDataError
from modelreuse.specs.rkme import RKMESpec, check_finite_matrix


@dataclass
class Task:
    """A user task.

    Args:
        X: rows in the learnwares' input schema (labelled and unlabelled together).
        y: labels for the first ``len(y)`` rows of ``X`` (may be ``None``).
        task_type: ``"classification"`` or ``"regression"``; inferred from ``y`` if omitted.
        description: free text, used by semantic search.
        spec_points: reduced-set size of the task RKME.
        seed: seed of the task RKME.
    """

    X: np.ndarray | None = None
    y: np.ndarray | None = None
    task_type: str | None = None
    description: str = ""
    spec_points: int = 100
    seed: int = 0
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
        if self.task_type not in (None, "classification", "regression"):
            raise InvalidTaskDataError(f"task_type must be 'classification' or 'regression', got {self.task_type!r}")

    @classmethod
    def from_spec(cls, rkme: RKMESpec, task_type: str | None = None, description: str = "") -> Task:
        """A task known only by its spec (the user's data stays with the user)."""
        return cls(task_type=task_type, description=description, _rkme=rkme)

    @property
    def X_labelled(self) -> np.ndarray:
        return self.X[: 0 if self.y is None else len(self.y)]

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
