"""Gaussian kernel utilities shared by the RKME spec, statistical search and reuse.

Kernel: ``k(x, z) = exp(-gamma * ||x - z||^2)``, always evaluated in float64.
"""

from __future__ import annotations

import numpy as np

#: Largest ``m * n * k`` of a matrix product that OpenBLAS runs in the calling thread (its
#: ``SMP_THRESHOLD_MIN * GEMM_MULTITHREAD_THRESHOLD``); see :func:`cross_products`.
ONE_THREAD_MNK = 65536 * 4
#: Fewest rows per piece for which :func:`cross_products` splits a product (below, BLAS's threads pay).
MIN_PIECE_ROWS = 16


def cross_products(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``A @ B.T``, split along the taller operand into products small enough (at most
    :data:`ONE_THREAD_MNK` multiply-adds) that OpenBLAS computes each in the calling thread.

    Why: a thin product such as a 100 x 5 query reduced set against 1,280 stacked points is
    spread over BLAS threads, and on a busy machine (a server's worker threads, other processes)
    waiting for them costs far more than the work: 30 ms instead of 0.2 ms on two loaded cores.
    Each entry is the same dot product as in one call up to rounding (the split is along rows,
    never along the summed axis; BLAS may order a row's few additions differently at a piece's
    edge). Products with few rows per piece go to BLAS whole, where its threads pay off.
    """
    tall_a = len(A) > len(B)
    short = B if tall_a else A
    rows = ONE_THREAD_MNK // max(1, short.shape[0] * short.shape[1])
    if len(A) * len(B) * A.shape[1] <= ONE_THREAD_MNK or rows < MIN_PIECE_ROWS:
        return A @ B.T
    out = np.empty((len(A), len(B)))
    for lo in range(0, max(len(A), len(B)), rows):
        piece = slice(lo, lo + rows)
        if tall_a:
            np.matmul(A[piece], B.T, out=out[piece])
        else:
            np.matmul(A, B[piece].T, out=out[:, piece])
    return out


def squared_distances(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Pairwise ``||a_i - b_j||^2`` via matrix products (:func:`cross_products`); clipped at 0
    against round-off."""
    sq = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2.0 * cross_products(A, B)
    return np.maximum(sq, 0.0)


def gaussian_kernel(A: np.ndarray, B: np.ndarray, gamma: float) -> np.ndarray:
    """Gaussian kernel matrix ``K[i, j] = exp(-gamma ||a_i - b_j||^2)``."""
    return np.exp(-gamma * squared_distances(A, B))


def random_fourier_features(
    X: np.ndarray, gamma: float, dim: int, seed: int
) -> np.ndarray:
    """Random Fourier features (Rahimi & Recht, 2007) of the Gaussian kernel.

    ``phi(x) = sqrt(2/D) cos(W x + b)`` with ``W ~ N(0, 2 gamma I)``, ``b ~ U[0, 2 pi)``, so
    that ``phi(x) . phi(z) ~= exp(-gamma ||x - z||^2)``. The same ``seed``, ``gamma``, ``dim``
    and input width always give the same feature map.
    """
    rng = np.random.default_rng(seed)
    W = rng.normal(scale=np.sqrt(2.0 * gamma), size=(X.shape[1], dim))
    b = rng.uniform(0.0, 2.0 * np.pi, size=dim)
    return np.sqrt(2.0 / dim) * np.cos(X @ W + b)
