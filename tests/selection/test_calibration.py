import numpy as np

from modelreuse.selection.calibration import p_values
from modelreuse.task import Task
from tests.conftest import user_half


def test_gamma_p_values_order_and_range():
    rng = np.random.default_rng(0)
    null = rng.gamma(4.0, 0.001, size=200)
    p = p_values(np.array([0.0, np.mean(null), 0.05]), null)
    assert p[0] == 1.0 and 0.2 < p[1] < 0.8 and p[2] < 1e-6


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


def test_spec_only_search_has_no_p_values(filled_dock, beijing):
    dock, _ = filled_dock
    ranking = dock.search(Task(X=user_half(beijing, "Wanliu")[0]).rkme, k=2)
    assert "p_value" not in ranking[0].details and "nothing_fits" not in ranking.details
