import numpy as np
import pytest

from modelreuse.models.tabular import impute_means
from modelreuse.specs import kernels
from modelreuse.specs.kernels import cross_products, squared_distances


@pytest.mark.parametrize("rows_a, rows_b", [(100, 1280), (1280, 100), (7, 9), (3000, 40)])
def test_split_products_equal_one_product_exactly(beijing, rows_a, rows_b):
    """Split or not, every entry is the same dot product up to rounding (real Beijing rows, raw
    units, both orientations)."""
    X = impute_means(beijing["Huairou"]["X"])
    A, B = X[:rows_a], X[-rows_b:]
    assert A.shape[0] * B.shape[0] * A.shape[1] > kernels.ONE_THREAD_MNK or rows_a < 10
    np.testing.assert_allclose(cross_products(A, B), A @ B.T, rtol=1e-14, atol=0)
    direct = ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1)
    np.testing.assert_allclose(squared_distances(A, B), direct, rtol=1e-9, atol=1e-6)


def test_split_products_fill_every_piece(monkeypatch):
    """Pieces of a few rows (a low threshold): no row or column of the output is left unwritten."""
    monkeypatch.setattr(kernels, "ONE_THREAD_MNK", 40)
    monkeypatch.setattr(kernels, "MIN_PIECE_ROWS", 1)
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(4, 3)), rng.normal(size=(23, 3))
    np.testing.assert_array_equal(cross_products(A, B), A @ B.T)
    np.testing.assert_array_equal(cross_products(B, A), B @ A.T)
