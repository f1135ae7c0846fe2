"""H-score (Bao et al., "An information-theoretic approach to transferability in task transfer
learning", ICIP 2019).

Formula: ``H(f) = tr(pinv(cov(f)) cov(E[f | y]))`` where ``cov`` is the unbiased (N-1)
covariance and ``E[f | y]`` replaces each row by its class mean. Higher is better.

Checked against tllib ``tllib/ranking/hscore.py::h_score`` (thuml/Transfer-Learning-Library at
c4aa59eb); the fixture value agrees to 1e-10. The google ``stable_transfer`` H-score multiplies
element-wise instead of taking a matrix product (a bug; not reproduced) and pactran_metrics returns
``-H`` of unnormalised scatter plus 1e-6 I.

Computation: ``cov(E[f|y]) = sum_c n_c (mu_c - mu)(mu_c - mu)^T / (N-1)``, so with
``cov(f) = V diag(w) V^T`` the trace is ``sum_c n_c ||diag(w)^-1/2 V^T (mu_c - mu)||^2 / (N-1)``
over the eigen-directions kept by the pseudo-inverse. One D x D eigendecomposition, no N x D
copy of class means: O(N D^2 + D^3) instead of the reference's extra O(N D^2) covariance of the
replaced rows and D x D x D product.

Pseudo-inverse cut: eigenvalues below ``max(rcond, D * machine_eps) * max|w|`` count as zero
(numpy's ``pinv`` uses ``rcond`` alone on singular values; eigenvalues that small are rounding
noise, and the D * eps floor keeps exactly singular covariances, e.g. constant or duplicated
columns, from producing huge values through noise eigenvalues).
"""

from __future__ import annotations

import numpy as np

from modelreuse.selection.transferability._inputs import as_features, as_labels, class_stats
from modelreuse.selection.transferability._metric import METRICS


def pinv_eig(cov: np.ndarray, rcond: float) -> tuple[np.ndarray, np.ndarray]:
    """Eigen-directions and inverse eigenvalues of a symmetric PSD matrix kept by the cut above."""
    w, V = np.linalg.eigh(cov)
    cutoff = max(rcond, cov.shape[0] * np.finfo(np.float64).eps) * np.abs(w).max()
    keep = w > cutoff
    return V[:, keep], 1.0 / w[keep]


def between_class_trace(inv_dirs: tuple[np.ndarray, np.ndarray], centred_means: np.ndarray, counts: np.ndarray,
                        N: int) -> float:
    """``tr(M cov(E[f|y]))`` for ``M = V diag(inv_w) V^T`` given class means minus the grand mean."""
    V, inv_w = inv_dirs
    proj = centred_means @ V
    return float(counts @ (proj**2 @ inv_w) / (N - 1))


@METRICS.register("hscore", kind="features", higher_is_better=True, pool_relative=False)
def h_score(F, y, rcond: float = 1e-15) -> float:
    """H-score of features ``F`` (N, D) for labels ``y`` (N,). Higher is better."""
    F = as_features(F)
    y, C = as_labels(y, len(F))
    N = len(F)
    mu = F.mean(axis=0)
    Fc = F - mu
    cov = Fc.T @ Fc / (N - 1)
    counts, means = class_stats(F, y, C)
    return between_class_trace(pinv_eig(cov, rcond), means - mu, counts, N)
