"""LogME, log maximum evidence (You, Liu, Wang and Long, "LogME: practical assessment of
pre-trained models for transfer learning", ICML 2021; fixed-point algorithm from "Ranking and
tuning pre-trained models: a new paradigm for exploiting model hubs", JMLR 2022).

Model: for each target column ``y`` (one-vs-rest indicator per class, or each regression target),
``y = F w + noise`` with prior ``w ~ N(0, I / alpha)`` and noise precision ``beta``. The evidence
maximised over ``(alpha, beta)`` is::

    L = D/2 log a + N/2 log b - 1/2 log|a I + b F^T F| - b/2 ||y - F m||^2 - a/2 ||m||^2 - N/2 log 2 pi

and LogME = mean over columns of ``L / N``. Higher is better.

Algorithm: one eigendecomposition ``F^T F = V diag(s) V^T`` (or of ``F F^T`` when N < D) is shared
by all columns; with ``z = V^T F^T y`` every quantity of the fixed-point iteration is a sum over
eigen-directions (``m2 = sum z^2 / (t + s)^2``, ``res2 = ||y||^2 - sum z^2 (s + 2t) / (t + s)^2``,
``t = a / b``), and the iteration runs for all columns at once, each stopping at its own
convergence. Cost O(N D min(N, D) + min(N, D)^3 + N D K) for K columns, against the reference's
SVD of ``F^T F``, an N x D product and one pass per class.

Variants (fixture keys in brackets), all computed on the same decomposition:

* ``"fixed_point"`` (default) [``logme``, ``logme_regression``]: thuml/LogME ``LogME.py``
  ``LogME.fit`` = ``_fit_fixed_point`` (56551ca9): ``a = b = 1``, at most 11 steps, stop when
  ``|t_new - t| / t <= 1e-3``, ``1e-5`` added to ``m2`` and ``res2`` in the updates; the evidence
  uses the last ``m2, res2`` with the updated ``a, b``.
* ``"icml"`` [``logme_icml``]: the ICML 2021 MacKay iteration (``LogME._fit_icml``), stop at
  relative change ``< 1e-2``, ``1e-5`` added in the updates and the evidence.
* ``"tllib"`` [``logme_tllib``]: tllib ``log_maximum_evidence`` (c4aa59eb), the ICML iteration
  without the ``1e-5`` terms.

Rank: ``log|a I + b F^T F|`` is summed over all D eigenvalues (zero ones contribute ``log a``),
the exact evidence. The reference fixed-point code does the same when N >= D (LAPACK leaves
~1e-13 singular values for exactly-zero or duplicated columns and they pass its ``s > 1e-10`` cut),
but when N < D it sums only the N singular values while still adding ``D/2 log a``, which is not
the evidence; ``drop_null_directions=True`` reproduces that (it changes the value by
``(D - N) / (2N) log a``).

All-zero feature columns (dead ReLU units are common) are dropped before the decomposition and
counted as zero eigenvalues, which is exact and shrinks the O(D^3) step.
"""

from __future__ import annotations

from functools import partial
from typing import Literal

import numpy as np
import scipy.linalg

from modelreuse.selection.transferability._inputs import as_features, as_labels, as_targets, one_hot
from modelreuse.selection.transferability._metric import METRICS

Variant = Literal["fixed_point", "icml", "tllib"]
MAX_STEPS = 11


