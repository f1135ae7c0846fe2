"""SFDA, self-challenging Fisher discriminant analysis (Shao et al., "Not all models are equal:
predicting model transferability in a self-challenging Fisher space", ECCV 2022).

Formula: a regularised Fisher discriminant gives ``p(y | x)``; its (softmax-softened) confidence
mixes each row with the mean of the *other* classes ("ConfMix",
``x <- p(y_i|x_i) x + (1 - p(y_i|x_i)) mean_{c != y_i} mu_c``), a second discriminant with the
same shrinkage is fitted on the mixed rows, and ``SFDA = (1/N) sum_i p(y_i | x_i)`` (no log).
Higher is better.

The discriminant: within-class scatter ``S_w = sum_c pi_c cov_c`` (population covariances,
``pi_c`` class priors), shrunk as ``(1 - l) S_w + l (tr S_w / D) I`` with
``l = max(exp(-5 lambda_max(S_w)), 1e-10)`` (``lambda_max`` from 3 power-iteration steps, as in the
reference's ``iterative_A``). The reference projects on the generalised eigenvectors ``W`` of
``(S_b, S_w_shrunk)`` and uses ``coef = means W W^T``; since ``W^T S_w_shrunk W = I``,
``W W^T = S_w_shrunk^-1``, so here ``coef = means S_w_shrunk^-1`` by a Cholesky solve (no
generalised eigenproblem): logits ``x coef_c^T - 1/2 mu_c coef_c^T + log pi_c``.

Checked against TencentARC/SFDA ``metrics.py::SFDA_Score`` (3b7edf76), fixture agreement 1e-9.
Cost O(N D^2 + D^3) with one GEMM for the within-class scatter.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.special import softmax

from modelreuse.selection.transferability._inputs import as_features, as_labels, class_stats, require_variation
from modelreuse.selection.transferability._metric import METRICS

POWER_STEPS = 3
MIN_SHRINKAGE = 1e-10


def largest_eigenvalue(A: np.ndarray, steps: int = POWER_STEPS) -> float:
    """Power-iteration estimate of the largest eigenvalue of symmetric ``A``, started from the
    row sums (the reference's ``iterative_A``)."""
    x = A.sum(axis=1)
    for _ in range(steps):
        u = A @ x
        u /= np.linalg.norm(u)
        x = A @ u
        x /= np.linalg.norm(x)
    return float(x @ A @ u)


def discriminant_proba(X: np.ndarray, y: np.ndarray, C: int, shrinkage: float | None) -> tuple[np.ndarray, float]:
    """``p(y | x)`` of the shrunk Fisher discriminant and the shrinkage used."""
    N, D = X.shape
    counts, means = class_stats(X, y, C)
    priors = counts / N
    within = X - means[y]
    Sw = within.T @ within / N
    if shrinkage is None:
        shrinkage = max(np.exp(-5 * largest_eigenvalue(Sw)), MIN_SHRINKAGE)
    shrunk = (1 - shrinkage) * Sw
    shrunk.flat[:: D + 1] += shrinkage * np.trace(Sw) / D
    coef = cho_solve(cho_factor(shrunk), means.T)
    logits = X @ coef - 0.5 * np.einsum("cd,dc->c", means, coef) + np.log(priors)
    return softmax(logits, axis=1), shrinkage


@METRICS.register("sfda", kind="features", higher_is_better=True, pool_relative=False)
def sfda(F, y) -> float:
    """SFDA score of features ``F`` (N, D) for labels ``y``. Higher is better."""
    X = as_features(F).copy()
    y, C = as_labels(y, len(X))
    require_variation(X, "SFDA")
    proba, shrinkage = discriminant_proba(X, y, C, None)
    soft = softmax(proba, axis=1)
    _, means = class_stats(X, y, C)
    other_means = (means.sum(axis=0) - means) / (C - 1)
    confidence = soft[np.arange(len(y)), y][:, None]
    X = confidence * X + (1 - confidence) * other_means[y]
    proba, _ = discriminant_proba(X, y, C, shrinkage)
    return float(proba[np.arange(len(y)), y].mean())
