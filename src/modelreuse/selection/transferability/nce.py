"""NCE, negative conditional entropy (Tran, Nguyen and Hassner, "Transferability and hardness of
supervised classification tasks", ICCV 2019).

Formula: with hard source labels ``z_i = argmax_s P[i, s]`` and the empirical joint
``p(y, z)``, ``NCE = -H(Y | Z) = sum_z p(z) sum_y p(y|z) log p(y|z)``. Value <= 0; higher is better.

Checked against thuml/LogME ``NCE.py::NCE`` (56551ca9, identical to tllib's
``negative_conditional_entropy``): source classes that never occur are left out and ``1e-20`` is
added inside the log, as there; fixture agreement 1e-12. pactran_metrics' ``calculate_nce`` uses
soft probabilities instead of argmax (a different statistic). O(N + C * Cs).
"""

from __future__ import annotations

import numpy as np

from modelreuse.selection.transferability._inputs import as_labels, as_probabilities
from modelreuse.selection.transferability._metric import METRICS

LOG_EPS = 1e-20


@METRICS.register("nce", kind="probabilities", higher_is_better=True, pool_relative=False)
def nce(P, y) -> float:
    """NCE of the hard source predictions ``argmax P`` (N, Cs) for target labels ``y``."""
    P = as_probabilities(P)
    y, C = as_labels(y, len(P))
    z = P.argmax(axis=1)
    joint = np.zeros((C, P.shape[1]))
    np.add.at(joint, (y, z), 1.0 / len(y))
    p_z = joint.sum(axis=0)
    seen = p_z > 0
    cond = joint[:, seen] / p_z[seen] + LOG_EPS
    return float(-(p_z[seen] * -(cond * np.log(cond)).sum(axis=0)).sum())
