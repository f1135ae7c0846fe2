"""Gaussian kernel utilities shared by the RKME spec, statistical search and reuse.

Kernel: ``k(x, z) = exp(-gamma * ||x - z||^2)``, always evaluated in float64.
"""

from __future__ import annotations

import numpy as np


def squared_distances(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Pairwise ``||a_i - b_j||^2`` via one matrix product; clipped at 0 against round-off."""
    sq = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2.0 * (A @ B.T)
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
