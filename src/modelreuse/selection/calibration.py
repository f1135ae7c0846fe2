"""Calibrated search scores: a p-value per candidate and a "nothing fits" answer.

Hypothesis tested for each candidate learnware: *the user's rows come from the distribution the
learnware was trained on*. Statistic: MMD^2 between the task RKME and the learnware RKME in the
*user's own frame* (features divided by the user's standard deviations, the task spec's
``gamma``), the frame in which :class:`~modelreuse.specs.rkme_index.RKMEIndex` ranks too: the statistic
depends on the user's and the candidate's specs only, never on other learnwares', and a dataset
with small raw scales does not collapse to a point next to datasets with huge ones.

Null distribution, computed on the user's side from the user's own rows (nothing leaves the
client). Under the hypothesis, the biased MMD^2 between ``n`` and ``n_lw`` samples behaves like
``(1/n + 1/n_lw) sum_j lambda_j Z_j^2`` (``Z_j`` standard normal, ``lambda_j`` the eigenvalues of
the centred kernel operator). It is moment-matched by a Gamma distribution (Gretton, Fukumizu,
Harchaoui and Sriperumbudur, "A fast, consistent kernel two-sample test", NeurIPS 2009):

* mean ``2 eps + V (1/n + 1/n_lw)``, with ``V = sum lambda = 1 - mean k(x, x')`` and ``eps`` the
  RKME approximation error (the task RKME's MMD^2 to the user's rows, standing in for both
  sides' errors), computed per candidate since ``n_lw`` is stored in the learnware spec;
* shape ``(sum lambda)^2 / (2 sum lambda^2)``, with the moments of the spectrum taken from the
  weighted centred Gram matrix ``Kc`` of (up to 2,000 of) the user's rows with weights ``w = 1/n``
  (or of the task RKME's reduced set with its weights, when the user shares only the spec):
  ``sum lambda = sum_i w_i Kc_ii = 1 - w^T K w`` and ``sum lambda^2 = w^T (Kc * Kc) w``. On few rows this spectrum is lumpier
  than the population's, so the shape is smaller and the tail heavier: conservative, fewer false
  "nothing fits" answers. (An earlier version estimated the shape from 12 RKME pairs of random
  halves; on 50-row users the variance of that estimate produced false alarms in 3 of 40
  in-dock gas-sensor users.)

Sign convention: a larger p-value means the task is more plausibly from the learnware's
distribution. Search answers "nothing fits" when every candidate has ``p < alpha``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaincc

from modelreuse.specs.kernels import gaussian_kernel
from modelreuse.specs.rkme import RKMESpec, weighted_mmd2

DEFAULT_ALPHA = 0.01
MAX_NULL_ROWS = 2000


@dataclass
class NullModel:
    """The Gamma null of MMD^2 for the user's rows (module doc): shape and mean terms."""

    n_rows: int
    eps: float
    V: float
    shape: float

    def expected(self, n_learnware: np.ndarray) -> np.ndarray:
        """Null mean for the user's rows against learnwares sketching ``n_learnware`` rows."""
        return 2 * self.eps + self.V * (1.0 / self.n_rows + 1.0 / np.asarray(n_learnware, np.float64))


def null_model(X: np.ndarray | None, task_spec: RKMESpec, seed: int = 0) -> NullModel:
    """The null for the user's rows ``X`` in the user's own frame (``task_spec.scale`` and
    ``task_spec.gamma``); it does not depend on the learnwares in the dock.

    With ``X=None`` (a user who shares only the task RKME) the spectrum moments come from the
    RKME's weighted reduced set instead of the rows (at most ``m`` eigenvalues, so the shape is
    smaller: conservative), ``n`` from the spec's stored row count, and ``eps`` from the spec's
    stored ``fit_mmd2`` (0 for specs saved before it existed).
    """
    if X is None:
        points, weights = task_spec.Z / task_spec.scale, np.clip(task_spec.beta, 0, None)
        weights, n_rows = weights / weights.sum(), int(task_spec.n)
    else:
        rng = np.random.default_rng(seed)
        points = X[rng.choice(len(X), min(len(X), MAX_NULL_ROWS), replace=False)] / task_spec.scale
        weights, n_rows = np.full(len(points), 1.0 / len(points)), len(X)
    K = gaussian_kernel(points, points, task_spec.gamma)
    Kw = K @ weights
    centred = K - Kw[:, None] - Kw[None, :] + weights @ Kw
    lam_sum = float(weights @ np.diag(centred))
    lam_sq_sum = float(weights @ (centred**2) @ weights)
    shape = lam_sum**2 / (2 * lam_sq_sum) if lam_sq_sum > 0 else np.inf
    eps = (task_spec.fit_mmd2 or 0.0) if X is None else weighted_mmd2(task_spec.Z / task_spec.scale, task_spec.beta,
                                                                        points, weights, task_spec.gamma)
    return NullModel(n_rows, eps, max(1.0 - float(weights @ Kw), 0.0), float(shape))


def mixture_expected(null: NullModel, n_learnware: np.ndarray, mixture_weights: np.ndarray) -> float:
    """Null mean for a mixture: the mixture's sampling variance is ``V sum_i w_i^2 / n_i``."""
    w = np.asarray(mixture_weights, np.float64)
    return float(2 * null.eps + null.V * (1.0 / null.n_rows + np.sum(w**2 / np.asarray(n_learnware, np.float64))))


def p_values(observed: np.ndarray, shape: float, mean: np.ndarray | float) -> np.ndarray:
    """Upper-tail p-values ``P(null >= observed)`` of a Gamma null with ``shape`` and ``mean``
    (per observation). A degenerate null (zero mean or infinite shape) is a point mass."""
    observed, mean = np.asarray(observed, np.float64), np.broadcast_to(np.asarray(mean, np.float64), np.shape(observed))
    if not np.isfinite(shape) or shape <= 0:
        return np.where(observed <= mean, 1.0, 0.0)
    # the Gamma survival function, P(G >= x) = Q(shape, x / scale) (regularised upper incomplete
    # gamma; scipy.special loads in half the time of scipy.stats, on every CLI search)
    p = gammaincc(shape, np.maximum(observed, 0.0) * shape / np.maximum(mean, 1e-300))
    return np.where(mean > 0, p, np.where(observed <= 0, 1.0, 0.0))
