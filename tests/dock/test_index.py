import numpy as np

from modelreuse.dock.index import RKMEIndex
from modelreuse.specs.kernels import gaussian_kernel
from modelreuse.specs.rkme import RKMESpec


def _specs(n, d=6, m=12, seed=0):
    """Real-data-free structural test of batching: specs from shifted Gaussian clouds."""
    rng = np.random.default_rng(seed)
    return [RKMESpec.fit(rng.normal(loc=i * 0.2, size=(200, d)), m=m, max_iter=0, seed=i) for i in range(n)]


def test_batched_mmd_equals_pairwise_formula_in_the_query_frame():
    specs = _specs(7)
    index = RKMEIndex.build([str(i) for i in range(7)], specs)
    q = specs[3]
    batched = index.mmd2(q, np.arange(7))
    for i, s in enumerate(specs):
        a, b, g = q.standardized_points(q.scale), s.standardized_points(q.scale), q.gamma
        direct = (q.beta @ gaussian_kernel(a, a, g) @ q.beta - 2 * q.beta @ gaussian_kernel(a, b, g) @ s.beta
                  + s.beta @ gaussian_kernel(b, b, g) @ s.beta)
        assert abs(batched[i] - max(direct, 0)) < 1e-10


def test_faiss_prefilter_keeps_the_nearest():
    specs = _specs(40)
    exact = RKMEIndex.build([str(i) for i in range(40)], specs, exact_below=10_000)
    hnsw = RKMEIndex.build([str(i) for i in range(40)], specs, exact_below=10)
    assert hnsw.faiss_index is not None and exact.faiss_index is None
    q = specs[17]
    assert 17 in hnsw.prefilter(q, 5) and 17 in exact.prefilter(q, 5)
