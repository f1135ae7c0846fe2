"""Single reuser: the best-ranked learnware's model, as it is.

The baseline every other reuser must beat; with one model it equals averaging over that model.
"""

from __future__ import annotations

import numpy as np

from modelreuse.reuse.base import REUSERS, TASK_TYPES, ReuserBase


@REUSERS.register("single", task_types=TASK_TYPES, needs_labels=False, pool="top1", preference=0)
class SingleReuser(ReuserBase):
    """Predicts with ``models[0]`` (the best-ranked model); the other models are not used."""

    def _combine(self, X: np.ndarray) -> np.ndarray:
        return self._outputs(X, self.models[:1])[0]
