"""LEEP, log expected empirical prediction (Nguyen, Hassner, Seeger and Archambeau, "LEEP: a new
measure to evaluate transferability of learned representations", ICML 2020).

Formula: empirical joint ``p(y, z) = (1/N) sum_i P[i, z] [y_i = y]``, conditional
``p(y | z) = p(y, z) / p(z)``, and ``LEEP = (1/N) sum_i log sum_z p(y_i | z) P[i, z]``.
Value <= 0; higher is better.

Checked against thuml/LogME ``LEEP.py::LEEP`` (56551ca9; tllib's
``log_expected_empirical_prediction`` is the same), fixture agreement 1e-12.

``log=False`` reproduces what TencentARC/SFDA, NCTI and EMMS ``metrics.py`` compute and publish
under the name "LEEP": the mean of ``sum_z p(y_i|z) P[i, z]`` *without* the log (fixture key
``leep_nolog_sfda``). It is a different statistic (an expected accuracy, not a log-likelihood)
and ranks models differently; the default is the paper's LEEP. Source classes with zero total
probability (``p(z) = 0``) carry no mass and are skipped instead of producing 0/0.
O(N * Cs) after the (C x Cs) joint.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from modelreuse.selection.transferability._inputs import as_labels, as_probabilities, one_hot
from modelreuse.selection.transferability._metric import METRICS


def expected_empirical_prediction(P: np.ndarray, y: np.ndarray, C: int) -> np.ndarray:
    """``sum_z p(y_i | z) P[i, z]`` for every row (the quantity LEEP averages the log of)."""
    joint = one_hot(y, C).T @ (P / len(P))
    p_z = joint.sum(axis=0)
    cond = np.divide(joint, p_z, out=np.zeros_like(joint), where=p_z > 0)
    return np.einsum("iz,iz->i", P, cond[y])


@METRICS.register("leep", kind="probabilities", higher_is_better=True, pool_relative=False)
def leep(P, y, log: bool = True) -> float:
    """LEEP of source probabilities ``P`` (N, Cs) for target labels ``y``; ``log=False`` gives
    the SFDA/NCTI/EMMS variant (see module doc)."""
    P = as_probabilities(P)
    y, C = as_labels(y, len(P))
    eep = expected_empirical_prediction(P, y, C)
    return float(np.mean(np.log(eep)) if log else np.mean(eep))


METRICS.add("leep_nolog_sfda", partial(leep, log=False), kind="probabilities", higher_is_better=True, pool_relative=False)
