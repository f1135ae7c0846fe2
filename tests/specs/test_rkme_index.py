import numpy as np

from modelreuse.specs import rkme_index as index_module
from modelreuse.specs.kernels import gaussian_kernel
from modelreuse.specs.rkme import RKMESpec
from modelreuse.specs.rkme_index import RKMEIndex


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


def test_each_score_depends_only_on_the_query_and_that_learnware():
    specs = _specs(6)
    full = RKMEIndex.build([str(i) for i in range(6)], specs).mmd2(specs[0], np.arange(6))
    alone = [RKMEIndex.build(["x"], [s]).mmd2(specs[0], np.arange(1))[0] for s in specs]
    np.testing.assert_allclose(full, alone, rtol=0, atol=1e-12)


def test_small_kernel_blocks_give_the_same_scores_and_embeddings(monkeypatch):
    specs, ids = _specs(9), [str(i) for i in range(9)]
    index = RKMEIndex.build(ids, specs)
    q = specs[2]
    whole = index.mmd2(q, np.arange(9))
    monkeypatch.setattr(index_module, "BLOCK_VALUES", 12 * 30)  # two learnwares' points per block
    np.testing.assert_allclose(index.mmd2(q, np.arange(9)), whole, rtol=0, atol=1e-12)
    np.testing.assert_allclose(RKMEIndex.build(ids, specs).embeddings, index.embeddings, rtol=0, atol=1e-6)
