"""Calibrated search scores: a p-value per candidate and a "nothing fits" answer.

Hypothesis tested for each candidate learnware: *the user's rows come from the distribution the
learnware was trained on*. Statistic: MMD^2 between the task RKME and the learnware RKME in the
*user's own frame* (features divided by the user's standard deviations; same kernel rule). The
ranking itself uses the pooled frame of the index; testing in the user's frame keeps a dataset
with small raw scales from collapsing to a point next to datasets with huge ones.

Null distribution, estimated on the user's side from the user's own rows (nothing leaves the
client): split the rows into random halves, fit an RKME to each half with the task spec's
settings, and take the MMD^2 between the two halves' RKMEs; repeat ``n_draws`` times. These
draws contain both the sampling noise and the RKME approximation error of two RKMEs of one
distribution; with halves of ``n/2`` rows they are conservative (larger) compared with the
actual comparison of ``n`` user rows against a learnware built from at least that many. The
null is moment-matched by a Gamma distribution (the approximation of Gretton et al., "A fast,
consistent kernel two-sample test", NeurIPS 2009) and ``p = P(null >= observed)``.

Sample-size correction: under the null, ``E[MMD^2] ~ eps_a + eps_b + V (1/n_a + 1/n_b)`` with
``eps`` the RKME approximation errors and ``V = 1 - E k(x, x')`` (Gaussian kernel). The half
draws have ``n_a = n_b = n/2``; the actual comparison has the user's ``n`` rows against the
learnware's ``n_lw``. So the draws keep their shape but are rescaled, per candidate, to the mean
``2 eps + V (1/n + 1/n_lw)``, where ``eps`` (the task RKME's MMD^2 to the user's rows) and ``V``
are computed on the user's rows in the user's frame and ``n_lw`` is stored in the learnware spec.

Sign convention: a larger p-value means the task is more plausibly from the learnware's
distribution. Search answers "nothing fits" when every candidate has ``p < alpha``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from modelreuse.specs.kernels import gaussian_kernel
from modelreuse.specs.rkme import RKMESpec, weighted_mmd2

if TYPE_CHECKING:  # the dock imports this module; avoid the import cycle at run time
    from modelreuse.dock.index import RKMEIndex

DEFAULT_ALPHA = 0.01
DEFAULT_DRAWS = 12
MAX_HALF_ROWS = 2000


def pair_mmd2(index: RKMEIndex, a: RKMESpec, b: RKMESpec, scale: np.ndarray) -> float:
    """MMD^2 between two RKMEs in the frame ``scale`` with the index's kernel."""
    Za, ba, Zb, bb = a.Z / scale, a.beta, b.Z / scale, b.beta
    g = index.gamma
    value = ba @ gaussian_kernel(Za, Za, g) @ ba - 2 * ba @ gaussian_kernel(Za, Zb, g) @ bb + bb @ gaussian_kernel(Zb, Zb, g) @ bb
    return max(float(value), 0.0)


@dataclass
class NullModel:
    """Null MMD^2 draws from halves of the user's rows, plus what rescales them (module doc)."""

    draws: np.ndarray
    n_rows: int
    eps: float
    V: float

    def expected(self, n_learnware: np.ndarray) -> np.ndarray:
        """Null mean for the user's rows against learnwares sketching ``n_learnware`` rows."""
        return 2 * self.eps + self.V * (1.0 / self.n_rows + 1.0 / np.asarray(n_learnware, np.float64))


def null_model(X: np.ndarray, task_spec: RKMESpec, index: RKMEIndex, n_draws: int = DEFAULT_DRAWS,
               seed: int = 0) -> NullModel:
    """Half-split draws and the size-correction terms for the user's rows ``X``, in the user's
    own frame (``task_spec.scale``)."""
    rng = np.random.default_rng(seed)
    scale = task_spec.scale
    S = X[rng.choice(len(X), min(len(X), MAX_HALF_ROWS), replace=False)] / scale
    Zq, bq = task_spec.Z / scale, task_spec.beta
    K_ss_mean = float(gaussian_kernel(S, S, index.gamma).mean())
    alpha = np.full(len(S), 1.0 / len(S))
    eps = weighted_mmd2(Zq, bq, S, alpha, index.gamma)
    return NullModel(null_draws(X, index, scale, m=len(task_spec.beta), n_draws=n_draws, seed=seed), len(X), eps,
                     max(1.0 - K_ss_mean, 0.0))


def null_draws(X: np.ndarray, index: RKMEIndex, scale: np.ndarray, m: int = 100, n_draws: int = DEFAULT_DRAWS,
               seed: int = 0) -> np.ndarray:
    """``n_draws`` MMD^2 values between RKMEs of random halves of ``X`` (see module doc)."""
    rng = np.random.default_rng(seed)
    half = min(len(X) // 2, MAX_HALF_ROWS)
    draws = []
    for r in range(n_draws):
        perm = rng.permutation(len(X))
        a = RKMESpec.fit(X[perm[:half]], m=min(m, half), seed=seed + r)
        b = RKMESpec.fit(X[perm[half : 2 * half]], m=min(m, half), seed=seed + r)
        draws.append(pair_mmd2(index, a, b, scale))
    return np.asarray(draws)


def mmd2_in_user_frame(index: RKMEIndex, task_spec: RKMESpec, candidates: np.ndarray) -> np.ndarray:
    """Exact MMD^2 between the task RKME and each candidate in the user's frame (the test
    statistic; ranking itself stays in the pooled frame)."""
    ratio = index.scale / task_spec.scale
    idx, seg_starts = index.segment_rows(candidates)
    P, w = index.points[idx] * ratio, index.weights[idx]
    Zq, bq = task_spec.Z / task_spec.scale, task_spec.beta
    g = index.gamma
    cross = np.add.reduceat((bq @ gaussian_kernel(Zq, P, g)) * w, seg_starts)
    owner = np.repeat(np.arange(len(candidates)), np.diff(np.append(seg_starts, len(idx))))
    S = np.zeros((len(candidates), len(idx)))
    S[owner, np.arange(len(idx))] = w
    self_terms = np.einsum("ij,ij->i", S @ gaussian_kernel(P, P, g), S)
    return np.maximum(bq @ gaussian_kernel(Zq, Zq, g) @ bq - 2 * cross + self_terms, 0.0)


def p_values(observed: np.ndarray, draws: np.ndarray, target_mean: np.ndarray | float | None = None) -> np.ndarray:
    """Upper-tail p-values of ``observed`` MMD^2 under a Gamma fitted to the null ``draws``,
    optionally rescaled (same shape) to ``target_mean`` per observation."""
    mean, var = float(np.mean(draws)), float(np.var(draws, ddof=1))
    if mean <= 0 or var <= 0:
        return np.where(np.asarray(observed) <= mean, 1.0, 0.0)
    shape = mean**2 / var
    target = mean if target_mean is None else np.asarray(target_mean, np.float64)
    return stats.gamma.sf(np.asarray(observed), shape, scale=target / shape)
