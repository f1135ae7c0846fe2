"""NCTI, neural collapse transferability index (Wang, Chen, Li, Zhou and Tao, "How far pre-trained
models are from neural collapse on the target dataset informs their transferability", ICCV 2023).

Per model, three parts (higher is better for the first two, lower for the third):

* ``S_seli``: nuclear norm of the centred LDA projection of the PCA-64 features (within-class
  variability collapse),
* ``S_ncc``: mean LDA probability of the true class (nearest-class-centre classifiability),
* ``S_vc``: log of the sum over classes of the nuclear norms of the class-wise LDA probability
  matrices (simplex equiangular tightness).

PCA keeps ``min(64, N, D)`` components; the LDA is scikit-learn's with ``solver="eigen"`` and
shrinkage ``s = max(exp(-sum of the top-32 PCA explained variances), 1e-10)``, or ``solver="svd"``
when ``s`` hits that floor. Checked against BUserName/NCTI ``metrics.py::NCTI_Score`` (b18d3951),
fixture key ``ncti_parts``, agreement 1e-8.

The NCTI score is **pool-relative** (the reference does this in its evaluation script, not in the
metric): every part is min-max normalised across the candidate models and
``NCTI = n(S_seli) + n(S_ncc) - n(S_vc)``. :func:`ncti_parts` scores one model,
:func:`ncti_pool_scores` turns the parts of a pool into scores; adding or removing a candidate
changes everyone's score.
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from modelreuse.selection.transferability._inputs import as_features, as_labels, require_variation
from modelreuse.selection.transferability._metric import METRICS

MIN_SHRINKAGE = 1e-10


@METRICS.register("ncti_parts", kind="features", higher_is_better=True, pool_relative=True)
def ncti_parts(F, y) -> tuple[float, float, float]:
    """``(S_seli, S_ncc, S_vc)`` of one model's features ``F`` (N, D) for labels ``y``."""
    F = as_features(F)
    y, C = as_labels(y, len(F))
    require_variation(F, "NCTI")
    pca = PCA(n_components=min(64, *F.shape))
    X = pca.fit_transform(F)
    shrinkage = max(np.exp(-np.sum(pca.explained_variance_[:32])), MIN_SHRINKAGE)
    lda = (LinearDiscriminantAnalysis(solver="svd") if shrinkage == MIN_SHRINKAGE
           else LinearDiscriminantAnalysis(solver="eigen", shrinkage=shrinkage))
    projected = lda.fit_transform(X, y)
    s_seli = np.linalg.norm(projected - projected.mean(axis=0), ord="nuc")
    proba = lda.predict_proba(X)
    s_ncc = proba[np.arange(len(y)), y].mean()
    s_vc = np.log(sum(np.linalg.norm(proba[y == c], ord="nuc") for c in range(C)))
    return float(s_seli), float(s_ncc), float(s_vc)


def ncti_pool_scores(parts) -> np.ndarray:
    """NCTI score of every model in a pool from their ``(S_seli, S_ncc, S_vc)`` rows (module doc).
    A part that is equal across the pool contributes 0."""
    parts = np.asarray(parts, dtype=np.float64)
    if parts.ndim != 2 or parts.shape[1] != 3 or len(parts) < 1:
        raise ValueError(f"parts must be (n_models, 3), got shape {parts.shape}")
    span = parts.max(axis=0) - parts.min(axis=0)
    normed = np.divide(parts - parts.min(axis=0), span, out=np.zeros_like(parts), where=span > 0)
    return normed[:, 0] + normed[:, 1] - normed[:, 2]
