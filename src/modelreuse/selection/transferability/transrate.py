"""TransRate (Huang, Huang, Wang, Sun, Xu and Bai, "Frustratingly easy transferability estimation",
ICML 2022).

Formula: with the coding rate ``R(Z, eps) = 1/2 logdet(I_D + Z^T Z / (n eps))`` of n rows,
``TransRate = R(Z) - (1/C) sum_c R(Z_c)`` where ``Z`` are the features minus their column means
and ``Z_c`` the rows of class c (not re-centred). Higher is better.

Checked against tllib ``tllib/ranking/transrate.py::transrate`` (c4aa59eb; identical to the paper's
listing and OpenGVLab/Multitask-Model-Selector ``Transrate``) with ``eps = 1e-4``, fixture
agreement 1e-10. Like the reference, the class term is an unweighted average over classes.

Computation: ``logdet(I_D + Z^T Z / a) = logdet(I_n + Z Z^T / a)``, so each term uses the smaller
Gram matrix and a Cholesky factor (the matrix is positive definite). With C classes of ~N/C rows
the class terms cost O(N^2 D / C) instead of C D x D determinants, O(C D^3).
"""

from __future__ import annotations

import numpy as np

from modelreuse.selection.transferability._inputs import as_features, as_labels
from modelreuse.selection.transferability._metric import METRICS


def coding_rate(Z: np.ndarray, eps: float) -> float:
    """``1/2 logdet(I + Z^T Z / (n eps))`` via the smaller of the two Gram matrices."""
    n, d = Z.shape
    gram = Z.T @ Z if d <= n else Z @ Z.T
    gram /= n * eps
    gram.flat[:: len(gram) + 1] += 1.0
    return float(np.log(np.diag(np.linalg.cholesky(gram))).sum())


@METRICS.register("transrate", kind="features", higher_is_better=True, pool_relative=False)
def transrate(F, y, eps: float = 1e-4) -> float:
    """TransRate of features ``F`` (N, D) for labels ``y``. Higher is better."""
    F = as_features(F)
    y, C = as_labels(y, len(F))
    Z = F - F.mean(axis=0)
    return coding_rate(Z, eps) - sum(coding_rate(Z[y == c], eps) for c in range(C)) / C
