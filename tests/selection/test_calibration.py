import numpy as np
import pytest
from scipy import stats

from modelreuse.selection.calibration import null_model, p_values
from modelreuse.task import Task
from tests.conftest import user_half


def test_gamma_p_values_order_and_range():
    p = p_values(np.array([0.0, 0.004, 0.05]), shape=4.0, mean=0.004)
    assert p[0] == 1.0 and 0.2 < p[1] < 0.8 and p[2] < 1e-6
    assert p_values(np.array([0.0, 1e-9]), shape=np.inf, mean=0.0).tolist() == [1.0, 0.0]


def test_null_shape_matches_simulated_mmd_on_real_rows(beijing):
    """The analytic Gamma null against MMD^2 between exact empirical embeddings of random splits
    of one station's real rows: the simulated 99th percentile must not lie above the null's."""
    from modelreuse.specs.kernels import gaussian_kernel
    from modelreuse.specs.rkme import RKMESpec
    from modelreuse.specs.rkme_index import RKMEIndex

    X = user_half(beijing, "Wanliu")[0]
    spec = RKMESpec.fit(X, m=100)
    index = RKMEIndex.build(["a"], [spec])
    null = null_model(X, spec)
    rng = np.random.default_rng(1)
    S = X / spec.scale
    draws = []
    for _ in range(200):
        a, b = np.split(rng.permutation(len(S))[:200], 2)
        Kaa, Kbb, Kab = (gaussian_kernel(S[i], S[j], index.gamma) for i, j in ((a, a), (b, b), (a, b)))
        draws.append(Kaa.mean() + Kbb.mean() - 2 * Kab.mean())
    mean = null.V * (1 / 100 + 1 / 100)
    assert np.mean(draws) == pytest.approx(mean, rel=0.15)
    assert np.quantile(draws, 0.99) <= stats.gamma.ppf(0.99, null.shape, scale=mean / null.shape) * 1.1


def test_in_dock_user_fits_and_out_of_dock_user_is_told_nothing_fits(filled_dock, beijing):
    dock, ids = filled_dock
    task = Task(X=user_half(beijing, "Huairou")[0], task_type="regression")
    inside = dock.search(task, k=4)
    assert inside[0].learnware_id == ids["Huairou"]
    assert inside[0].details["p_value"] > 0.05 and not inside.details["nothing_fits"]
    outside = dock.search(task, k=3, exclude=(ids["Huairou"],))
    assert ids["Huairou"] not in outside.ids
    assert outside.details["nothing_fits"], outside.to_dict()
    assert "does not fit" in outside[0].reason


def test_spec_only_search_is_calibrated_from_the_rkme(filled_dock, beijing):
    """A user who shares only the task RKME still gets p-values and abstention."""
    dock, ids = filled_dock
    spec = Task(X=user_half(beijing, "Wanliu")[0]).rkme
    inside = dock.search(spec, k=2)
    assert inside[0].learnware_id == ids["Wanliu"] and inside[0].details["p_value"] > 0.05
    outside = dock.search(spec, k=2, exclude=(ids["Wanliu"],))
    assert outside.details["nothing_fits"] and all(e.details["p_value"] < 0.01 for e in outside)
    uncalibrated = dock.search(spec, k=2, calibrate=False)
    assert "p_value" not in uncalibrated[0].details


def test_mixture_search_is_calibrated_as_a_whole(filled_dock, beijing):
    dock, ids = filled_dock
    rows = user_half(beijing, "Huairou")[0]
    inside = dock.search(Task(X=rows), method="mixture")
    assert inside.details["p_value"] > 0.05 and not inside.details["nothing_fits"]
    mirrored = rows * -1.0 + 2 * rows.mean(axis=0)  # real rows reflected through their mean: no station looks like this
    outside = dock.search(Task(X=mirrored), method="mixture")
    assert outside.details["nothing_fits"] and outside.details["p_value"] < 0.01
