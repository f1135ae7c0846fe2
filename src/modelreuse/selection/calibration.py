"""Calibrated search scores: a p-value per candidate and a "nothing fits" answer.

Hypothesis tested for each candidate learnware: *the user's rows come from the distribution the
learnware was trained on*. Statistic: MMD^2 between the task RKME and the learnware RKME in the
index frame (what statistical search ranks by).

Null distribution, estimated on the user's side from the user's own rows (nothing leaves the
client): split the rows into random halves, fit an RKME to each half with the task spec's
settings, and take the MMD^2 between the two halves' RKMEs; repeat ``n_draws`` times. These
draws contain both the sampling noise and the RKME approximation error of two RKMEs of one
distribution; with halves of ``n/2`` rows they are conservative (larger) compared with the
actual comparison of ``n`` user rows against a learnware built from at least that many. The
null is moment-matched by a Gamma distribution (the approximation of Gretton et al., "A fast,
consistent kernel two-sample test", NeurIPS 2009) and ``p = P(null >= observed)``.

Sign convention: a larger p-value means the task is more plausibly from the learnware's
distribution. Search answers "nothing fits" when every candidate has ``p < alpha``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from modelreuse.specs.kernels import gaussian_kernel
from modelreuse.specs.rkme import RKMESpec

if TYPE_CHECKING:  # the dock imports this module; avoid the import cycle at run time
    from modelreuse.dock.index import RKMEIndex

DEFAULT_ALPHA = 0.01
DEFAULT_DRAWS = 12
MAX_HALF_ROWS = 2000


def pair_mmd2(index: RKMEIndex, a: RKMESpec, b: RKMESpec) -> float:
    """MMD^2 between two RKMEs in the index's frame and kernel."""
    (Za, ba), (Zb, bb) = index.query_frame(a), index.query_frame(b)
    g = index.gamma
    value = ba @ gaussian_kernel(Za, Za, g) @ ba - 2 * ba @ gaussian_kernel(Za, Zb, g) @ bb + bb @ gaussian_kernel(Zb, Zb, g) @ bb
    return max(float(value), 0.0)


def null_draws(X: np.ndarray, index: RKMEIndex, m: int = 100, n_draws: int = DEFAULT_DRAWS, seed: int = 0) -> np.ndarray:
    """``n_draws`` MMD^2 values between RKMEs of random halves of ``X`` (see module doc)."""
    rng = np.random.default_rng(seed)
    half = min(len(X) // 2, MAX_HALF_ROWS)
    draws = []
    for r in range(n_draws):
        perm = rng.permutation(len(X))
        a = RKMESpec.fit(X[perm[:half]], m=min(m, half), seed=seed + r)
        b = RKMESpec.fit(X[perm[half : 2 * half]], m=min(m, half), seed=seed + r)
        draws.append(pair_mmd2(index, a, b))
    return np.asarray(draws)


def p_values(observed: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Upper-tail p-values of ``observed`` MMD^2 under a Gamma fitted to the null ``draws``."""
    mean, var = float(np.mean(draws)), float(np.var(draws, ddof=1))
    if mean <= 0 or var <= 0:
        return np.where(np.asarray(observed) <= mean, 1.0, 0.0)
    shape, scale = mean**2 / var, var / mean
    return stats.gamma.sf(np.asarray(observed), shape, scale=scale)