def spectrum(F: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Non-negative eigenvalues ``s`` of ``F^T F`` and ``z = V^T F^T Y`` (one row per eigenvalue),
    from whichever Gram matrix is smaller; ``F^T Y`` is formed first, so no N x D x D product is
    needed. All-zero columns (zero Gram diagonal) are left out: their eigenvalues are exactly 0
    with ``z = 0``, and the caller counts them as null directions."""
    N, D = F.shape
    if N < D:
        s, U = _eigh(F @ F.T)
        s = np.clip(s, 0, None)
        return s, np.sqrt(s)[:, None] * (U.T @ Y)
    gram, FtY = F.T @ F, F.T @ Y
    live = np.flatnonzero(np.diag(gram) > 0)
    if len(live) < D:
        gram, FtY = gram[np.ix_(live, live)], FtY[live]
    s, V = _eigh(gram)
    return np.clip(s, 0, None), V.T @ FtY


def _eigh(gram: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Divide-and-conquer symmetric eigendecomposition, in place (the Gram matrix is a temporary)."""
    return scipy.linalg.eigh(gram, overwrite_a=True, check_finite=False, driver="evd")


def log_evidence(Y: np.ndarray, s: np.ndarray, z: np.ndarray, D: int, variant: Variant = "fixed_point",
                 n_null: int = 0) -> np.ndarray:
    """Per-column evidence / N for targets ``Y`` (N, K) given the spectrum ``s`` and
    ``z = V^T F^T Y``; ``n_null`` zero eigenvalues are added to the log-determinant."""
    N = len(Y)
    yy = (Y**2).sum(axis=0)
    z2 = z**2
    s_col = s[:, None]
    step = _fixed_point if variant == "fixed_point" else _mackay
    a, b, m2, res2 = step(yy, s_col, z, z2, N, eps=0.0 if variant == "tllib" else 1e-5)
    logdet = np.log(a + b * s_col).sum(axis=0) + n_null * np.log(a)
    evidence = D / 2 * np.log(a) + N / 2 * np.log(b) - logdet / 2 - b / 2 * res2 - a / 2 * m2 - N / 2 * np.log(2 * np.pi)
    return evidence / N


def _fixed_point(yy, s, z, z2, N, eps):
    """JMLR fixed-point iteration, all columns at once (module doc)."""
    K = len(yy)
    a, b = np.ones(K), np.ones(K)
    m2, res2 = np.zeros(K), np.zeros(K)
    active = np.ones(K, dtype=bool)
    for _ in range(MAX_STEPS):
        t = a[active] / b[active]
        gamma = (s / (s + t)).sum(axis=0)
        m2[active] = (z2[:, active] / (t + s) ** 2).sum(axis=0)
        res2[active] = yy[active] - (z2[:, active] * (s + 2 * t) / (t + s) ** 2).sum(axis=0)
        a[active] = gamma / (m2[active] + eps)
        b[active] = (N - gamma) / (res2[active] + eps)
        done = np.abs(a[active] / b[active] - t) / t <= 1e-3
        active[np.flatnonzero(active)[done]] = False
        if not active.any():
            break
    return a, b, m2, res2


def _mackay(yy, s, z, z2, N, eps):
    """ICML 2021 MacKay iteration (``eps = 1e-5``) or tllib's (``eps = 0``), all columns at once.
    ``m2`` and ``res2`` are returned with ``eps`` added, as the reference evidence uses them."""
    K = len(yy)
    a, b, lam = np.ones(K), np.ones(K), np.ones(K)
    m2, res2 = np.zeros(K), np.zeros(K)
    active = np.ones(K, dtype=bool)
    for _ in range(MAX_STEPS):
        ai, bi = a[active], b[active]
        gamma = (s / (s + lam[active])).sum(axis=0)
        c = bi * z[:, active] / (ai + bi * s)
        m2[active] = (c**2).sum(axis=0)
        res2[active] = yy[active] - 2 * (c * z[:, active]).sum(axis=0) + (s * c**2).sum(axis=0)
        a[active] = gamma / (m2[active] + eps)
        b[active] = (N - gamma) / (res2[active] + eps)
        new_lam = a[active] / b[active]
        done = np.abs(new_lam - lam[active]) / lam[active] < 0.01
        idx = np.flatnonzero(active)
        lam[idx[~done]] = new_lam[~done]
        active[idx[done]] = False
        if not active.any():
            break
    return a, b, m2 + eps, res2 + eps


def logme(F, y=None, t=None, variant: Variant = "fixed_point", drop_null_directions: bool = False) -> float:
    """LogME of features ``F`` (N, D) for class labels ``y`` or regression targets ``t`` (N, K).

    Give exactly one of ``y`` / ``t``. Higher is better; see the module doc for the variants.
    """
    F = as_features(F)
    if (y is None) == (t is None):
        raise ValueError("give exactly one of y (class labels) or t (regression targets)")
    if y is not None:
        codes, C = as_labels(y, len(F))
        Y = one_hot(codes, C)
    else:
        Y = as_targets(t, len(F))
    N, D = F.shape
    s, z = spectrum(F, Y)
    n_null = (min(N, D) if drop_null_directions else D) - len(s)
    return float(np.mean(log_evidence(Y, s, z, D, variant, n_null)))


def _regression(variant: Variant):
    """LogME of regression targets ``t`` (the registry's ``(F, t)`` call) with ``variant``."""
    def logme_regression(F, t) -> float:
        return logme(F, t=t, variant=variant)

    return logme_regression


METRICS.add("logme", partial(logme, variant="fixed_point"), kind="features", higher_is_better=True, pool_relative=False)
METRICS.add("logme_icml", partial(logme, variant="icml"), kind="features", higher_is_better=True, pool_relative=False)
METRICS.add("logme_tllib", partial(logme, variant="tllib"), kind="features", higher_is_better=True, pool_relative=False)
METRICS.add("logme_regression", _regression("fixed_point"), kind="regression", higher_is_better=True, pool_relative=False)
METRICS.add("logme_regression_icml", _regression("icml"), kind="regression", higher_is_better=True, pool_relative=False)
METRICS.add("logme_regression_tllib", _regression("tllib"), kind="regression", higher_is_better=True, pool_relative=False)
