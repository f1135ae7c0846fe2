"""LFC, label-feature correlation (Deshpande et al., "A linearized framework and a new benchmark for
model selection for fine-tuning", 2021).

Formula: feature kernel ``K = F F^T``, label kernel ``L_ij = +1`` if ``y_i = y_j`` else ``-1``;
each kernel minus the mean of its entries (not double centring), and::

    LFC = <K - mean(K), L - mean(L)>_F / (||K - mean(K)||_F ||L - mean(L)||_F)   in [-1, 1]

Higher is better. Checked against zhangyikaii/Model-Spider ``mptms/LFC.py::LFC`` (d2a53e4d, the
de-facto reference; no official release): fixture agreement 1e-5, because that code keeps the
label kernel in float32 (~1e-7 relative error); here everything is float64.

Exact O(N D^2) form without any N x N matrix: with ``s = F^T 1``, class sums ``S_c`` and class
sizes ``n_c``: ``<K, L> = 2 sum_c ||S_c||^2 - ||s||^2``, ``mean(K) = ||s||^2 / N^2``,
``mean(L) = 2 sum_c n_c^2 / N^2 - 1``, ``||K||_F^2 = ||F^T F||_F^2``, ``||L||_F^2 = N^2`` and
``<A - a, B - b> = <A, B> - N^2 a b``. When the centred feature kernel is zero (all rows equal)
the correlation is undefined and LFC returns 0 (no linear signal).
"""

from __future__ import annotations

import numpy as np

from modelreuse.selection.transferability._inputs import as_features, as_labels
from modelreuse.selection.transferability._metric import METRICS


@METRICS.register("lfc", kind="features", higher_is_better=True, pool_relative=False)
def lfc(F, y) -> float:
    """LFC of features ``F`` (N, D) for labels ``y``. Higher is better."""
    F = as_features(F)
    y, C = as_labels(y, len(F))
    N = len(F)
    s = F.sum(axis=0)
    class_sums = np.zeros((C, F.shape[1]))
    np.add.at(class_sums, y, F)
    counts = np.bincount(y, minlength=C).astype(np.float64)
    k_mean = s @ s / N**2
    l_mean = 2 * (counts @ counts) / N**2 - 1
    inner = 2 * (class_sums**2).sum() - s @ s - N**2 * k_mean * l_mean
    k_norm2 = (np.linalg.norm(F.T @ F) ** 2) - N**2 * k_mean**2
    l_norm2 = N**2 * (1 - l_mean**2)
    if k_norm2 <= 0 or l_norm2 <= 0:
        return 0.0
    return float(inner / np.sqrt(k_norm2 * l_norm2))
