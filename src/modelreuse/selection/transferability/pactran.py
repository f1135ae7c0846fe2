"""PACTran-Dirichlet (Ding, Chen, Liu, Rolnick, Wang and Huang, "PACTran: PAC-Bayesian metrics for
estimating the transferability of pretrained models to classification tasks", ECCV 2022).

Model: each source class ``z`` owns a distribution ``theta_z`` over the C target labels with a
Dirichlet prior ``a0 = alpha * (target class frequencies) + 1e-10``; row i picks ``z`` with the
source head's probability ``P[i, z]`` and emits ``y_i ~ theta_z``. Mean-field variational
inference over the latent ``z`` (10 updates of ``q(z_i) ~ P[i, z] exp(E log theta_{z, y_i})``,
starting from ``q = P``; the Dirichlet posteriors ``a_z = a0 + sum_i q(z_i) e_{y_i}`` are those
of the last update's input) gives the bound::

    PACTran_Dir = -ELBO / (N C) = [ sum_z (log C(a_z) - log C(a0)) + sum_i KL(q_i || P_i) ] / (N C)

with ``log C(a) = log Gamma(sum a) - sum log Gamma(a)`` and ``1e-10`` inside ``log P``.
**Lower is better** (as published); the selector negates it for ranking, as Model Spider does.

Checked against google-research/pactran_metrics ``compute_metrics.py::calculate_pac_dir``
(a5e49972, identical to Model Spider's ``PACTranDirichlet``) with ``alpha = 1``, without the
subsampling of its ``main()``; fixture agreement 1e-10. The Gaussian PACTran variant (a prior on
a linear head over features) is not implemented. Cost O(iterations * N * Cs * C).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from modelreuse.selection.transferability._inputs import as_labels, as_probabilities, one_hot
from modelreuse.selection.transferability._metric import METRICS

LOG_EPS = 1e-10
UPDATES = 10


def _log_normaliser(a: np.ndarray) -> np.ndarray:
    """``log Gamma(sum a) - sum log Gamma(a)`` over the last axis."""
    return special.gammaln(a.sum(axis=-1)) - special.gammaln(a).sum(axis=-1)


@METRICS.register("pactran_dir", kind="probabilities", higher_is_better=False, pool_relative=False)
def pactran_dirichlet(P, y, alpha: float = 1.0) -> float:
    """PACTran-Dirichlet of source probabilities ``P`` (N, Cs) for labels ``y``. Lower is better."""
    P = as_probabilities(P)
    y, C = as_labels(y, len(P))
    if alpha <= 0:
        raise ValueError(f"alpha must be positive, got {alpha}")
    Y = one_hot(y, C)
    a0 = alpha * Y.sum(axis=0) / len(y) + LOG_EPS
    log_p = np.log(P + LOG_EPS)
    q, log_q = P, log_p
    for _ in range(UPDATES):
        posterior = a0 + q.T @ Y
        expected_log_theta = special.digamma(posterior) - special.digamma(posterior.sum(axis=1, keepdims=True))
        logits = log_p + expected_log_theta[:, y].T
        log_q = logits - special.logsumexp(logits, axis=1, keepdims=True)
        q = np.exp(log_q)
    neg_elbo = (_log_normaliser(posterior) - _log_normaliser(a0)).sum() + (q * (log_q - log_p)).sum()
    return float(neg_elbo / Y.size)
