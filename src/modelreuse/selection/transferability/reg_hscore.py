"""Regularised (shrinkage) H-score (Ibrahim, Ponomareva and Mazumder, "Newer is not always
better: rethinking transferability metrics, their peculiarities, stability and performance",
ECML-PKDD 2022).

Formula: ``H_a(f) = tr(inv(Sigma_LW) (1 - a) cov(E[f | y]))`` where ``Sigma_LW = (1 - a) S + a
(tr S / D) I`` is scikit-learn's Ledoit-Wolf estimate of the covariance of the globally centred
features (``S`` the biased covariance) with the Ledoit-Wolf shrinkage ``a``, and ``cov(E[f|y])``
is the unbiased (N-1) covariance of rows replaced by their class means. Higher is better.

Checked against tllib ``tllib/ranking/hscore.py::regularized_h_score`` (c4aa59eb), fixture
agreement 1e-10. ``Sigma_LW`` is positive definite, so a Cholesky solve replaces the reference's
pseudo-inverse: O(N D^2 + D^3).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from sklearn.covariance import LedoitWolf

from modelreuse.selection.transferability._inputs import as_features, as_labels, class_stats, require_variation
from modelreuse.selection.transferability._metric import METRICS


@METRICS.register("reg_hscore", kind="features", higher_is_better=True, pool_relative=False)
def regularized_h_score(F, y) -> float:
    """Ledoit-Wolf regularised H-score of ``F`` (N, D) for labels ``y``. Higher is better."""
    F = as_features(F)
    y, C = as_labels(y, len(F))
    require_variation(F, "regularised H-score")
    N = len(F)
    Fc = F - F.mean(axis=0)
    lw = LedoitWolf(assume_centered=False).fit(Fc)
    counts, means = class_stats(Fc, y, C)
    solved = cho_solve(cho_factor(lw.covariance_), means.T)
    return float((1 - lw.shrinkage_) * counts @ np.einsum("cd,dc->c", means, solved) / (N - 1))
