import numpy as np

from modelreuse.models.tabular import impute_means
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
    whole, gram = index.mmd2(q, np.arange(9)), index.gram(q, np.arange(9))
    monkeypatch.setattr(index_module, "BLOCK_VALUES", 12 * 30)  # two learnwares' points per block
    np.testing.assert_allclose(index.mmd2(q, np.arange(9)), whole, rtol=0, atol=1e-12)
    np.testing.assert_allclose(index.gram(q, np.arange(9)), gram, rtol=0, atol=1e-12)
    np.testing.assert_allclose(RKMEIndex.build(ids, specs).embeddings, index.embeddings, rtol=0, atol=1e-6)


def test_vectorised_scores_equal_the_per_segment_formula_on_real_stations(beijing):
    """The batched cross terms, padded self-terms and the Gram matrix against one kernel block
    per learnware (pair), on real Beijing rows with reduced sets of different sizes, every
    learnware scored in the frame of one real user."""
    sites = ["Aotizhongxin", "Changping", "Huairou", "Wanliu"]
    rows = {s: impute_means(beijing[s]["X"]) for s in sites}
    specs = [RKMESpec.fit(rows[s][lo:lo + 300], m=m, max_iter=3, seed=i)
             for i, (s, lo, m) in enumerate((s, lo, m) for s in sites for lo, m in ((0, 8), (300, 20), (600, 40)))]
    index = RKMEIndex.build([str(i) for i in range(len(specs))], specs)
    user = RKMESpec.fit(rows["Wanliu"][900:1000], m=15, seed=7)
    a, g = user.Z / user.scale, user.gamma
    everyone = np.arange(len(specs))
    points = [s.Z / user.scale for s in specs]
    qq = user.beta @ gaussian_kernel(a, a, g) @ user.beta
    cross = np.array([user.beta @ gaussian_kernel(a, p, g) @ s.beta for p, s in zip(points, specs)])
    own = np.array([s.beta @ gaussian_kernel(p, p, g) @ s.beta for p, s in zip(points, specs)])
    gram = np.array([[s.beta @ gaussian_kernel(p, q, g) @ t.beta for q, t in zip(points, specs)]
                     for p, s in zip(points, specs)])
    np.testing.assert_allclose(index.inner_products(user, everyone), cross, rtol=0, atol=1e-9)
    np.testing.assert_allclose(index.self_terms(user, everyone), own, rtol=0, atol=1e-9)
    np.testing.assert_allclose(index.mmd2(user, everyone), np.maximum(qq - 2 * cross + own, 0), rtol=0, atol=1e-9)
    picked = np.array([11, 0, 5, 7])
    np.testing.assert_allclose(index.gram(user, picked), gram[np.ix_(picked, picked)], rtol=0, atol=1e-9)
    np.testing.assert_allclose(index.mmd2(user, picked), index.mmd2(user, everyone)[picked], rtol=0, atol=1e-12)
