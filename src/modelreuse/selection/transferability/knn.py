"""k-nearest-neighbour accuracy: how well the target classes separate in the candidate's feature
space without any training (a common proxy, e.g. in Kornblith, Shlens and Le, "Do better ImageNet
models transfer better?", CVPR 2019).

Formula: leave-one-out accuracy of a ``k``-NN majority vote with Euclidean distances (ties go to
the smallest label, as scikit-learn's ``KNeighborsClassifier`` does); each row's own entry is
excluded. Range [0, 1]; higher is better. Cost O(N^2 D) in blocked BLAS products through
scikit-learn's brute-force neighbour search, memory O(block * N).
"""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors

from modelreuse.selection.transferability._inputs import as_features, as_labels
from modelreuse.selection.transferability._metric import METRICS


@METRICS.register("knn_accuracy", kind="features", higher_is_better=True, pool_relative=False)
def knn_accuracy(F, y, k: int = 5) -> float:
    """Leave-one-out ``k``-NN accuracy of features ``F`` (N, D) for labels ``y``."""
    F = as_features(F)
    y, C = as_labels(y, len(F))
    if not 1 <= k < len(F):
        raise ValueError(f"k must be in [1, N-1] = [1, {len(F) - 1}], got {k}")
    _, idx = NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(F).kneighbors(F)
    neighbours = _drop_self(idx)
    votes = np.zeros((len(F), C))
    np.add.at(votes, (np.repeat(np.arange(len(F)), k), y[neighbours].ravel()), 1.0)
    return float(np.mean(votes.argmax(axis=1) == y))


def _drop_self(idx: np.ndarray) -> np.ndarray:
    """Remove each row's own index from its neighbour list (or the farthest one when a duplicate
    row displaced it), keeping ``k`` neighbours per row."""
    rows = np.arange(len(idx))[:, None]
    is_self = idx == rows
    is_self[~is_self.any(axis=1), -1] = True
    return idx[~is_self].reshape(len(idx), -1)
