"""PACTran-Gamma (Ding, Chen, Liu, Rolnick, Wang and Huang, "PACTran: PAC-Bayesian metrics for
estimating the transferability of pretrained models to classification tasks", ECCV 2022, sec. 4.2).

Model: every (target label ``y``, source class ``z``) pair owns a rate ``theta_yz ~ Gamma(a0_y, beta)``
with ``a0 = alpha * (target class frequencies) + 1e-10``; a row's label probability is
``p(y | x) = sum_z P[x, z] theta_yz / sum_y' sum_z P[x, z] theta_y'z``. Mean-field inference over the
latent source class (10 updates of ``q(z_i) ~ P[i, z] exp(psi(a_{y_i z}) - log beta)``, starting
from ``q = P``, with shapes ``a_yz = a0_y + sum_i q(z_i) [y_i = y]`` of the last update's input and
the rate kept at ``beta``) and the bound ``log u <= log l_i + u / l_i - 1`` on the normaliser, with
``l_i = sum_z P[i, z] sum_y a_yz / beta``, give::

    PACTran_Gamma = 1 + [ sum_yz (log Gamma(a0_y) - log Gamma(a_yz) + a_yz log beta - a0_y log beta)
                          + sum_i (KL(q_i || P_i) + log l_i - 1) ] / (N C)

with ``1e-10`` inside ``log P``. **Lower is better** (as published); the selector negates it.

Checked against google-research/pactran_metrics ``compute_metrics.py::calculate_pac_gamma``
(a5e49972; ``alpha = 1``, ``beta = 1``, without the subsampling of its ``main()``): the public
fixture's value agrees to 1e-10. Cost O(iterations * N * Cs * C).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from modelreuse.selection.transferability._inputs import as_labels, as_probabilities, one_hot
from modelreuse.selection.transferability._metric import METRICS

LOG_EPS = 1e-10
UPDATES = 10


@METRICS.register("pactran_gamma", kind="probabilities", higher_is_better=False, pool_relative=False)
def pactran_gamma(P, y, alpha: float = 1.0, beta: float = 1.0) -> float:
    """PACTran-Gamma of source probabilities ``P`` (N, Cs) for labels ``y``. Lower is better."""
    P = as_probabilities(P)
    y, C = as_labels(y, len(P))
    if alpha <= 0 or beta <= 0:
        raise ValueError(f"alpha and beta must be positive, got {alpha} and {beta}")
    Y = one_hot(y, C)
    a0 = (alpha * Y.sum(axis=0) / len(y) + LOG_EPS)[:, None]            # (C, 1), one prior per label
    log_p = np.log(P + LOG_EPS)
    q, log_q = P, log_p
    for _ in range(UPDATES):
        shape = a0 + Y.T @ q                                               # (C, Cs)
        logits = log_p + Y @ (special.digamma(shape) - np.log(beta))
        log_q = logits - special.logsumexp(logits, axis=1, keepdims=True)
        q = np.exp(log_q)
    normaliser = P @ (shape / beta).sum(axis=0)                            # l_i, (N,)
    prior_terms = (special.gammaln(a0) - special.gammaln(shape) + (shape - a0) * np.log(beta)).sum()
    row_terms = ((q * (log_q - log_p)).sum(axis=1) + np.log(normaliser) - 1.0).sum()
    return float((prior_terms + row_terms) / Y.size + 1.0)
