"""GBC, Gaussian Bhattacharyya coefficient (Pandy, Agostinelli, Uijlings, Ferrari and Mensink,
"Transferability estimation using Bhattacharyya class separability", CVPR 2022).

Formula: project the features to 64 dimensions with PCA, fit one Gaussian per class (mean and
population variance, floored at 1e-4; ``"diagonal"`` keeps a variance per dimension,
``"spherical"`` their mean), and with the Bhattacharyya distance ``D_B`` between class Gaussians::

    GBC = - sum_{c != c'} exp(-D_B(c, c'))   in [-C (C - 1), 0];  higher is better.

For diagonal Gaussians ``D_B = 1/8 sum_d (mu_d - mu'_d)^2 / v_d + 1/2 sum_d log(v_d / sqrt(v1_d v2_d))``
with ``v = (v1 + v2) / 2``.

Checked against google-research ``stable_transfer/transferability/gbc.py::get_gbc_score``
(1d4d2f1a) on float64 PCA output (fixture keys ``gbc_spherical``, ``gbc_diagonal``, 1e-10).

Spherical variant: the reference stores a single scalar variance per class and sums its log
once, so its log term is ``1/2 log(v / sqrt(v1 v2))``. For a spherical Gaussian ``N(mu, v I)`` in
``d`` dimensions the Bhattacharyya distance has ``d/2`` times that log term. The default here
is the exact distance; ``reference_spherical=True`` reproduces the reference value. (Model
Spider's full-covariance GBC is a third, different quantity that leaves the [-C(C-1), 0] range
on real data; not reproduced.) Cost: PCA O(N D min(N, D)) plus O(C^2 d) for all pairs at once.
"""

from __future__ import annotations

from functools import partial
from typing import Literal

import numpy as np
from sklearn.decomposition import PCA

from modelreuse.selection.transferability._inputs import as_features, as_labels, class_stats
from modelreuse.selection.transferability._metric import METRICS

MIN_VARIANCE = 1e-4


def gbc(F, y, gaussian: Literal["spherical", "diagonal"] = "spherical", pca_dims: int = 64,
        reference_spherical: bool = False) -> float:
    """GBC of features ``F`` (N, D) for labels ``y``; see module doc."""
    F = as_features(F)
    y, C = as_labels(y, len(F))
    if gaussian not in ("spherical", "diagonal"):
        raise ValueError(f"gaussian must be 'spherical' or 'diagonal', got {gaussian!r}")
    Z = PCA(n_components=min(pca_dims, *F.shape), svd_solver="full").fit_transform(F)
    counts, means = class_stats(Z, y, C)
    sq = np.zeros_like(means)
    np.add.at(sq, y, Z**2)
    var = np.maximum(sq / counts[:, None] - means**2, MIN_VARIANCE)
    if gaussian == "spherical":
        var = var.mean(axis=1, keepdims=True)
    log_scale = 1.0 if (gaussian == "diagonal" or reference_spherical) else Z.shape[1]
    avg = (var[:, None, :] + var[None, :, :]) / 2
    mahalanobis = (((means[:, None, :] - means[None, :, :]) ** 2) / avg).sum(axis=2) / 8
    log_term = (np.log(avg) - (np.log(var[:, None, :]) + np.log(var[None, :, :])) / 2).sum(axis=2) / 2
    coefficient = np.exp(-(mahalanobis + log_scale * log_term))
    np.fill_diagonal(coefficient, 0.0)
    return float(-coefficient.sum())


METRICS.add("gbc_spherical", partial(gbc, gaussian="spherical", reference_spherical=True), kind="features", higher_is_better=True, pool_relative=False)
METRICS.add("gbc_spherical_exact", partial(gbc, gaussian="spherical"), kind="features", higher_is_better=True, pool_relative=False)
METRICS.add("gbc_diagonal", partial(gbc, gaussian="diagonal"), kind="features", higher_is_better=True, pool_relative=False)
