"""N-LEEP, Gaussian-mixture LEEP (Li et al., "Ranking neural checkpoints", CVPR 2021).

Formula: reduce the features with PCA keeping 80% of the variance, fit a Gaussian mixture with
``5 * C`` components (full covariances), and compute LEEP (mean log expected empirical
prediction, see :mod:`.leep`) with the mixture posteriors in place of source-class probabilities.
Higher is better.

Checked against google-research ``stable_transfer/transferability/nleep.py::get_nleep_score``
with its ``pca_reduction`` (config ``nleep.pca_reduction=0.8``, ``num_components_gmm = 5 * C``,
``GaussianMixture(random_state=123)``). That pipeline casts the PCA output and the posteriors to
float32; ``float32_pipeline=True`` reproduces those casts (the LEEP step itself then runs in
float64 on the float32 posteriors) (fixture key ``nleep``), the default stays in
float64 (fixture key ``nleep_float64``; the two differ by ~2e-9 relative here). End-to-end values
depend on scikit-learn's k-means initialisation inside the mixture, so they are reproducible only
with the same scikit-learn version; the LEEP step is exact.

Other repos differ: pactran_metrics uses ``max(min(C, 0.2 N), 0.1 N)`` components and returns
``-N-LEEP``; SFDA's ``NLEEP`` drops the log. Cost: PCA O(N D^2) plus EM, O(iter N K d^2).
"""

from __future__ import annotations

from functools import partial

import numpy as np
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture

from modelreuse.selection.transferability._inputs import as_features, as_labels
from modelreuse.selection.transferability._metric import METRICS
from modelreuse.selection.transferability.leep import expected_empirical_prediction


@METRICS.register("nleep_float64", kind="features", higher_is_better=True, pool_relative=False)
def nleep(F, y, variance: float = 0.8, components_per_class: int = 5, seed: int = 123,
          float32_pipeline: bool = False) -> float:
    """N-LEEP of features ``F`` (N, D) for labels ``y`` (module doc for the parameters)."""
    F = as_features(F)
    y, C = as_labels(y, len(F))
    Z = PCA(n_components=variance, svd_solver="full").fit_transform(F)
    if float32_pipeline:
        Z = Z.astype(np.float32)
    gmm = GaussianMixture(n_components=min(components_per_class * C, len(F)), random_state=seed).fit(Z)
    posteriors = gmm.predict_proba(Z)
    if float32_pipeline:
        posteriors = posteriors.astype(np.float32).astype(np.float64)
    return float(np.mean(np.log(expected_empirical_prediction(posteriors, y, C))))


METRICS.add("nleep", partial(nleep, float32_pipeline=True), kind="features", higher_is_better=True, pool_relative=False)
