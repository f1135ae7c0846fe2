import numpy as np
import pytest

from modelreuse.errors import InvalidTaskDataError, SpecError
from modelreuse.models.tabular import impute_means
from modelreuse.specs import rkme
from modelreuse.specs.rkme import RKMESpec
from modelreuse.specs.rkme_index import RKMEIndex


@pytest.fixture(scope="module")
def X(beijing):
    return impute_means(beijing["Aotizhongxin"]["X"])


def test_refinement_lowers_mmd_below_kmeans_init(X):
    init_only = RKMESpec.fit(X, m=30, max_iter=0)
    refined = RKMESpec.fit(X, m=30, max_iter=30)
    assert refined.mmd2_to_data(X) < init_only.mmd2_to_data(X)


def test_reduced_set_beats_random_subset_of_same_size(X):
    spec = RKMESpec.fit(X, m=30)
    rng = np.random.default_rng(0)
    subset = X[rng.choice(len(X), 30, replace=False)]
    uniform = RKMESpec(Z=subset, beta=np.full(30, 1 / 30), center=spec.center, scale=spec.scale, n=30, gamma=spec.gamma)
    assert spec.mmd2_to_data(X) < 0.5 * uniform.mmd2_to_data(X)


def test_weights_non_negative_and_deterministic(X):
    a, b = RKMESpec.fit(X, m=20, seed=3), RKMESpec.fit(X, m=20, seed=3)
    assert (a.beta >= 0).all()
    np.testing.assert_array_equal(a.Z, b.Z)


def test_save_load_roundtrip(X, tmp_path):
    spec = RKMESpec.fit(X, m=20)
    spec.save(tmp_path / "r.npz")
    back = RKMESpec.load(tmp_path / "r.npz")
    np.testing.assert_array_equal(back.Z, spec.Z)
    assert back.gamma == spec.gamma and back.n == spec.n and back.fit_mmd2 == spec.fit_mmd2


def test_stored_fit_error_matches_exact_mmd_to_the_rows(X):
    exact_small = RKMESpec.fit(X[:800], m=20)  # <= ERROR_SAMPLE rows: exact
    assert exact_small.fit_mmd2 == pytest.approx(exact_small.mmd2_to_data(X[:800]), rel=1e-9)
    sampled = RKMESpec.fit(X, m=20)  # more rows: estimated from a sample, bias-corrected
    assert sampled.fit_mmd2 == pytest.approx(sampled.mmd2_to_data(X), rel=0.3)


def test_corrupt_spec_file_raises_spec_error(tmp_path):
    np.savez(tmp_path / "bad.npz", Z=np.ones((3, 2)), beta=-np.ones(3), center=np.zeros(2), scale=np.ones(2),
             n=np.int64(3), gamma=np.float64(0.5))
    with pytest.raises(SpecError, match="beta must be >= 0"):
        RKMESpec.load(tmp_path / "bad.npz")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_data_rejected(X, bad):
    X2 = X.copy()
    X2[5, 1] = bad
    with pytest.raises(InvalidTaskDataError, match="NaN or inf"):
        RKMESpec.fit(X2)


def test_mmd_ranking_invariant_to_affine_change_of_units(beijing):
    sites = ["Aotizhongxin", "Changping", "Huairou", "Wanliu"]
    data = {s: impute_means(beijing[s]["X"]) for s in sites}
    rng = np.random.default_rng(7)
    a, b = rng.uniform(0.01, 100, size=data[sites[0]].shape[1]), rng.normal(0, 50, size=data[sites[0]].shape[1])

    def mmds(transform):
        specs = [RKMESpec.fit(transform(data[s][:600]), m=30) for s in sites]
        index = RKMEIndex.build(sites, specs)
        user = RKMESpec.fit(transform(data["Changping"][600:]), m=30)
        return index.mmd2(user, np.arange(len(sites)))

    raw, moved = mmds(lambda x: x), mmds(lambda x: x * a + b)
    np.testing.assert_allclose(moved, raw, rtol=1e-3, atol=1e-6)
    assert np.argmin(raw) == sites.index("Changping")


def test_embedding_distance_tracks_mmd(beijing):
    specs = [RKMESpec.fit(impute_means(beijing[s]["X"]), m=30) for s in ["Aotizhongxin", "Changping", "Huairou", "Wanliu"]]
    index = RKMEIndex.build(list("abcd"), specs)
    exact = index.mmd2(specs[0], np.arange(4))
    approx = ((index.embeddings - index.embeddings[0]) ** 2).sum(1)
    assert np.argsort(exact)[0] == np.argsort(approx)[0] == 0
    assert np.corrcoef(exact, approx)[0, 1] > 0.9


@pytest.mark.parametrize("site", ["Aotizhongxin", "Changping", "Huairou", "Wanliu"])
def test_specs_fitted_on_real_stations_pass_the_limits(beijing, site):
    """Every honest spec must pass ``validate``: the four stations, small and large reduced sets,
    with and without refinement, and on raw (unstandardised) units."""
    X = impute_means(beijing[site]["X"])
    for m, max_iter in ((5, 0), (100, 0), (40, 10)):
        RKMESpec.fit(X, m=m, max_iter=max_iter).validate()
    RKMESpec.fit(X[:50], m=100).validate()  # fewer rows than points: m is capped at n


def test_fit_refuses_what_would_break_the_limits(X):
    with pytest.raises(InvalidTaskDataError, match="limits"):
        RKMESpec.fit(X, m=rkme.MAX_REDUCED_POINTS + 1)
    with pytest.raises(InvalidTaskDataError, match="rescale"):
        RKMESpec.fit(X * 1e19, m=5)


def test_validate_names_the_field(X):
    spec = RKMESpec.fit(X, m=5)
    spec.n = 0
    with pytest.raises(SpecError, match="n must be an integer"):
        spec.validate()


@pytest.mark.parametrize("n_rows", [3, 40, 400, 1000])
def test_no_reduced_point_is_a_row_of_the_data(beijing, n_rows):
    """A spec leaves the owner's machine: each point is the mean of >= MIN_ROWS_PER_POINT rows, never
    a row itself (with 400 rows and m = 100, one-row k-means clusters used to hand out rows verbatim)."""
    X = impute_means(beijing["Wanliu"]["X"][:n_rows])
    spec = RKMESpec.fit(X, m=100)
    assert len(spec.Z) <= max(1, n_rows // rkme.MIN_ROWS_PER_POINT)
    distances = np.abs(spec.Z[:, None, :] - X[None, :, :]).max(axis=2)
    assert distances.min() > 1e-9
    spec.validate()
