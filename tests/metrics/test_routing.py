"""RouterBench and RouteLLM metrics: hand-checkable geometry, then real RouteLLM MMLU correctness."""

import numpy as np
import pytest

from modelreuse.datasets.importers.routing import IMPORTERS
from modelreuse.errors import RoutingDataError
from modelreuse.metrics import routing as rm
from tests.conftest import DATA


def test_hull_drops_dominated_and_concave_violating_points():
    # (cost, quality): (2, 0.5) lies under the chord (1,0.6)-(3,0.9); (4, 0.8) costs more for less
    hc, hq = rm.non_decreasing_convex_hull([1, 2, 3, 4, 1], [0.6, 0.5, 0.9, 0.8, 0.4])
    assert hc.tolist() == [1, 3] and hq.tolist() == [0.6, 0.9]


def test_aiq_integrates_the_hull_with_flat_ends():
    # hull (1, 0.6) -> (3, 0.9) over [0, 4]: 1 x 0.6 + 2 x 0.75 + 1 x 0.9 = 3.0, / 4
    assert rm.aiq([1, 3], [0.6, 0.9], 0.0, 4.0) == pytest.approx(0.75)
    with pytest.raises(RoutingDataError, match="c_max > c_min"):
        rm.aiq([1], [0.5], 1.0, 1.0)


def test_qnc_interpolates_along_the_hull():
    assert rm.qnc([1, 3], [0.6, 0.9], 0.75) == pytest.approx(2.0)
    assert rm.qnc([1, 3], [0.6, 0.9], 0.95) is None
    assert rm.qnc([1, 3], [0.6, 0.9], 0.5) == 1.0


@pytest.fixture(scope="module")
def mmlu():
    records = IMPORTERS.get("routellm_mmlu")(DATA)
    scores = records.scores()
    return scores[:, records.models.index("gpt-4-1106-preview")], scores[:, records.models.index("mixtral-8x7b-instruct")]


def test_random_routing_apgr_is_one_half_in_expectation(mmlu):
    strong, weak = mmlu
    rng = np.random.default_rng(0)
    values = [rm.apgr(rng.random(len(strong)), strong, weak) for _ in range(20)]
    assert np.mean(values) == pytest.approx(0.5, abs=0.01)


def test_optimal_router_bounds_and_pgr_end_points(mmlu):
    strong, weak = mmlu
    f, pgr = rm.pgr_curve(rm.optimal_strong_first(strong, weak), strong, weak)
    assert pgr[0] == 0.0 and pgr[-1] == pytest.approx(1.0)
    optimal = rm.apgr(rm.optimal_strong_first(strong, weak), strong, weak)
    # sending strong-wins first gives PGR > 1 in the middle: the optimal router beats the strong model
    assert optimal > 1.0 and pgr.max() > 1.0
    assert rm.cpt(rm.optimal_strong_first(strong, weak), strong, weak, 0.5) < 0.15
    worst = rm.apgr(-rm.optimal_strong_first(strong, weak), strong, weak)
    assert worst < 0.0 < 0.5 < optimal
